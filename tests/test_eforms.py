"""eForms notice (dict tree) → NoticeSnapshot, on real SDK examples, real TED notices and a BOAMP ODS record."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import corpus_path, shared_dir
from tracker.exceptions import ParseError
from tracker.notice import KINDS, STATUSES, TRACKED_FIELDS, NoticeSnapshot
from tracker.parse.eforms import as_list, eforms_xml_to_dict, snapshot_from_eforms, unpad_publication_number
from tracker.parse.xmltree import xml_to_dict

corpus = pytest.mark.corpus

PLUS_1 = timezone(timedelta(hours=1))
PLUS_2 = timezone(timedelta(hours=2))
ODS_RECORD = "stage_2025_p001_first_record_24-145775_EFORMS_ATTRIBUTION.json"


def load(*parts: str) -> tuple[str, dict[str, Any]]:
    root, tree = xml_to_dict(corpus_path(*parts).read_bytes())
    assert isinstance(tree, dict)
    return root, tree


def snap(*parts: str, **kwargs: Any) -> NoticeSnapshot:
    root, tree = load(*parts)
    return snapshot_from_eforms(root, tree, **kwargs)


def sdk(name: str) -> NoticeSnapshot:
    return snap("eforms_sdk_examples", name)


def ods_notice() -> tuple[str, dict[str, Any], dict[str, Any]]:
    page = json.loads(corpus_path("boamp_ods_eforms_era", ODS_RECORD).read_text(encoding="utf-8"))
    record = page["results"][0]
    eforms = json.loads(record["donnees"])["EFORMS"]
    (root, tree), *_ = eforms.items()
    return root, tree, record


def all_xml_files() -> list[Path]:
    corpus = shared_dir() / "corpus"
    files = [*corpus.glob("eforms_sdk_examples/**/*.xml"), *corpus.glob("ted_eforms_real/**/*.xml")]
    return sorted(files)


# ---------------------------------------------------------------- the SDK original / change pair


@corpus
def test_sdk_pair_same_procedure_and_link() -> None:
    original = sdk("cn_24_open.xml")
    change = sdk("change-cn_24_open_dates.xml")
    assert original.kind == "initial"
    assert change.kind == "change"
    proc = ("procedure_uuid", "31f258b6-5eb2-4875-8997-affa3cdce27c")
    assert proc in original.identifiers
    assert proc in change.identifiers
    assert ("notice_id", "c4c415ee-ac08-4465-8fa6-57568cf69462") in original.identifiers
    assert change.links == [("notice_id", "c4c415ee-ac08-4465-8fa6-57568cf69462")]
    assert original.links == []
    assert change.restatement is True
    assert change.amendments == []


@corpus
def test_sdk_pair_deadline_and_opening_move() -> None:
    before = sdk("cn_24_open.xml").lots["LOT-0000"]
    after = sdk("change-cn_24_open_dates.xml").lots["LOT-0000"]
    assert before["tender_deadline"] == datetime(2020, 4, 3, 12, 0, tzinfo=PLUS_1)
    assert after["tender_deadline"] == datetime(2020, 6, 12, 12, 0, tzinfo=PLUS_1)
    assert before["opening_date"] == datetime(2020, 4, 3, 14, 0, tzinfo=PLUS_1)
    assert after["opening_date"] == datetime(2020, 6, 12, 14, 0, tzinfo=PLUS_1)
    # untouched fields stay equal
    for key in ("start_date", "duration", "documents_url", "submission_url", "title"):
        assert before[key] == after[key]
    assert after["start_date"] == date(2020, 9, 1)
    assert after["duration"] == "P36M"


@corpus
def test_sdk_change_reason_and_descriptions() -> None:
    change = sdk("change-cn_24_open_dates.xml")
    assert change.reason is not None
    assert change.reason.startswith("Due to Covid-19")
    assert change.extra["reason_code"] == "update-add"
    assert change.extra["notice_version"] == "01"
    assert change.extra["subtype"] == "16"
    assert change.extra["change_descriptions"] == [
        {"section": "LOT-0000", "text": "Time limit for receipt of tenders or requests to participate"},
        {"section": "LOT-0000", "text": "Conditions for opening of tenders"},
    ]
    assert change.published == date(2020, 4, 17)
    assert change.notice_id == "71397268-6c47-4f2f-8ab0-f41a26138f81"


@corpus
def test_procedure_level_fields_do_not_duplicate_the_single_lot() -> None:
    snapshot = sdk("cn_24_open.xml")
    assert snapshot.fields == {"estimated_value": Decimal("500000"), "status": "open"}
    assert list(snapshot.lots) == ["LOT-0000"]
    assert snapshot.title is not None
    assert snapshot.title.startswith("Term Contract")
    assert snapshot.buyer == "Renfrewshire Council"
    assert snapshot.cpv == ["71630000"]
    assert ("buyer_ref", "RC-CPU-19-065") in snapshot.identifiers


@corpus
def test_sdk_1_0_old_style_change_notice() -> None:
    """SDK 1.0: NoticeTypeCode listName="change" "corr", BT-13716 directly under efac:Change."""
    change = sdk("sdk-1.0.0/change-cn_24_open_dates.xml")
    assert change.kind == "change"
    assert change.extra["notice_type"] == "corr"
    assert [d["section"] for d in change.extra["change_descriptions"]] == ["LOT-0000", "LOT-0000"]
    assert change.lots["LOT-0000"]["tender_deadline"] == datetime(2020, 6, 12, 12, 0, tzinfo=PLUS_1)


@corpus
def test_documents_changed_flags() -> None:
    change = sdk("change-cn_24_cumbria_suppliers.xml")
    assert change.extra["reason_code"] == "cor-buy"
    assert change.extra["documents_changed"] is True
    assert change.extra["documents_change_date"] == "2020-04-14"
    assert ("notice_id", "6bc75979-ce6c-46eb-81a6-eee543697dec") in change.links


# ---------------------------------------------------------------- kinds


@corpus
def test_cancellation() -> None:
    void = sdk("change-cn_24_void.xml")
    assert void.kind == "cancellation"
    assert void.fields["status"] == "cancelled"
    assert void.extra["reason_code"] == "cancel"
    assert void.links == [("notice_id", "f42be27e-09cf-4f0e-a745-63ec689631e6")]


@corpus
def test_award() -> None:
    award = sdk("can_24_minimal.xml")
    assert award.kind == "award"
    assert award.fields["status"] == "awarded"


@corpus
def test_contract_modification_is_other_and_not_a_change_link() -> None:
    modif = sdk("can-modif_24_value.xml")
    assert modif.kind == "other"
    assert "reason_code" not in modif.extra  # BT-140 only comes from efac:Changes
    assert modif.reason is None
    # BT-1501 (efac:ContractModification) refers to the modified contract's notice
    assert modif.links == [("ted_pub", "342558-2018")]


@corpus
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("cn_24_minimal.xml", "initial"),
        ("pin-only_24.xml", "initial"),
        ("can_81_FRA.xml", "award"),
        ("E4_minimal.xml", "award"),
        ("can-modif_23.xml", "other"),
    ],
)
@corpus
def test_kinds_of_sdk_examples(name: str, kind: str) -> None:
    assert sdk(name).kind == kind


# ---------------------------------------------------------------- real TED notices


@corpus
def test_real_french_notice_two_lots() -> None:
    snapshot = snap("ted_eforms_real", "2024-OJS017-00047522.xml")
    assert snapshot.kind == "initial"
    assert snapshot.buyer == "Communauté de Communes du Piémont Cévenol"
    assert sorted(snapshot.lots) == ["LOT-0001", "LOT-0002"]
    for lot in snapshot.lots.values():
        deadline = lot["tender_deadline"]
        assert deadline == datetime(2024, 2, 28, 12, 0, tzinfo=PLUS_2)
        assert deadline.utcoffset() == timedelta(hours=2)  # the offset as given, not CET
        assert lot["title"]
    assert ("ted_pub", "47522-2024") in snapshot.identifiers
    assert snapshot.notice_id == "47522-2024"
    assert "FRJ12" in snapshot.nuts
    assert snapshot.departments == []


@corpus
def test_real_polish_change_by_publication_number() -> None:
    change = snap("ted_eforms_real", "ted_rdf_pipeline_samples", "sdkv1.10_sub17_740039-2023.xml")
    assert change.kind == "change"
    assert change.links == [("ted_pub", "711911-2023")]
    assert change.notice_id == "740039-2023"  # efac:Publication is present
    assert ("ted_pub", "740039-2023") in change.identifiers
    assert ("notice_id", "9d57973d-aec4-4305-90a3-f8b6818b1538") in change.identifiers
    assert change.published == date(2023, 12, 6)  # OPP-012, not the IssueDate 2023-12-05
    assert change.extra["reason_code"] == "cor-buy"
    assert change.reason is not None
    assert "2023-12-12 12:30" in change.reason
    # the body still says 2023-12-08: the free text is the only trace of the new deadline
    assert change.lots["LOT-0001"]["tender_deadline"] == datetime(2023, 12, 8, 12, 30, tzinfo=PLUS_1)


@corpus
def test_caller_notice_id_and_published_win() -> None:
    change = snap(
        "ted_eforms_real",
        "ted_rdf_pipeline_samples",
        "sdkv1.10_sub17_740039-2023.xml",
        notice_id="X-1",
        published=date(2024, 1, 1),
        source="other",
    )
    assert (change.notice_id, change.published, change.source) == ("X-1", date(2024, 1, 1), "other")


@corpus
def test_real_change_without_bt758_has_no_link() -> None:
    change = snap("ted_eforms_real", "ted_rdf_pipeline_samples", "sdkv1.3_sub17_291858-2023.xml")
    assert change.kind == "change"
    assert change.links == []


# ---------------------------------------------------------------- BOAMP ODS eForms record


@corpus
def test_boamp_ods_eforms_award_record() -> None:
    root, tree, record = ods_notice()
    assert root == "ContractAwardNotice"
    snapshot = snapshot_from_eforms(root, tree, source="boamp", notice_id=record["idweb"])
    assert snapshot.kind == "award"
    assert snapshot.source == "boamp"
    assert snapshot.notice_id == "24-145775"
    assert ("procedure_uuid", "7f27ebd4-684d-4892-ba9f-f74705c727a4") in snapshot.identifiers
    assert ("notice_id", "5afd256b-4eab-4ce7-b9e9-d370ab3eb45e") in snapshot.identifiers
    assert snapshot.buyer == "SEMITAN, mandataire de Nantes Métropole"
    assert snapshot.cpv == ["45234160"]
    assert snapshot.nuts == ["FRG01"]
    assert snapshot.fields["status"] == "awarded"
    assert list(snapshot.lots) == ["LOT-0000"]
    assert snapshot.extra["subtype"] == "30"


# ---------------------------------------------------------------- robustness over the whole corpus


@corpus
@pytest.mark.parametrize("path", all_xml_files(), ids=lambda p: p.relative_to(shared_dir() / "corpus").as_posix())
def test_every_corpus_xml_parses(path: Path) -> None:
    root, tree = xml_to_dict(path.read_bytes())
    snapshot = snapshot_from_eforms(root, tree)
    assert snapshot.kind in KINDS
    assert snapshot.fields["status"] in STATUSES
    assert snapshot.notice_id
    assert snapshot.restatement is True
    for lot_id, lot in snapshot.lots.items():
        assert lot_id.startswith("LOT-")
        assert set(lot) <= {"title", *TRACKED_FIELDS}
        assert None not in lot.values()
        for key in ("tender_deadline", "request_deadline", "questions_deadline", "opening_date"):
            if isinstance(lot.get(key), datetime):
                assert lot[key].tzinfo is not None


@corpus
@pytest.mark.parametrize("path", all_xml_files(), ids=lambda p: p.relative_to(shared_dir() / "corpus").as_posix())
def test_pruned_conversion_reads_the_same_notice(path: Path) -> None:
    """EFORMS_KEEP names every element the reader reads: the pruned tree gives the very same snapshot."""
    data = path.read_bytes()
    assert snapshot_from_eforms(*eforms_xml_to_dict(data)) == snapshot_from_eforms(*xml_to_dict(data))


@corpus
def test_corpus_is_not_empty() -> None:
    corpus_path("eforms_sdk_examples")
    assert len(all_xml_files()) >= 40


@corpus
def test_input_tree_is_not_mutated() -> None:
    for parts in (
        ("eforms_sdk_examples", "change-cn_24_open_dates.xml"),
        ("ted_eforms_real", "2024-OJS017-00047522.xml"),
    ):
        root, tree = load(*parts)
        before = copy.deepcopy(tree)
        snapshot_from_eforms(root, tree)
        assert tree == before
    root, ods_tree, _ = ods_notice()
    before = copy.deepcopy(ods_tree)
    snapshot_from_eforms(root, ods_tree)
    assert ods_tree == before


# ---------------------------------------------------------------- hand-made odd shapes (no corpus needed)


def test_oddly_shaped_tree_never_raises() -> None:
    tree: dict[str, Any] = {
        "cbc:ID": [{"@schemeName": "notice-id", "#text": "11111111-2222-4333-8444-555555555555"}, 3],
        "cbc:ContractFolderID": None,
        "ext:UBLExtensions": ["junk", {"ext:UBLExtension": {"ext:ExtensionContent": "nothing"}}],
        "cac:ProcurementProject": [None, {"cbc:Name": [{"@languageID": "ENG"}, 12]}],
        "cac:ProcurementProjectLot": [
            "junk",
            {"cbc:ID": {"@schemeName": "Lot", "#text": "LOT-0001"}, "cac:TenderingProcess": [1, "x"]},
            {"cbc:ID": {"@schemeName": "Part", "#text": "PAR-0001"}},
            {"cbc:ID": "LOT-0002", "cac:ProcurementProject": {"cac:PlannedPeriod": {"cbc:DurationMeasure": "x"}}},
        ],
        "cac:ContractingParty": "nobody",
    }
    snapshot = snapshot_from_eforms("efx:ContractNotice", tree)
    assert snapshot.kind == "initial"
    assert snapshot.notice_id == "11111111-2222-4333-8444-555555555555"
    assert snapshot.title == "12"
    assert set(snapshot.lots) == {"LOT-0001", "LOT-0002"}
    assert snapshot.lots["LOT-0002"] == {}


def test_unparseable_values_are_skipped() -> None:
    lot = {
        "cbc:ID": {"@schemeName": "Lot", "#text": "LOT-0001"},
        "cac:TenderingProcess": {
            "cac:TenderSubmissionDeadlinePeriod": {"cbc:EndDate": "not a date", "cbc:EndTime": "12:00:00"}
        },
        "cac:ProcurementProject": {
            "cac:PlannedPeriod": {"cbc:DurationMeasure": {"@unitCode": "FORTNIGHT", "#text": "2"}},
            "cac:RequestedTenderTotal": {
                "cbc:EstimatedOverallContractAmount": {"@currencyID": "EUR", "#text": "lots"},
                "ext:UBLExtensions": {
                    "ext:UBLExtension": {
                        "ext:ExtensionContent": {
                            "efext:EformsExtension": {"efbc:FrameworkMaximumAmount": {"#text": "1200000.50"}}
                        }
                    }
                },
            },
        },
    }
    tree = {"cbc:ContractFolderID": "f", "cac:ProcurementProjectLot": lot}
    snapshot = snapshot_from_eforms("ContractNotice", tree)
    assert snapshot.lots == {"LOT-0001": {"max_value": Decimal("1200000.50")}}
    assert snapshot.notice_id == "f"


@pytest.mark.parametrize(("unit", "iso"), [("MONTH", "P48M"), ("DAY", "P48D"), ("YEAR", "P48Y"), ("WEEK", "P48W")])
def test_duration_units(unit: str, iso: str) -> None:
    lot = {
        "cbc:ID": {"@schemeName": "Lot", "#text": "LOT-0001"},
        "cac:ProcurementProject": {"cac:PlannedPeriod": {"cbc:DurationMeasure": {"@unitCode": unit, "#text": "48"}}},
    }
    snapshot = snapshot_from_eforms("ContractNotice", {"cbc:ContractFolderID": "f", "cac:ProcurementProjectLot": lot})
    assert snapshot.lots["LOT-0001"]["duration"] == iso


def _tree_with(ext: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"ext:UBLExtensions": {"ext:UBLExtension": {"ext:ExtensionContent": {"efext:EformsExtension": ext}}}} | top


def test_change_with_cancel_and_padded_references() -> None:
    ext = {
        "efac:Changes": {
            "efbc:ChangedNoticeIdentifier": ["00711911-2023", "c4c415ee-ac08-4465-8fa6-57568cf69462-02", "junk"],
            "efac:ChangeReason": {"cbc:ReasonCode": "cancel"},
        },
        "efac:Publication": {"efbc:NoticePublicationID": "00000042-2024", "efbc:PublicationDate": "2024-02-01+01:00"},
    }
    tree = _tree_with(
        ext,
        **{
            "cbc:ID": {"@schemeName": "notice-id", "#text": "11111111-2222-4333-8444-555555555555"},
            "cbc:IssueDate": "2024-01-30Z",
        },
    )
    snapshot = snapshot_from_eforms("ContractAwardNotice", tree)
    assert snapshot.kind == "cancellation"
    assert snapshot.fields == {"status": "cancelled"}
    assert snapshot.links == [("ted_pub", "711911-2023"), ("notice_id", "c4c415ee-ac08-4465-8fa6-57568cf69462")]
    assert snapshot.notice_id == "42-2024"
    assert snapshot.published == date(2024, 2, 1)


def test_cancel_intent_is_a_change_not_a_cancellation() -> None:
    """BT-140 ``cancel-intent`` announces an intention: the version says so, the status stays."""
    ext = {"efac:Changes": {"efac:ChangeReason": {"cbc:ReasonCode": "cancel-intent"}}}
    snapshot = snapshot_from_eforms("ContractNotice", _tree_with(ext, **{"cbc:ContractFolderID": "f"}))
    assert (snapshot.kind, snapshot.fields["status"]) == ("change", "open")
    assert snapshot.extra["reason_code"] == "cancel-intent"


def test_change_to_an_award_notice_stays_awarded() -> None:
    ext = {
        "efac:Changes": {"efac:ChangeReason": {"cbc:ReasonCode": "cor-buy"}},
        "efac:NoticeSubType": {"cbc:SubTypeCode": "29"},
    }
    tree = _tree_with(ext, **{"cbc:ContractFolderID": "f"})
    snapshot = snapshot_from_eforms("ContractAwardNotice", tree)
    assert (snapshot.kind, snapshot.fields["status"]) == ("change", "awarded")


def test_parse_errors() -> None:
    with pytest.raises(ParseError):
        snapshot_from_eforms("ContractNotice", [])  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        snapshot_from_eforms("ContractNotice", {"cbc:IssueDate": "2024-01-01"})


def test_helpers() -> None:
    assert as_list(None) == []
    assert as_list("a") == ["a"]
    original = ["a"]
    assert as_list(original) == original
    assert as_list(original) is not original
    assert unpad_publication_number("00740039-2023") == "740039-2023"
    assert unpad_publication_number("740039-2023") == "740039-2023"
    assert unpad_publication_number("c4c415ee-ac08") is None


# ---------------------------------------------------------------- change section: documents, reasons


@corpus
def test_documents_changed_is_one_documents_amendment() -> None:
    change = sdk("change-cn_24_cumbria_suppliers.xml")
    documents = [a for a in change.amendments if a.field == "documents"]
    # PROCEDURE and LOT-0000 say the same: one change, with BT-719's day and the BT-15 address
    assert len(documents) == 1
    assert documents[0].new == {"date": date(2020, 4, 14), "url": "https://www.the-chest.org.uk/"}
    assert documents[0].section == "PROCEDURE"
    assert not documents[0].announced


def test_reason_labels_fr_en() -> None:
    from tracker.render import reason_label, reason_text

    assert reason_label("update-add") == "Mise à jour d’informations"
    assert reason_label("cor-buy", "en") == "Buyer correction"
    assert reason_label("unknown-code") == "unknown-code"
    assert reason_label(None) is None
    assert reason_text({"code": "update-add", "text": "Covid"}, "en") == "Information updated (update-add) — Covid"
    assert reason_text({"code": None, "text": "Motif libre"}) == "Motif libre"
    assert reason_text(None) is None


@corpus
def test_change_notice_without_bt758_keeps_its_folder_and_descriptions() -> None:
    """Real SDK 1.3 change notices carry no BT-758: their ContractFolderID is what links them."""
    change = snap("ted_eforms_real", "ted_rdf_pipeline_samples", "sdkv1.3_sub12_295399-2023.xml")
    assert change.kind == "change"
    assert change.links == []
    assert any(scheme == "procedure_uuid" for scheme, _ in change.identifiers)
    assert change.extra["reason_code"] == "update-add"


# ---------------------------------------------------------------- results: winners and values


@corpus
@pytest.mark.parametrize(
    ("name", "lot", "winner", "value"),
    [
        ("can_24_minimal.xml", "LOT-0000", ["Espaces Verts Lemire"], [Decimal("95414")]),
        ("can_81_FRA.xml", "LOT-0000", ["Assystem energy et infrastructure"], [Decimal("375950")]),
        ("can_24_LSBU.xml", "LOT-0000", ["PwC UK LLP"], [Decimal("4500000")]),
    ],
)
def test_award_winner_and_value(name: str, lot: str, winner: list[str], value: list[Decimal]) -> None:
    award = sdk(name)
    assert award.kind == "award"
    got = {(a.field, a.lot): a.new for a in award.amendments}
    assert got[("award_winner", lot)] == winner
    assert got[("award_value", lot)] == value


@corpus
def test_award_winners_named_by_the_contracts() -> None:
    """Each lot result lists two tenders; the winner is the one a settled contract names (BT-3202)."""
    award = snap("ted_eforms_real", "2024-OJS065-00191534.xml")
    got = {(a.field, a.lot): a.new for a in award.amendments}
    assert got[("award_winner", "LOT-0002")] == ["M&G CLEANING"]
    assert got[("award_value", "LOT-0002")] == [Decimal("13768.11")]
    assert got[("award_winner", "LOT-0001")] == ["Belgo Facility Services"]


def _result_tree(codes: list[str]) -> dict[str, Any]:
    results = [
        {
            "cbc:ID": f"RES-000{i}",
            "cbc:TenderResultCode": code,
            "efac:TenderLot": {"cbc:ID": {"@schemeName": "Lot", "#text": f"LOT-000{i}"}},
        }
        for i, code in enumerate(codes, start=1)
    ]
    ext = {"efac:NoticeResult": {"efac:LotResult": results}, "efac:NoticeSubType": {"cbc:SubTypeCode": "29"}}
    return _tree_with(ext, **{"cbc:ContractFolderID": "f"})


@pytest.mark.parametrize(
    ("codes", "status", "amendments"),
    [
        (["clos-nw", "clos-nw"], "unsuccessful", [("status", "unsuccessful")]),
        (["open-nw"], "open", []),
        (["clos-nw", "open-nw"], "open", []),
    ],
)
def test_result_notice_without_a_winner_is_no_award(
    codes: list[str], status: str, amendments: list[tuple[str, str]]
) -> None:
    snapshot = snapshot_from_eforms("ContractAwardNotice", _result_tree(codes))
    assert snapshot.kind == "other"
    assert snapshot.restatement is False  # the result notice does not restate the call for tenders
    assert snapshot.fields["status"] == status
    assert [(a.field, a.new) for a in snapshot.amendments] == amendments


def test_winner_without_contract_or_rank_is_not_guessed() -> None:
    tree = _result_tree(["selec-w"])
    result = tree["ext:UBLExtensions"]["ext:UBLExtension"]["ext:ExtensionContent"]["efext:EformsExtension"]
    result["efac:NoticeResult"]["efac:LotResult"][0]["efac:LotTender"] = [{"cbc:ID": "TEN-1"}, {"cbc:ID": "TEN-2"}]
    result["efac:NoticeResult"]["efac:LotTender"] = [
        {"cbc:ID": "TEN-1", "efac:TenderingParty": {"cbc:ID": "TPA-1"}},
        {"cbc:ID": "TEN-2", "efac:TenderingParty": {"cbc:ID": "TPA-2"}},
    ]
    snapshot = snapshot_from_eforms("ContractAwardNotice", tree)
    assert (snapshot.kind, snapshot.fields["status"]) == ("award", "awarded")
    assert snapshot.amendments == []  # two unranked tenders and no contract: the winner is not known


# ---------------------------------------------------------------- namespaces: EU and BOAMP-rebased

BOAMP_REBASED = """<?xml version="1.0" encoding="UTF-8"?>
<ContractNotice xmlns="urn:boamp:names:specification:ubl:schema:xsd:ContractNotice-2"
  xmlns:cac="urn:boamp:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:boamp:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
  xmlns:ext="urn:boamp:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
  xmlns:efac="urn:boamp:names:specification:eforms:EformsExtensionAggregateComponents-1"
  xmlns:efbc="urn:boamp:names:specification:eforms:EformsExtensionBasicComponents-1"
  xmlns:efext="urn:boamp:names:specification:eforms:EformsExtensionApex-1">
 <ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent><efext:EformsExtension>
  <efac:Changes>
   <efbc:ChangedNoticeIdentifier>00041387-2024</efbc:ChangedNoticeIdentifier>
   <efac:ChangeReason><cbc:ReasonCode>update-add</cbc:ReasonCode>
    <efbc:ReasonDescription languageID="FRA">La date limite est reportée
     au 15 mars 2024 à 12h00.</efbc:ReasonDescription>
   </efac:ChangeReason>
  </efac:Changes>
 </efext:EformsExtension></ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>
 <cbc:ID schemeName="notice-id">11111111-2222-4333-8444-555555555555</cbc:ID>
 <cbc:ContractFolderID>aaaaaaaa-2222-4333-8444-555555555555</cbc:ContractFolderID>
 <cac:ProcurementProjectLot>
  <cbc:ID schemeName="Lot">LOT-0001</cbc:ID>
  <cac:TenderingProcess><cac:TenderSubmissionDeadlinePeriod>
   <cbc:EndDate>2024-03-01+01:00</cbc:EndDate><cbc:EndTime>12:00:00+01:00</cbc:EndTime>
  </cac:TenderSubmissionDeadlinePeriod></cac:TenderingProcess>
 </cac:ProcurementProjectLot>
