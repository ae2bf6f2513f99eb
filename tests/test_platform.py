"""Buyer platforms: the PLACE pages of the corpus by the Atexo MPE rules, and the platform source against a local
server (a consultation page, then the same page with a moved deadline and a replaced RC: one new version with both
changes, one notification), the DCE archive, and the outbound guard on links found in pages."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from sqlmodel import Session

from tests import corpus_path, seeds_path
from tests.hookserver import HookServer
from tests.httpfake import FakeResponse, FakeServer
from tracker.config import load_sources
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.outbox import Notifier
from tracker.parse import parse_item
from tracker.parse.platform import OBSERVATION, consultation_key
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.service import Embedded
from tracker.sources.http import make_client
from tracker.sources.platform import PlatformOptions, PlatformSource
from tracker.subscribers import load_subscribers

CEST = timezone(timedelta(hours=2))
PAGES = "buyer_platform_pages"


def page_snapshot(name: str):
    [doc] = list(documents_from_file(corpus_path(PAGES, name)))
    item = parse_item(doc)
    assert item.error is None, item.error
    [snap] = item.snapshots
    return snap


def test_place_open_procedure_page():
    snap = page_snapshot("place_marches-publics.gouv.fr_consultation_35620337.html")
    assert snap.source == "place"
    assert snap.extra["reference"] == "2020-44KT-INC"
    assert snap.title == "Diagnostic des réseaux électriques de la cathédrale de Nantes"
    assert snap.buyer == "Ministère de la Culture"
    assert snap.extra["procedure"] == "Procédure adaptée"
    assert snap.cpv == ["71335000"]
    assert snap.fields == {"tender_deadline": datetime(2020, 9, 15, 12, 0, tzinfo=CEST)}
    assert ("consultation", "marches-publics.gouv.fr|f5j|624658") in snap.identifiers


def test_place_restricted_procedure_page():
    snap = page_snapshot("place_marches-publics.gouv.fr_consultation_35664719.html")
    assert snap.extra["reference"] == "DAF_2020_001704"
    assert snap.buyer == "Ministère des armées"
    assert snap.extra["procedure"] == "Appel d'offres restreint"
    assert snap.cpv == ["35113000"]
    # "remise des plis" of a restricted procedure closes the requests to participate
    assert snap.fields == {"request_deadline": datetime(2020, 9, 29, 16, 0, tzinfo=CEST)}


@pytest.mark.parametrize(
    "url, key",
    [
        (
            "https://marchespublics.ampmetropole.fr/?page=Entreprise.EntrepriseAdvancedSearch&AllCons&id=510120&orgAcronyme=t5y",
            "marchespublics.ampmetropole.fr|t5y|510120",
        ),
        (
            "https://www.marches-publics.gouv.fr/index.php?page=Entreprise.EntrepriseDetailsConsultation&refConsultation=624658&orgAcronyme=f5j",
            "marches-publics.gouv.fr|f5j|624658",
        ),
        (
            "https://www.marches-publics.gouv.fr/entreprise/consultation/624658?orgAcronyme=f5j",
            "marches-publics.gouv.fr|f5j|624658",
        ),
        ("https://marchespublics.ampmetropole.fr/", None),
        ("https://www.marches-securises.fr/", None),
    ],
)
def test_consultation_keys(url, key):
    assert consultation_key(url) == key


# ---------------------------------------------------------------- a local platform


def atexo_page(
    deadline: str,
    files: list[tuple[str, str]],
    *,
    state: str = "x",
    procedure: str = "Procédure adaptée",
    title: str = "Prestation de levage de bateaux par grue mobile",
    cpv: str = "63726000",
) -> str:
    """A consultation page in the Atexo MPE markup the rules read (written for the tests)."""
    rows = "".join(
        f'<tr class="dce-file"><td><a class="file-name" href="{href}">{name}</a></td>'
        f'<td class="file-size">12 Ko</td><td class="file-date">02/05/2025</td></tr>'
        for name, href in files
    )
    return f"""<!DOCTYPE html><html lang="fr"><head><title>Marchés publics de la Métropole</title></head><body>
<form method="post"
 action="/index.php?page=entreprise.EntrepriseDemandeTelechargementDce&amp;refConsultation=510120&amp;orgAcronyme=t5y">
