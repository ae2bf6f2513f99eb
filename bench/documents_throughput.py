"""Documents per second: text extraction + field extraction over the seeds (text and PDF) and the corpus platform
pages, against the bare text extraction (PDF) and the bare HTML parse (pages) of the same bytes in the same run.

    .venv/bin/python bench/documents_throughput.py [--rounds 20]

Targets (issue 12): ≥ 50 PDF notices/s, ≥ 200 pages/s, field extraction within 2× of the bare extraction.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import corpus_path, seeds_path
from tests.test_documents import SEEDS, pdf_of
from tracker.documents import Document
from tracker.parse import parse_item
from tracker.parse.pdf import extract_text
from tracker.parse.platform import parse_page


def rate(label: str, count: int, run: Callable[[], None], rounds: int) -> float:
    """Documents per second over the best of ``rounds`` rounds (a busy machine slows some rounds, not the code)."""
    run()  # warm up (the extraction child, caches)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    per_second = count / best
    print(f"{label:<44} {per_second:10.1f} documents/s")
    return per_second


def pair(label: str, count: int, bare: Callable[[], None], full: Callable[[], None], rounds: int) -> float:
    """The bare and the full reading of the same documents, in alternating rounds; the ratio of their best times."""
    bare()
    full()
    best_bare = best_full = float("inf")
    for _ in range(rounds):
        for run, which in ((bare, "bare"), (full, "full")):
            started = time.perf_counter()
            run()
            took = time.perf_counter() - started
            if which == "bare":
                best_bare = min(best_bare, took)
            else:
                best_full = min(best_full, took)
    print(f"{label + ': bare':<44} {count / best_bare:10.1f} documents/s")
    print(f"{label + ': with fields':<44} {count / best_full:10.1f} documents/s")
    print(f"{label + ': fields / bare':<44} {best_full / best_bare:10.2f}x the time")
    return best_full / best_bare


def bare_pages(pages: list[bytes]) -> None:
    """The bare HTML parse of each page (each tree dropped before the next, as the full reading drops it)."""
    for content in pages:
        parse_page(bytes(bytearray(content)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    texts = {name: seeds_path(file).read_text(encoding="utf-8") for name, file in SEEDS.items()}
    pdfs = {name: pdf_of(text) for name, text in texts.items()}
    pages = [p.read_bytes() for p in sorted(corpus_path("buyer_platform_pages").glob("*.html"))]
    text_docs = [Document("bench", f"{n}.txt", t.encode(), "text/plain") for n, t in texts.items()]
    pdf_docs = [Document("bench", f"{n}.pdf", b, "application/pdf") for n, b in pdfs.items()]
    page_docs = [Document("bench", f"p{i}.html", b, "text/html") for i, b in enumerate(pages)]

    def parse_all(docs: list[Document]) -> Callable[[], None]:
        def run() -> None:
            for doc in docs:
                item = parse_item(doc)
                if item.error:
                    raise SystemExit(f"{doc.locator}: {item.error}")

        return run

    print(
        f"{len(text_docs)} seed texts, {len(pdf_docs)} seed PDFs ({sum(map(len, pdfs.values()))} bytes), "
        f"{len(pages)} pages"
    )
    pair(
        "PDF (all 4 seeds)",
        len(pdf_docs),
        lambda: [extract_text(b) for b in pdfs.values()] and None,
        parse_all(pdf_docs),
        args.rounds,
    )
    rate("text: fields", len(text_docs), parse_all(text_docs), args.rounds)
    # a round reads the pages 25 times over (in turn, so no round reuses the tree of the page before): a
    # round of 2 pages alone lasts a few milliseconds, which a busy machine's noise would swamp
    repeat = 25
    pair(
        "pages",
        len(pages) * repeat,
        lambda: bare_pages(pages * repeat),
        parse_all(page_docs * repeat),
        args.rounds,
    )
    notices = [d for d in pdf_docs if d.locator[:3] in ("000", "001")]
    notice_bytes = [d.content for d in notices]
    pair(
        "PDF notices (000, 001)",
        len(notices),
        lambda: [extract_text(b) for b in notice_bytes] and None,
        parse_all(notices),
        args.rounds,
    )


if __name__ == "__main__":
    main()
