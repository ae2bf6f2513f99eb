"""The pages as a person uses them: headless Chromium (Debian's ``chromium``) driven by Playwright.

The test serves a database holding the corpus chains (20-157376 and 17-31381 shifted into the coming days)
with ``tracker serve`` on a free loopback port, then: opens the upcoming deadlines, searches with the form,
opens the 20-157376 timeline and sees both changes, follows the link to the subscriber page. Each page is
saved as a screenshot under ``test-artifacts/browser/`` (or ``$TRACKER_TEST_ARTIFACTS``), and the page's visible
text at that moment is checked to hold what the screenshot must show.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import ROOT, corpus_path, need
from tests.test_web import _free_port, serve, write_config
from tests.viewdata import shifted_records, write_records
from tracker.db import make_engine, upgrade
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file

pytestmark = pytest.mark.corpus

ARTIFACTS = Path(os.environ.get("TRACKER_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "browser"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    need("Debian's chromium is not installed (apt-get install -y chromium)")
    raise AssertionError  # unreachable


@pytest.fixture
def served(tmp_path):
    db_path = tmp_path / "browser.db"
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    paths = [
        *[
            p
            for p in sorted(corpus_path("boamp_ods_api", "chains").glob("*.json"))
            if "20-157376" not in p.name and "17-31381" not in p.name  # these two come shifted
        ],
        *write_records(tmp_path / "shifted", shifted_records("20-157376", ahead=3), "a"),
        *write_records(tmp_path / "shifted", shifted_records("17-31381", ahead=5), "b"),
    ]
    for path in paths:
        ingest_documents(engine, documents_from_file(path))
    engine.dispose()
    port = _free_port()
    proc = serve(db_path, write_config(tmp_path / "config"), port, tmp_path / "serve.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _shot(page, name: str, *expected: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    visible = page.inner_text("body")
    for text in expected:
        assert text in visible, f"{name}: {text!r} not shown"
    assert path.stat().st_size > 5_000
    return path


def test_a_bid_manager_morning(served):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{served}/")
            _shot(page, "1-upcoming", "Échéances des 14 prochains jours", "20-157376", "auparavant")
            page.get_by_label("Mots").fill("morbihan plateforme")
            page.get_by_role("button", name="Rechercher").click()
            page.wait_for_url("**/search?**")
            _shot(page, "2-search", "procédure(s)", "20-157376", "Morbihan Energies")
            page.get_by_role("link", name="20-157376").first.click()
            page.wait_for_url("**/procedures/20-157376")
            _shot(
                page, "3-timeline", "Date limite de réception des offres", "Ouverture des offres", "21-6545", "21-8404"
            )
            page.get_by_role("link", name="equipe-ao").click()
            page.wait_for_url("**/subscribers/equipe-ao")
            _shot(page, "4-subscriber", "Ce que suit equipe-ao", "20-157376", "Dernières notifications")
            assert page.locator("main").count() == 1 and page.locator("nav").count() == 1
            assert errors == []  # the CSP refused nothing: the pages need no script
        finally:
            browser.close()