<input type="hidden" name="PRADO_PAGESTATE" value="{state}"/></form>
<div id="recap-consultation">
<span id="ctl0_CONTENU_PAGE_ctl5_dateHeureLimiteRemisePlis"><strong>{deadline}</strong></span> (heure de Paris)
<span id="ctl0_CONTENU_PAGE_ctl5_reference">725A131</span>
<span id="ctl0_CONTENU_PAGE_ctl5_intitule">{title}</span>
<span id="ctl0_CONTENU_PAGE_ctl5_objet">Levage de bateaux des ports de plaisance</span>
<span id="ctl0_CONTENU_PAGE_ctl5_entitePublique">Métropole Aix-Marseille-Provence</span>
<span id="ctl0_CONTENU_PAGE_ctl5_typeProcedure">{procedure}</span>
<span id="ctl0_CONTENU_PAGE_ctl5_idAtexoRef_scriptRef">{cpv}</span> (Code principal)
</div>
<table>{rows}</table></body></html>"""


def test_page_values_by_id_suffix_in_every_shape_the_markup_allows():
    """The first element whose id ends with a suffix gives the value, whatever libxml2's id index holds: a
    duplicated id (the first counts), an id with spaces (not in the index), a value spread over children; the
    consultation key comes from the first links expression that names one; a listing page gives its files."""
    page = atexo_page("15/09/2020 12:00", [("RC.pdf", "/dce/RC.pdf"), ("CCTP.pdf", "/dce/CCTP.pdf")])
    page = page.replace(
        '<span id="ctl0_CONTENU_PAGE_ctl5_reference">725A131</span>',
        '<span id="a b_reference"> 725A131 </span><span id="ctl0_CONTENU_PAGE_ctl5_reference">autre</span>',
    )
    page = page.replace(
        '<span id="ctl0_CONTENU_PAGE_ctl5_intitule">',
        '<span id="ctl0_CONTENU_PAGE_ctl5_intitule"><b>Lot unique :</b>\n ',
    ).replace("</body>", '<span id="ctl0_CONTENU_PAGE_ctl5_objet">un second objet</span></body>')
    # a link to another consultation comes first in the page; the form (the page's own address) is read first
    page = page.replace("<body>", '<body><a href="/?page=x&amp;id=999&amp;orgAcronyme=t5y">une autre</a>')
    url = "https://marchespublics.ampmetropole.fr/?page=Entreprise.EntrepriseDetailsConsultation"
    [snap] = parse_item(Document("test", url, page.encode(), "text/html")).snapshots
    assert snap.extra["reference"] == "725A131"  # the id with spaces, first in the page
    assert snap.title == "Lot unique : Prestation de levage de bateaux par grue mobile"
    assert snap.description == "Levage de bateaux des ports de plaisance"  # the first of two equal ids
    assert snap.identifiers[0] == ("consultation", "marchespublics.ampmetropole.fr|t5y|510120")
    assert [f["name"] for f in snap.fields["documents"]] == ["CCTP.pdf", "RC.pdf"]


def rc_pdf(text: str) -> bytes:
    from tests.test_documents import pdf_of

    return pdf_of(text)


@pytest.fixture(scope="module")
def rcs() -> tuple[bytes, bytes]:
    text = seeds_path("002_54708d747f76272a.txt").read_text(encoding="utf-8")
    moved = text.replace("le 19/05/2025 avant 12 :00 :00", "le 26/05/2025 avant 12 :00 :00")
    moved = moved.replace("6 mois à compter", "9 mois à compter")
    assert moved != text
    return rc_pdf(text), rc_pdf(moved)


CONFIG = """version: 1
sources:
  - name: metropole
    kind: platform
    every: 30m
    options:
      consultations: ["{url}"]
      timeout: 5
"""
SUBSCRIBERS = """version: 1
subscribers:
  - name: equipe-ao
    urls: ["json://{hooks}/hook"]
    language: fr
    profiles: [{{}}]
    changes: [deadline_moved, documents_changed]
