"""Identifier spellings: TED publication numbers with or without padding or in the OJ S form, notice ids with or
without their version, are one key, so a procedure is found by any of them."""

from __future__ import annotations

import pytest

from tests import corpus_path
from tracker.db import session_scope
from tracker.history import find_procedure
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
