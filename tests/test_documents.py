"""Documents: BOAMP notices and règlements de consultation, as text and as PDF (real PDFs written from the seed
texts), through the parser registry, ``tracker ingest`` and bounded PDF extraction."""

from __future__ import annotations

import contextlib
import io
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from tests import seeds_path
from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.history import find_procedure, history
from tracker.parse import parse_item, parser_for
from tracker.parse.doctext import french_number, normalise_clock, plain_lines
from tracker.parse.notice_text import parse_notice_text
from tracker.parse.pdf import PdfExtractor
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
SEEDS = {
    "000": "000_ebd4ca7beefc5e73.txt",
    "001": "001_886e258503820caa.txt",
    "002": "002_54708d747f76272a.txt",
    "004": "004_a8f1274e56c12782.txt",
}
_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def seed_text(name: str) -> str:
    return seeds_path(SEEDS[name]).read_text(encoding="utf-8")


def pdf_of(text: str) -> bytes:
    """A real PDF whose text layer is the seed's plain lines (wrapped as a printed page wraps them)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    if _FONT.exists():
        pdf.add_font("DejaVu", "", str(_FONT))
        pdf.set_font("DejaVu", size=9)
    else:
        pdf.set_font("Helvetica", size=9)
        text = text.encode("latin-1", "replace").decode("latin-1")
    for line in plain_lines(text):
        if line:
            pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(2)
    return bytes(pdf.output())


@pytest.fixture(scope="module")
def seed_pdfs() -> dict[str, bytes]:
    return {name: pdf_of(seed_text(name)) for name in SEEDS}


def pdf_document(content: bytes, name: str) -> Document:
    return Document(source="docs", locator=f"{name}.pdf", content=content, media_type="application/pdf")


# ---------------------------------------------------------------- the seeds' facts


def check_seed_000(snap) -> None:
    assert snap.kind == "rectificatif" and snap.restatement is False
    assert snap.notice_id == "26-15766"
    assert ("procedure_uuid", "47316d2e-55e6-4639-9b88-debe2f11066a") in snap.identifiers
    assert ("idweb", "26-15766") in snap.identifiers
    assert ("notice_id", "033855a4-ac20-4d84-b6a1-646e48ba05ec") in snap.links
    assert snap.buyer == "Métropole Aix-Marseille-Provence"
    typed = {(a.field, a.lot): (a.old, a.new) for a in snap.amendments}
    assert typed[("tender_deadline", "LOT-0001")] == (
        datetime(2026, 2, 17, 12, 0, tzinfo=CET),
        datetime(2026, 2, 24, 12, 0, tzinfo=CET),
    )
    assert typed[("start_date", "LOT-0001")] == (date(2026, 3, 13), date(2026, 6, 1))
    assert snap.lots["LOT-0001"]["estimated_value"] == Decimal("659764")
    assert snap.lots["LOT-0001"]["offer_validity"] == "P120D"


def check_seed_001(snap) -> None:
    assert snap.kind == "initial" and snap.notice_id == "26-16132"
    assert snap.cpv == ["72600000", "72266000"]
    assert sorted(snap.lots) == ["LOT-0001", "LOT-0002", "LOT-0003"]
    values = {"LOT-0001": (5, 10), "LOT-0002": (3, 6), "LOT-0003": (4, 8)}
    for lot, (estimated, maximum) in values.items():
        data = snap.lots[lot]
        assert data["tender_deadline"] == datetime(2026, 3, 23, 16, 0, tzinfo=CET)
        assert data["start_date"] == date(2026, 4, 15)
        assert data["end_date"] == date(2030, 1, 6)
        assert data["estimated_value"] == Decimal(estimated * 1_000_000)
        assert data["max_value"] == Decimal(maximum * 1_000_000)


def check_seed_002(snap) -> None:
    assert snap.notice_id.startswith("725A131#")
    assert snap.fields["tender_deadline"] == datetime(2025, 5, 19, 12, 0, tzinfo=CEST)
    assert snap.fields["start_date"] == date(2025, 6, 1)
    assert snap.fields["max_value"] == Decimal("90000")
    assert snap.extra["max_value_tax"] == "HT"
    assert snap.fields["offer_validity"] == "P6M"
    assert snap.extra["site_visit"] == "facultative"
    assert "site_visit" not in snap.fields  # no date is given for it
    assert snap.extra["platform_url"].startswith("https://marchespublics.ampmetropole.fr")
    assert snap.lots == {}


def check_seed_004(snap) -> None:
    assert snap.notice_id.startswith("SGCDN-SFA-2025-3#")
    assert snap.fields["tender_deadline"] == datetime(2025, 11, 14, 12, 0, tzinfo=CET)
    assert sorted(snap.lots) == ["1", "2"]
    assert snap.lots["1"]["title"] == "Défense en contentieux administratif"
    assert snap.fields["max_value"] == Decimal("3000000")
    assert snap.extra["max_value_tax"] == "TTC"
    assert snap.fields["offer_validity"] == "P120D"  # "cent-vingt jours"


CHECKS = {"000": check_seed_000, "001": check_seed_001, "002": check_seed_002, "004": check_seed_004}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_text_through_the_registry(name):
    doc = Document(source="docs", locator=SEEDS[name], content=seed_text(name).encode(), media_type="text/plain")
    item = parse_item(doc)
    assert item.error is None, item.error
    [snap] = item.snapshots
    CHECKS[name](snap)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_pdf_through_the_registry(name, seed_pdfs):
    doc = pdf_document(seed_pdfs[name], name)
    assert parser_for(doc).kind == "pdf"
    item = parse_item(doc)
    assert item.error is None, item.error
    [snap] = item.snapshots
    CHECKS[name](snap)


def test_markdown_and_plain_text_read_alike():
    text = seed_text("000")
    plain = "\n".join(plain_lines(text))
    assert parse_notice_text(plain).amendments == parse_notice_text(text).amendments


def test_french_forms():
    assert normalise_clock("le 19/05/2025 avant 12 :00 :00") == "le 19/05/2025 avant 12:00"
    assert french_number("cent-vingt") == 120
    assert french_number("quatre-vingt-dix") == 90
    assert french_number("soixante et onze") == 71
    assert french_number("beaucoup") is None


def test_a_rectificatif_without_statements_still_states_a_change():
    text = seed_text("000").split("## 10.1 Modification")[0]
    snap = parse_notice_text(text)
    assert snap.kind == "rectificatif" and [a.field for a in snap.amendments] == ["text"]


def test_untyped_modification_is_kept_as_text():
    text = seed_text("000").replace(
        "Date et heure limites de réception des plis : le 24/02/2026",
        "Les pièces du DCE ont été complétées. Date et heure limites de réception des plis : le 24/02/2026",
    )
    snap = parse_notice_text(text)
    fields = [a.field for a in snap.amendments]
    assert "tender_deadline" in fields and "text" in fields


def test_unknown_text_is_refused():
    doc = Document(source="docs", locator="x.txt", content=b"hello, nothing here", media_type="text/plain")
    assert parse_item(doc).error


# ---------------------------------------------------------------- tracker ingest and history


def test_ingest_text_and_pdf_seeds(engine, tmp_path, seed_pdfs):
    for name in SEEDS:
        (tmp_path / f"{name}.txt").write_text(seed_text(name), encoding="utf-8")
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "000.pdf").write_bytes(seed_pdfs["000"])
    docs = [d for path in sorted(tmp_path.glob("*.txt")) for d in documents_from_file(path)]
    docs += list(documents_from_file(tmp_path / "pdf" / "000.pdf"))
    stats = ingest_documents(engine, docs)
    assert stats.quarantined == 0 and stats.stored == 5
    with Session(engine) as session:
        proc = find_procedure(session, "47316d2e-55e6-4639-9b88-debe2f11066a")
        assert proc is not None
        data = history(session, proc)
    changes = {(c["field"], c["lot"]): (c["old"], c["new"]) for v in data["versions"] for c in v["changes"]}
    assert changes[("tender_deadline", "LOT-0001")] == ("2026-02-17T12:00+01:00", "2026-02-24T12:00+01:00")
    assert changes[("start_date", "LOT-0001")] == ("2026-03-13", "2026-06-01")


# ---------------------------------------------------------------- bounded extraction


def _nested_pdf(depth: int) -> bytes:
    """A PDF whose one object nests arrays ``depth`` deep."""
    body = b"[" * depth + b"]" * depth
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Deep " + body + b" >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]
    return _assemble(objects)


def _huge_page_tree(count: int) -> bytes:
    """A page tree claiming ``count`` pages, all the same page object."""
    kids = b" ".join(b"3 0 R" for _ in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(count).encode() + b" >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    return _assemble(objects)


def _assemble(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


@pytest.fixture
def extractor():
    ex = PdfExtractor(timeout=5, max_pages=500, memory=512 * 1024 * 1024)
    yield ex
    ex.close()


def test_deeply_nested_pdf_is_refused_in_time(extractor):
    """The nesting bomb is read in bounded time to nothing (or refused), and its document quarantined."""
    started = time.monotonic()
    try:
        text = extractor.extract(_nested_pdf(200_000))
    except ParseError:
        text = ""
    assert time.monotonic() - started < 10
    assert not text.strip()
    item = parse_item(Document("test", "bomb.pdf", _nested_pdf(200_000), "application/pdf"))
    assert item.error and not item.snapshots


def test_huge_page_count_is_refused(extractor):
    started = time.monotonic()
    with pytest.raises(ParseError, match=r"too many pages|quarantined|refused"):
        extractor.extract(_huge_page_tree(100_000))
    assert time.monotonic() - started < 10


def test_extractor_survives_a_hostile_pdf(extractor, seed_pdfs):
    with contextlib.suppress(ParseError):
        extractor.extract(_nested_pdf(200_000))
    with pytest.raises(ParseError):
        extractor.extract(b"%PDF-1.7\n" + b"\x00" * 4096)  # no document at all
    assert "26-15766" in extractor.extract(seed_pdfs["000"])


def test_a_hung_extraction_is_killed_and_the_next_one_works(seed_pdfs):
    ex = PdfExtractor(timeout=0.001)
    try:
        with pytest.raises(ParseError, match="quarantined"):
            ex.extract(seed_pdfs["001"])
        ex.timeout = 10
        assert "26-16132" in ex.extract(seed_pdfs["001"])
    finally:
        ex.close()


def test_pdf_bomb_is_quarantined_by_ingest(engine):
    doc = pdf_document(_nested_pdf(200_000), "bomb")
    stats = ingest_documents(engine, [doc])
    assert stats.quarantined == 1


def test_not_a_pdf_is_refused(extractor):
    with pytest.raises(ParseError, match="not a PDF"):
        extractor.extract(b"<html></html>")