"""


def test_moved_deadline_and_replaced_rc_make_one_version_and_one_notification(sqlite_engine, tmp_path, rcs):
    rc1, rc2 = rcs
    files = [("RC_725A131.pdf", "/dce/RC_725A131.pdf"), ("CCTP.pdf", "/dce/CCTP.pdf")]
    clock = [datetime(2025, 5, 2, 8, 0, tzinfo=UTC)]
    with FakeServer() as server, HookServer() as hooks:
        page = "/entreprise/consultation/510120"
        server.route(
            page, FakeResponse(200, atexo_page("19/05/2025 12:00", files, state="a"), {"Content-Type": "text/html"})
        )
        server.route("/dce/RC_725A131.pdf", FakeResponse(200, rc1))
        server.route("/dce/CCTP.pdf", FakeResponse(200, b"%PDF-1.4 cctp"))
        folder = tmp_path / "config"
        folder.mkdir()
        (folder / "sources.yaml").write_text(CONFIG.format(url=server.url(page) + "?orgAcronyme=t5y"))
        (folder / "subscribers.yaml").write_text(SUBSCRIBERS.format(hooks=hooks.address))
        subs = load_subscribers(folder)
        with make_client(timeout=5) as client:
            embedded = Embedded(
                sqlite_engine,
                load_sources(folder),
                client,
                on_versions=Notifier(sqlite_engine, subs, clock=lambda: clock[0]),
                clock=lambda: clock[0],
            )
            embedded.run_once()
            clock[0] += timedelta(hours=2)
            server.route(
                page,
                FakeResponse(200, atexo_page("19/05/2025 12:00", files, state="b"), {"Content-Type": "text/html"}),
            )
            embedded.run_once()  # the page's volatile state changed, nothing it states: nothing new
            clock[0] += timedelta(hours=2)
            server.route(
                page,
                FakeResponse(200, atexo_page("26/05/2025 12:00", files, state="c"), {"Content-Type": "text/html"}),
            )
            server.route("/dce/RC_725A131.pdf", FakeResponse(200, rc2))
            embedded.run_once()
            hooks.wait_for(1)
            time.sleep(0.3)
    assert len(hooks.requests) == 1
    message = json.loads(hooks.requests[0].json["message"])
    fields = {c["field"] for c in message["changes"]}
    assert {"tender_deadline", "documents"} <= fields
    with Session(sqlite_engine) as session:
        proc = find_procedure(session, "127.0.0.1|t5y|510120")
        assert proc is not None
        data = history(session, proc)
    assert [v["n"] for v in data["versions"]] == [1, 2]
    v2 = data["versions"][1]
    assert v2["source"] == "metropole" or v2["source"]
    changes = {c["field"]: c for c in v2["changes"]}
    assert changes["tender_deadline"]["old"] == "2025-05-19T12:00+02:00"
    assert changes["tender_deadline"]["new"] == "2025-05-26T12:00+02:00"
    assert changes["offer_validity"]["old"] == "P6M" and changes["offer_validity"]["new"] == "P9M"  # the RC re-read
    assert "RC_725A131.pdf" in changes["documents"]["text"]
    old_rc = next(f for f in changes["documents"]["old"] if f["name"] == "RC_725A131.pdf")
    new_rc = next(f for f in changes["documents"]["new"] if f["name"] == "RC_725A131.pdf")
    assert old_rc["hash"] != new_rc["hash"] and old_rc["size"] == len(rc1)


def _archive(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zipped:
        for name, content in members.items():
            zipped.writestr(name, content)
    return out.getvalue()


def test_anonymous_archive_members_are_listed(rcs):
    rc1, _ = rcs
    page = atexo_page("19/05/2025 12:00", []).replace(
        "<table></table>", '<a class="dce-archive" href="/dce/complet.zip">DCE complet</a>'
    )
    with FakeServer() as server:
        server.route("/c", FakeResponse(200, page, {"Content-Type": "text/html"}))
        server.route(
            "/dce/complet.zip", FakeResponse(200, _archive({"DCE/RC.pdf": rc1, "DCE/CCAP.pdf": b"%PDF ccap"}))
        )
        with make_client(timeout=5) as client:
            source = PlatformSource(
                "m", PlatformOptions(consultations=[server.url("/c") + "?orgAcronyme=t5y&refConsultation=1"]), client
            )
            result = source.fetch({}, now=datetime(2025, 5, 2, 8, 0, tzinfo=UTC))
    [doc] = result.documents
    [snap] = parse_item(doc).snapshots
    names = [f["name"] for f in snap.fields["documents"]]
    assert names == ["(archive)", "DCE/CCAP.pdf", "DCE/RC.pdf"]
    assert snap.fields["offer_validity"] == "P6M"  # the archive's RC was read
    assert snap.fields["tender_deadline"] == datetime(2025, 5, 19, 12, 0, tzinfo=CEST)


# ---------------------------------------------------------------- outbound safety


class Refused(AssertionError):
    pass


def test_a_document_on_a_private_address_is_refused_by_the_guard():
    """The page is the operator's (configured); its DCE links point at a private name and a link-local literal."""
    dialled: list[tuple[str, int]] = []
    names = {"intranet.example": ["10.1.2.3"]}

    def resolve(host: str, port: int) -> list[str]:
        if host in names:
            return names[host]
        if host == "127.0.0.1":
            return [host]
        raise OSError(f"unknown name {host}")

    def route(address: str, port: int) -> tuple[str, int]:
        dialled.append((address, port))
        if address != "127.0.0.1":
            raise Refused(f"dialled {address}")
        return address, port

    files = [("RC.pdf", "http://intranet.example/dce/RC.pdf"), ("meta.pdf", "http://169.254.169.254/latest/meta-data")]
    with FakeServer() as server:
        server.route("/c", FakeResponse(200, atexo_page("19/05/2025 12:00", files), {"Content-Type": "text/html"}))
        client = make_client(timeout=5, resolver=resolve, route=route)
        with client:
            source = PlatformSource(
                "m", PlatformOptions(consultations=[server.url("/c") + "?orgAcronyme=t5y&refConsultation=1"]), client
            )
            result = source.fetch({}, now=datetime(2025, 5, 2, 8, 0, tzinfo=UTC))
    assert all(address == "127.0.0.1" for address, _ in dialled)
    [doc] = result.documents
    [snap] = parse_item(doc).snapshots
    refused = {f["name"]: f.get("refused") for f in snap.fields["documents"]}
    assert refused["RC.pdf"] and "10.1.2.3" in refused["RC.pdf"]
    assert refused["meta.pdf"] and "169.254.169.254" in refused["meta.pdf"]


