"""One eForms procedure published through BOAMP (DILA flux, idweb) and TED (eForms XML): one timeline, each
version saying its source; the second copy of a notice makes no spurious change, and a date on which the two
copies disagree by more than a day is a ``sources_disagree`` change that reaches subscribers (issue 11 scope 6).
The eForms bodies are SDK examples of the corpus; the BOAMP copies are wrapped in the DILA envelope here."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import corpus_path
from tracker.consolidate import consolidate
from tracker.db import session_scope
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.match import classify, is_critical_change, naive_match
from tracker.notify.render import FORMATS, render_message
from tracker.outbox import version_event
from tracker.parse.base import XML
from tracker.pipeline import ingest_documents
from tracker.subscribers import Subscriber

OPEN, CHANGE = "cn_24_open.xml", "change-cn_24_open_dates.xml"
DEADLINE = "<cbc:EndDate>2020-04-03+01:00</cbc:EndDate>"


def body(sdk_file: str, *, deadline: str | None = None, notice_id: str | None = None) -> str:
    text = corpus_path("eforms_sdk_examples", sdk_file).read_text(encoding="utf-8")
    if notice_id is not None:  # another publication (BT-701) of the same procedure
        text = re.sub(r'(<cbc:ID schemeName="notice-id">)[^<]+', rf"\g<1>{notice_id}", text, count=1)
    if deadline is not None:
        assert DEADLINE in text
        text = text.replace(DEADLINE, f"<cbc:EndDate>{deadline}</cbc:EndDate>")
    return text


def ted(sdk_file: str, **edit: Any) -> Document:
    return Document("ted", f"ted/{sdk_file}", body(sdk_file, **edit).encode(), XML)


def boamp(idweb: str, nature: str, sdk_file: str, published: str, **edit: Any) -> Document:
    """The eForms notice as the DILA flux carries it: UBL rebased on ``urn:boamp:``, inside a 3.2.5 envelope."""
    inner = re.sub(r"<\?xml[^>]*\?>", "", body(sdk_file, **edit)).replace(
        "urn:oasis:names:specification:ubl:schema:xsd:", "urn:boamp:names:specification:ubl:schema:xsd:"
    )
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<jo:ann xmlns:jo="http://boamp.journal-officiel.gouv.fr/XML/3.2.5">
  <DONNEES><EFORMS>{inner}</EFORMS></DONNEES>
  <GESTION><REFERENCE><IDWEB>{idweb}</IDWEB><TYPE_AVIS><FAMILLE><JOUE/></FAMILLE>
    <NATURE><{nature}/></NATURE><STATUT><INITIAL/></STATUT></TYPE_AVIS></REFERENCE>
  <INDEXATION><SCHEMA>3.2.5</SCHEMA><DATE_PUBLICATION>{published}</DATE_PUBLICATION></INDEXATION></GESTION>
</jo:ann>"""
    return Document("boamp", f"boamp/{idweb}.xml", xml.encode(), XML)


