"""Identifier spellings: TED publication numbers with or without padding or in the OJ S form, notice ids with or
without their version, are one key, so a procedure is found by any of them."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from tests import corpus_path
from tracker.db import session_scope
from tracker.documents import Document
from tracker.history import find_procedure
from tracker.linking import Buyers, buyers, buyers_of_record, collision_message, is_placeholder, may_merge
from tracker.models import Notice, Procedure
from tracker.parse import parse_document
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.store import normalise_key
from tracker.vocabulary import normalize_text


@pytest.mark.parametrize(
    "raw", ["41387-2024", "00041387-2024", "2024/S 015-041387", "2024/s 15-41387", " 041387-2024 "]
)
def test_ted_publication_numbers_are_one_key(raw: str) -> None:
    assert normalise_key("ted_pub", raw) == ("ted_pub", "41387-2024")


def test_notice_id_with_or_without_its_version() -> None:
    uuid = "c4c415ee-ac08-4465-8fa6-57568cf69462"
    assert normalise_key("notice_id", uuid.upper() + "-01") == ("notice_id", uuid)
    assert normalise_key("notice_id", uuid) == ("notice_id", uuid)
    assert normalise_key("procedure_uuid", uuid + "-01") == ("procedure_uuid", uuid + "-01")  # BT-04 is any text


@pytest.mark.corpus
def test_a_ted_notice_is_found_by_every_spelling(engine) -> None:
    ingest_documents(engine, documents_from_file(corpus_path("ted_eforms_real", "2024-OJS015-00041387.xml")))
    with session_scope(engine) as session:
        found = {
            ident: find_procedure(session, ident) for ident in ("41387-2024", "00041387-2024", "2024/S 015-041387")
        }
        assert all(found.values()) and len({p.id for p in found.values() if p}) == 1


# ---------------------------------------------------------------- ContractFolderID: the buyers must agree (pure)


@pytest.mark.parametrize(
    "value", ["not available", "Not Available", "xyz", "n/a", "N/A", "", "  ", "-", "000000", "123 456 789", None]
)
def test_placeholders_identify_no_one(value) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["24680067600016", "EU-PO", "ABE", "998298", "FR 200 071 587 00014", "VAT12341"])
def test_real_identifiers_are_no_placeholders(value) -> None:
    assert not is_placeholder(value)


def test_same_name_across_case_and_accents_agrees() -> None:
    known = buyers("Commissariat à l'énergie atomique et aux énergies alternatives", [])
    assert may_merge(known, buyers("COMMISSARIAT A L'ENERGIE ATOMIQUE ET AUX ENERGIES ALTERNATIVES"))
    assert not may_merge(known, buyers("Ministry of Defence"))


def test_same_identifier_agrees_whatever_the_names() -> None:
    known = buyers("Commune de Loches", ["200 071 587 00014"])
    assert may_merge(known, buyers("Mairie de Loches", ["20007158700014"]))


def test_placeholder_identifiers_never_agree() -> None:
    # the SDK examples: Rouen Habitat and HM Land Registry share the ContractFolderID and the stock id 123 456 789
    rouen = buyers("Rouen Habitat", ["123 456 789"])
    assert not may_merge(rouen, buyers("HM Land Registry", ["123 456 789"]))
    for stock in ("not available", "xyz", "n/a", ""):
        assert not may_merge(buyers("A", [stock]), buyers("B", [stock]))


def test_nothing_known_is_no_agreement() -> None:
    assert not may_merge(Buyers(), Buyers())
    assert not may_merge(buyers("Renfrewshire Council"), buyers(None, ["not available"]))
    assert not may_merge(buyers("n/a"), buyers("N/A"))


def test_a_procedure_of_several_buyers_agrees_with_any() -> None:
    known = buyers("Ville de Rennes", ["21350238800019"]) | buyers("Rennes Métropole", ["24350013900189"])
    assert may_merge(known, buyers("RENNES METROPOLE"))
    assert may_merge(known, buyers("Centre communal", ["21350238800019"]))


def test_buyers_of_a_stored_record() -> None:
    record = {"notice_id": "x-1", "buyer": "Rouen Habitat", "extra": {"buyer_ids": ["123 456 789", "R-77"]}}
    found = buyers_of_record(record)
    assert found.names == {"rouen habitat"} and found.ids == {"r77"} and found.notices == ("x-1",)
    assert buyers_of_record({"notice_id": "y", "buyer": None, "extra": {"buyer_ids": "oops"}}) == Buyers(
        notices=("y",)
    )


def test_collision_message_names_both_notices_and_buyers_inertly() -> None:
    message = collision_message(
        "e3cdabf1",
        "d1a2e651",
        buyers("HM Land\x1b[2J Registry", ["123 456 789"], "d1a2e651"),
        "da4d46e9",
        buyers("Rouen Habitat", [], "da4d46e9"),
    )
    assert "d1a2e651" in message and "da4d46e9" in message and "Rouen Habitat" in message
    assert "HM Land Registry" in message.replace("[2J ", "") and "\x1b" not in message


# ---------------------------------------------------------------- ContractFolderID in the linker (corpus)

SDK = "eforms_sdk_examples"
REAL_PAIRS = [
    ("cn_24_open.xml", "change-cn_24_open_dates.xml"),
    ("cn_24_cumbria.xml", "change-cn_24_cumbria_suppliers.xml"),
    ("cn_24_minimal.xml", "change-cn_24_void.xml"),
    ("sdk-1.0.0/cn_24_open.xml", "sdk-1.0.0/change-cn_24_open_dates.xml"),
]


def _sdk(*names: str) -> list[Document]:
    return [doc for name in names for doc in documents_from_file(corpus_path(SDK, name))]


def _procedure_of(engine, notice_id: str) -> tuple[int, str | None]:
    with session_scope(engine) as session:
        proc_id = session.execute(select(Notice.procedure_id).where(Notice.notice_id == notice_id)).scalar_one()
        proc = session.get(Procedure, proc_id)
        assert proc is not None
        return proc_id, proc.buyer


@pytest.mark.corpus
@pytest.mark.parametrize("batch_size", [1, 1000], ids=["one by one", "one batch"])
@pytest.mark.parametrize("reverse", [False, True], ids=["in order", "reversed"])
@pytest.mark.parametrize(
    ("first", "second"),
    [("cn_24_FRA_comments.xml", "cn_24_nego_accel.xml"), ("cn_81.xml", "cn_81_FRA.xml")],
    ids=["Rouen Habitat / HM Land Registry", "cn_81 pair"],
)
def test_a_shared_contract_folder_id_does_not_merge_other_buyers(
    engine, caplog, batch_size, reverse, first, second
) -> None:
    caplog.set_level(logging.WARNING, logger="tracker.store")
    ingest_documents(engine, _sdk(*((second, first) if reverse else (first, second))), batch_size=batch_size)
    (a,), (b,) = (parse_document(doc) for doc in _sdk(first, second))
    (pa, buyer_a), (pb, buyer_b) = _procedure_of(engine, a.notice_id), _procedure_of(engine, b.notice_id)
    assert pa != pb and (buyer_a, buyer_b) == (a.buyer, b.buyer)
    warned = [r.getMessage() for r in caplog.records if "ContractFolderID" in r.getMessage()]
    assert warned and all(a.notice_id in m and b.notice_id in m for m in warned)
    assert any(str(a.buyer) in m and str(b.buyer) in m for m in warned)


@pytest.mark.corpus
@pytest.mark.parametrize("reverse", [False, True], ids=["in order", "reversed"])
@pytest.mark.parametrize("pair", REAL_PAIRS, ids=lambda p: p[0])
def test_real_pairs_still_merge(engine, pair, reverse) -> None:
    ingest_documents(engine, _sdk(*(pair[::-1] if reverse else pair)), batch_size=1)
    snaps = [snap for doc in _sdk(*pair) for snap in parse_document(doc)]
    assert len({_procedure_of(engine, s.notice_id)[0] for s in snaps}) == 1


@pytest.mark.corpus
def test_the_same_buyer_joins_through_the_contract_folder_id_alone(engine) -> None:
    # can_24_FRA_comments (an award, no BT-758) names the ContractFolderID and buyer of cn_24_FRA_comments
    ingest_documents(engine, _sdk("cn_24_FRA_comments.xml", "cn_24_nego_accel.xml"), batch_size=1)
    ingest_documents(engine, _sdk("can_24_FRA_comments.xml"))
    (cn,), (can,), (other,) = (
        parse_document(d) for d in _sdk("cn_24_FRA_comments.xml", "can_24_FRA_comments.xml", "cn_24_nego_accel.xml")
    )
    assert _procedure_of(engine, cn.notice_id)[0] == _procedure_of(engine, can.notice_id)[0]
    assert _procedure_of(engine, other.notice_id)[0] != _procedure_of(engine, cn.notice_id)[0]


@pytest.mark.corpus
def test_every_sdk_example_together_merges_no_unrelated_buyers(engine) -> None:
    names = sorted(p.relative_to(corpus_path(SDK)).as_posix() for p in corpus_path(SDK).rglob("*.xml"))
    ingest_documents(engine, _sdk(*(n for n in names if not n.startswith("sdk-1.0.0/"))))
    with session_scope(engine) as session:
        rows = session.execute(select(Notice.procedure_id, Notice.record)).all()
    buyers_of: dict[int, set[str]] = {}
    for proc, record in rows:
        buyers_of.setdefault(proc, set()).add(normalize_text(record.get("buyer") or ""))
    assert all(len(names) == 1 for names in buyers_of.values()), buyers_of


@pytest.mark.corpus
def test_the_ods_eforms_award_keeps_its_link_and_contract_folder_id(engine) -> None:
    path = corpus_path("boamp_ods_eforms_era", "stage_2025_p001_first_record_24-145775_EFORMS_ATTRIBUTION.json")
    ingest_documents(engine, documents_from_file(path))
    with session_scope(engine) as session:
        proc = find_procedure(session, "24-80009")
        assert proc is not None and proc.id == _procedure_of(engine, "24-145775")[0]
        assert find_procedure(session, "7f27ebd4-684d-4892-ba9f-f74705c727a4") == proc