def test_unchanged_consultation_emits_nothing():
    with FakeServer() as server:
        server.route(
            "/c", FakeResponse(200, atexo_page("19/05/2025 12:00", [], state="1"), {"Content-Type": "text/html"})
        )
        with make_client(timeout=5) as client:
            source = PlatformSource(
                "m", PlatformOptions(consultations=[server.url("/c") + "?orgAcronyme=t5y&id=9"]), client
            )
            first = source.fetch({}, now=datetime(2025, 5, 2, 8, 0, tzinfo=UTC))
            server.route(
                "/c", FakeResponse(200, atexo_page("19/05/2025 12:00", [], state="2"), {"Content-Type": "text/html"})
            )
            second = source.fetch(first.cursor, now=datetime(2025, 5, 2, 9, 0, tzinfo=UTC))
    assert len(first.documents) == 1 and second.documents == [] and second.done


def test_page_documents_ingest(engine):
    docs = [d for p in sorted(corpus_path(PAGES).glob("*.html")) for d in documents_from_file(p)]
    stats = ingest_documents(engine, docs)
    assert stats.quarantined == 0 and stats.notices == 2


# ---------------------------------------------------------------- one timeline


def observation(url: str, page: str, observed: datetime, files=None) -> Document:
    seen = {"platform": "atexo_mpe", "url": url, "observed": observed.isoformat(), "page": page, "files": files}
    return Document("metropole", url, orjson.dumps(seen), OBSERVATION, published=observed.date().isoformat())


def test_notice_and_platform_page_make_one_timeline(engine):
    """Seed 000 names its consultation (id=510120, orgAcronyme=t5y) in its documents address; the platform page
    of that consultation, later moving the deadline on the platform alone, joins the same history."""
    text = seeds_path("000_ebd4ca7beefc5e73.txt").read_text(encoding="utf-8")
    notice = Document("docs", "000.txt", text.encode(), "text/plain")
    url = "https://marchespublics.ampmetropole.fr/entreprise/consultation/510120?orgAcronyme=t5y"
    title = "Mise en œuvre d'un Centre des Opérations de Sécurité externalisé unifié"
    page = atexo_page("03/03/2026 12:00", [], title=title, cpv="72212730")
    stats = ingest_documents(engine, [notice, observation(url, page, datetime(2026, 2, 20, 9, 0, tzinfo=UTC))])
    assert stats.quarantined == 0
    with Session(engine) as session:
        proc = find_procedure(session, "26-15766")
        assert proc is not None and find_procedure(session, "marchespublics.ampmetropole.fr|t5y|510120").id == proc.id
        data = history(session, proc)
    assert [v["source"] for v in data["versions"]] == ["boamp_pdf", "metropole"]
    v2 = data["versions"][1]["changes"]
    assert [(c["field"], c["old"], c["new"]) for c in v2] == [
        ("tender_deadline", "2026-02-24T12:00+01:00", "2026-03-03T12:00+01:00")
    ]


