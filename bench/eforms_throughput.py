"""eForms parse throughput: every corpus eForms XML (SDK examples, real TED notices) read into snapshots.

    .venv/bin/python bench/eforms_throughput.py [--seconds 3] [--corpus ../shared/corpus]

Prints documents/s and MB/s of the whole parse (safe XML parse, pruned tree conversion, eForms normalisation
into a :class:`~tracker.notice.NoticeSnapshot`, announced dates included) and, in the same run on the same bytes,
of a bare ``lxml.etree.fromstring``: the floor. Rounds of the two alternate and the best round of each counts, so
a busy machine slows both alike. Target (issue 11): >= 2,000 documents/s, within 3x of the bare parse.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.parse.eforms import eforms_xml_to_dict, snapshot_from_eforms  # noqa: E402


def corpus_files(corpus: Path) -> list[Path]:
    return sorted([*corpus.glob("eforms_sdk_examples/**/*.xml"), *corpus.glob("ted_eforms_real/**/*.xml")])


def rates(fns: dict[str, Callable[[bytes], object]], data: list[bytes], seconds: float) -> dict[str, float]:
    """Documents/s of each function over ``data``: rounds of each in turn for at least ``seconds`` in all, the
    best round of each kept, so a busy machine slows both sides alike rather than whichever ran second."""
    best = dict.fromkeys(fns, float("inf"))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or any(v == float("inf") for v in best.values()):
        for name, fn in fns.items():
            began = time.perf_counter()
            for content in data:
                fn(content)
            best[name] = min(best[name], time.perf_counter() - began)
    return {name: len(data) / elapsed for name, elapsed in best.items()}


def full_parse(content: bytes) -> object:
    """What the eForms parser of the registry does: safe parse, pruned conversion, normalisation."""
    root, tree = eforms_xml_to_dict(content)
    return snapshot_from_eforms(root, tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("TRACKER_SHARED_DIR") or ROOT.parent / "shared") / "corpus"
    parser.add_argument("--corpus", type=Path, default=default)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    files = corpus_files(args.corpus)
    if not files:
        print(f"no eForms XML under {args.corpus}", file=sys.stderr)
        return 1
    data = [f.read_bytes() for f in files]
    print(f"{len(files)} eForms XML files, {sum(map(len, data)) / 1e6:.2f} MB")
    mb_per_doc = sum(map(len, data)) / len(data) / 1e6
    measured = rates({"bare": etree.fromstring, "full": full_parse}, data, 2 * args.seconds)
    bare_docs, full_docs = measured["bare"], measured["full"]
    bare_mb, full_mb = bare_docs * mb_per_doc, full_docs * mb_per_doc
    print(f"bare lxml.etree.fromstring  {bare_docs:8.0f} documents/s  {bare_mb:7.1f} MB/s")
    print(f"parse + normalise           {full_docs:8.0f} documents/s  {full_mb:7.1f} MB/s")
    print(f"ratio to the bare parse     {bare_docs / full_docs:8.2f}x  (target: >= 2,000 documents/s, <= 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
