"""Identifier spellings: TED publication numbers with or without padding or in the OJ S form, notice ids with or
without their version, are one key, so a procedure is found by any of them."""

from __future__ import annotations

import pytest

from tests import corpus_path
from tracker.db import session_scope
from tracker.history import find_procedure
from tracker.linking import Buyers, buyers, buyers_of_record, collision_message, is_placeholder, may_merge
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.store import normalise_key


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