# ---------------------------------------------------------------- the buyer's internal reference


def saved_page(reference: str, entity: str, deadline: str = "03/03/2026 12:00", **shown: str) -> Document:
    """A consultation page saved without its address: its relative links name no host, so only its Référence
    (and its buyer) can tell which procedure it shows."""
    page = atexo_page(deadline, [], **shown).replace(">725A131<", f">{reference}<")
    page = page.replace("Métropole Aix-Marseille-Provence", entity)
    return Document("docs", f"page-{reference}-{len(entity)}.html", page.encode(), "text/html")


def procedure_count(engine) -> int:
    from sqlmodel import func, select

    from tracker.models import Procedure

    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Procedure)).one()


def test_the_buyers_internal_reference_links_a_page_to_its_notice_when_the_buyers_agree(engine):
    """Seed 000 states "Identifiant interne : 73250233"; a platform page showing that Référence for the same
    buyer joins its history; the same Référence shown by another buyer's page stays apart."""
    text = seeds_path("000_ebd4ca7beefc5e73.txt").read_text(encoding="utf-8")
    notice = Document("docs", "000.txt", text.encode(), "text/plain")
    shown = {"title": "Mise en œuvre d'un Centre des Opérations de Sécurité externalisé unifié", "cpv": "72212730"}
    same = saved_page("73250233", "Métropole Aix-Marseille-Provence", **shown)
    other = saved_page("73250233", "Commune de Lens", **shown)
    stats = ingest_documents(engine, [notice, same, other])
    assert stats.quarantined == 0
    assert procedure_count(engine) == 2
    with Session(engine) as session:
        data = history(session, find_procedure(session, "26-15766"))
    assert [v["source"] for v in data["versions"]] == ["boamp_pdf", "atexo_mpe"]
    assert [(c["field"], c["old"], c["new"]) for c in data["versions"][1]["changes"]] == [
        ("tender_deadline", "2026-02-24T12:00+01:00", "2026-03-03T12:00+01:00")
    ]


def test_a_relaunch_keeping_its_reference_is_a_new_procedure(engine):
    """Seed 001 republished as a new notice (another idweb, procedure and notice id) keeps "Identifiant interne
    : 26-012", as a buyer relaunching an unsuccessful procedure often does: a new procedure, not a change of the
    first. A page of that reference for that buyer still joins a history (the first to claim the reference)."""
    text = seeds_path("001_886e258503820caa.txt").read_text(encoding="utf-8")
    relaunch = (
        text.replace("26-16132", "26-19999")
        .replace("9798e130-9b51-4f15-9d65-b29e1c9868de", "11111111-2222-4333-8444-555555555555")
        .replace("a1baf7ae-6ed0-4f40-afdf-653a62b90470", "66666666-7777-4888-9999-aaaaaaaaaaaa")
    )
    docs = [
        Document("docs", "001.txt", text.encode(), "text/plain"),
        Document("docs", "001-relance.txt", relaunch.encode(), "text/plain"),
    ]
    assert ingest_documents(engine, docs).quarantined == 0
    assert procedure_count(engine) == 2
    page = saved_page("26-012", "CAP Territoires (60)", deadline="30/03/2026 16:00")
    assert ingest_documents(engine, [page]).quarantined == 0
    assert procedure_count(engine) == 2
    with Session(engine) as session:
        first = history(session, find_procedure(session, "26-16132"))
        second = history(session, find_procedure(session, "26-19999"))
    assert [v["source"] for v in first["versions"]] == ["boamp_pdf", "atexo_mpe"]
    assert [v["source"] for v in second["versions"]] == ["boamp_pdf"]