def the_history(engine, ident: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        proc = find_procedure(session, ident)
        assert proc is not None
        return history(session, proc, lang="en")


def changed(version: dict[str, Any]) -> set[str]:
    return {c["field"] for c in version["changes"]}


# ---------------------------------------------------------------- one timeline


@pytest.mark.corpus
@pytest.mark.parametrize("reverse", [False, True], ids=["in order", "reversed"])
def test_boamp_and_ted_copies_are_one_timeline_without_spurious_changes(engine, reverse: bool) -> None:
    docs = [
        ted(OPEN),
        boamp("20-1001", "APPEL_OFFRE", OPEN, "2020-02-29"),
        ted(CHANGE),
        boamp("20-2002", "MODIFICATION", CHANGE, "2020-04-18"),
    ]
    ingest_documents(engine, docs[::-1] if reverse else docs, batch_size=1)
    h = the_history(engine, "20-1001")
    assert h == the_history(engine, "c4c415ee-ac08-4465-8fa6-57568cf69462")  # the TED notice id: the same one
    assert {"20-1001", "20-2002", "31f258b6-5eb2-4875-8997-affa3cdce27c"} <= set(h["procedure"]["identifiers"])
    # each copy restated by the other source adds nothing: v1 from TED, v2 the TED change notice
    assert [(v["source"], v["kind"]) for v in h["versions"]] == [("ted", "initial"), ("ted", "change")]
    assert changed(h["versions"][1]) >= {"tender_deadline", "opening_date"}
    assert "sources_disagree" not in {f for v in h["versions"] for f in changed(v)}


@pytest.mark.corpus
def test_copies_disagreeing_on_a_deadline_show_it_and_notify(engine) -> None:
    versions: list[int] = []
    docs = [ted(OPEN), boamp("20-1001", "APPEL_OFFRE", OPEN, "2020-02-29", deadline="2020-04-10+01:00")]
    ingest_documents(engine, docs, on_versions=versions.extend)
    h = the_history(engine, "20-1001")
    assert [(v["n"], v["source"], v["notice_id"]) for v in h["versions"]] == [
        (1, "ted", "c4c415ee-ac08-4465-8fa6-57568cf69462"),
        (2, "boamp", "20-1001"),
    ]
    (disagree,) = h["versions"][1]["changes"]
    assert (disagree["field"], disagree["section"], disagree["lot"]) == (
        "sources_disagree",
        "tender_deadline",
        "LOT-0000",
    )
    assert (disagree["old"], disagree["new"]) == ("2020-04-03T12:00+01:00", "2020-04-10T12:00+01:00")
    assert disagree["text"].startswith("Sources disagree (LOT-0000)") and "+7 days" in disagree["text"]
    assert "ted c4c415ee" in disagree["evidence"] and "boamp 20-1001" in disagree["evidence"]
    # the state stays as the first source gave it (which copy is right is not known)
    with session_scope(engine) as session:
        event = version_event(session, versions[-1])
        assert event is not None
        by_deadline, by_name = (
            Subscriber(name=name, urls=("json://127.0.0.1/x",), follow=("20-1001",), changes=(wanted,))
            for name, wanted in (("deadlines", "deadline_moved"), ("disagreements", "sources_disagree"))
        )
        match, named = naive_match([by_deadline, by_name], event)
    assert match.critical and match.reasons == ["follow:20-1001", "deadline_moved"]
    assert named.reasons == ["follow:20-1001", "sources_disagree"]
    assert [c["field"] for c in match.changes] == ["sources_disagree"]
    for fmt in FORMATS:
        assert "10/04/2020" in render_message(event, match, fmt=fmt).body


@pytest.mark.corpus
def test_a_later_change_still_diffs_against_the_first_copy(engine) -> None:
    docs = [
        ted(OPEN),
        boamp("20-1001", "APPEL_OFFRE", OPEN, "2020-02-29", deadline="2020-04-10+01:00"),
        boamp("20-2002", "MODIFICATION", CHANGE, "2020-04-17"),
        ted(CHANGE),
    ]
    ingest_documents(engine, docs)
    h = the_history(engine, "20-2002")
    assert [(v["source"], v["kind"]) for v in h["versions"]] == [
        ("ted", "initial"),
        ("boamp", "initial"),
        ("ted", "change"),
    ]
    deadline = next(c for c in h["versions"][2]["changes"] if c["field"] == "tender_deadline")
    assert (deadline["old"], deadline["new"]) == ("2020-04-03T12:00+01:00", "2020-06-12T12:00+01:00")


@pytest.mark.corpus
def test_boamp_and_ted_meet_through_contract_folder_id_and_buyer(engine) -> None:
    """A BOAMP notice of its own (another BT-701) with the TED notice's ContractFolderID and buyer: one procedure,
    its dates diffed as usual."""
    other = "0d5e7a38-3c2f-4c1e-9d65-6a1f0e3b2a11"
    docs = [
        ted(OPEN),
        boamp("20-1001", "APPEL_OFFRE", OPEN, "2020-03-05", notice_id=other, deadline="2020-04-10+01:00"),
    ]
    ingest_documents(engine, docs, batch_size=1)
    h = the_history(engine, "c4c415ee-ac08-4465-8fa6-57568cf69462")
    assert [(v["source"], v["notice_id"]) for v in h["versions"]] == [
        ("ted", "c4c415ee-ac08-4465-8fa6-57568cf69462"),
        ("boamp", "20-1001"),
    ]
    assert [c["field"] for c in h["versions"][1]["changes"]] == ["tender_deadline"]


# ---------------------------------------------------------------- pure: consolidation and change names


def _record(source: str, notice_id: str, published: str, deadline: str) -> dict[str, Any]:
    return {
        "source": source,
        "notice_id": notice_id,
        "kind": "initial",
        "published": published,
        "identifiers": [["notice_id", "c4c415ee-ac08-4465-8fa6-57568cf69462-01"]],
        "title": "T",
        "buyer": "B",
        "fields": {"status": "open"},
        "lots": {"LOT-1": {"tender_deadline": deadline}},
    }


@pytest.mark.parametrize(
    ("other", "disagrees"),
    [("2026-02-17T12:00+01:00", False), ("2026-02-18T11:00+01:00", False), ("2026-02-24T12:00+01:00", True)],
)
def test_a_day_apart_is_no_disagreement(other: str, disagrees: bool) -> None:
    first = _record("ted", "100-2026", "2026-01-10", "2026-02-17T12:00+01:00")
    second = _record("boamp", "26-5", "2026-01-11", other) | {"title": "T (BOAMP)", "cpv": ["45000000"]}
    (_, v1), (_, v2) = consolidate([second, first])  # any order of arrival
    assert v1 is not None and v1.source == "ted"
    if not disagrees:
        assert v2 is None  # the title and CPV of the copy are no change
        return
    assert v2 is not None and v2.state == v1.state
    assert [(c["field"], c["lot"], c["old"], c["new"]) for c in v2.changes] == [
        ("sources_disagree", "LOT-1", "2026-02-17T12:00+01:00", other)
    ]


def test_the_same_source_republishing_is_diffed_as_usual() -> None:
    first = _record("ted", "100-2026", "2026-01-10", "2026-02-17T12:00+01:00")
    again = _record("ted", "101-2026", "2026-01-20", "2026-02-24T12:00+01:00")
    (_, _v1), (_, v2) = consolidate([first, again])
    assert v2 is not None and [c["field"] for c in v2.changes] == ["tender_deadline"]


def test_sources_disagree_has_its_name_and_passes_a_deadline_filter() -> None:
    on_deadline = {"field": "sources_disagree", "lot": None, "old": "2026-02-17", "new": "2026-02-24"}
    assert classify(on_deadline | {"section": "tender_deadline"}) == {"sources_disagree", "deadline_moved"}
    assert is_critical_change(on_deadline | {"section": "tender_deadline"})
    assert classify(on_deadline | {"section": "start_date"}) == {"sources_disagree"}
    assert not is_critical_change(on_deadline | {"section": "start_date"})