</ContractNotice>""".encode()


def test_boamp_rebased_namespaces_read_like_the_eu_ones() -> None:
    snapshot = snapshot_from_eforms(*xml_to_dict(BOAMP_REBASED))
    assert snapshot.kind == "change"
    assert snapshot.links == [("ted_pub", "41387-2024")]
    assert snapshot.lots["LOT-0001"]["tender_deadline"] == datetime(2024, 3, 1, 12, 0, tzinfo=PLUS_1)
    announced = [a for a in snapshot.amendments if a.announced]
    assert [(a.field, a.new, a.old) for a in announced] == [
        ("tender_deadline", datetime(2024, 3, 15, 12, 0, tzinfo=PLUS_1), datetime(2024, 3, 1, 12, 0, tzinfo=PLUS_1))
    ]


# ---------------------------------------------------------------- dates announced in free texts


@corpus
def test_polish_change_announces_the_new_deadline() -> None:
    change = snap("ted_eforms_real", "ted_rdf_pipeline_samples", "sdkv1.10_sub17_740039-2023.xml")
    announced = {a.field: a for a in change.amendments if a.announced}
    deadline = announced["tender_deadline"]
    assert deadline.new == datetime(2023, 12, 12, 12, 30, tzinfo=PLUS_1)
    assert deadline.old == datetime(2023, 12, 8, 12, 30, tzinfo=PLUS_1)
    assert deadline.lot == "LOT-0001"
    assert "2023-12-12 12:30" in deadline.evidence
    assert announced["opening_date"].new == datetime(2023, 12, 12, 13, 0, tzinfo=PLUS_1)


@corpus
def test_text_repeating_the_structured_deadline_announces_nothing() -> None:
    """Estonian: "deadline extended to 31.07.2023" while BT-131 already says 2023-07-31."""
    change = snap("ted_eforms_real", "ted_rdf_pipeline_samples", "sdkv1.3_sub19_368245-2023.xml")
    assert [a for a in change.amendments if a.announced] == []
