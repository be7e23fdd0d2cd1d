"""The coordinator's day in a real browser (Debian's Chromium through Playwright).

A real server thread on a fresh migrated SQLite database. Screenshots of the
main pages, laptop and tablet, go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, World, build_world, make_app
from trialdb import migrate
from trialdb.db import make_engine

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=fr-FR"]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    from werkzeug.serving import make_server

    folder = tmp_path_factory.mktemp("browser")
    engine = make_engine(f"sqlite:///{folder / 'browser.sqlite3'}")
    migrate.upgrade(engine)
    world = build_world(engine)
    app = make_app(engine, folder)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}", world
    finally:
        http.shutdown()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        # Date inputs follow the browser's own language (Debian's chromium-l10n
        # holds the French one), not the page's: as on a French coordinator's machine.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS,
            env={**os.environ, "LANGUAGE": "fr", "LANG": "fr_FR.UTF-8"})
        yield chromium
        chromium.close()


def _shot(page: Any, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form button.primary")
    page.wait_for_url(f"{base}/")


def _preview_loads(page: Any, loads: list[tuple[date, str, str]], assay: str) -> None:
    """Type loads (day, result as printed, unit or "") into the grid's first rows; preview."""
    for i, (day, result, unit) in enumerate(loads):
        page.fill(f"[name=rows-{i}-sampled_on]", _iso(day))
        page.select_option(f"[name=rows-{i}-assay_id]", assay)
        page.fill(f"[name=rows-{i}-result]", result)
        if unit:
            page.select_option(f"[name=rows-{i}-unit]", unit)
    page.click("button[value=preview]")


def _iso(day: date) -> str:
    return day.isoformat()


def test_coordinator_screens_includes_and_enters_a_child(server: tuple[str, World],
                                                         browser: Any) -> None:
    base, world = server
    today = date.today()
    context = browser.new_context(viewport=LAPTOP, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/login")
    _shot(page, "login-laptop", full_page=False)
    _sign_in(page, base, world.coordinator_a.email)

    # screening: a 12-year-old for the prospective part
    page.click("text=Nouveau participant")
    page.select_option("#site", world.site_a.code)
    page.select_option("#part", "prospective")
    page.select_option("#sex", "female")
    page.fill("#birth_year", str(today.year - 13))
    page.select_option("#birth_month", str(12))
    page.fill("#screened_on", _iso(today - timedelta(days=40)))
    _shot(page, "new-participant-laptop")
    page.click("text=Créer le participant")
    page.wait_for_selector("#decision")
    number = page.locator(".participant-bar .number").inner_text().strip()
    assert number.startswith(world.site_a.code)

    # eligibility
    page.fill("#assessed_on", _iso(today - timedelta(days=39)))
    for name, value in (("car_t_for_refractory_disease", "yes"), ("cmv_igg_positive", "yes"),
                        ("social_security_affiliation", "yes"), ("under_guardianship", "no"),
                        ("ame_beneficiary", "no")):
        page.check(f"input[name={name}][value={value}]")
    page.click("button:has-text('Enregistrer')")
    page.wait_for_selector(".notice.success")
    assert "En attente" in page.locator("#decision h2").inner_text()
    assert "consentement" in page.locator("#decision .reasons").inner_text()
    _shot(page, "eligibility-laptop")

    # consent: both parents (or the legal representative) must sign
    page.click("text=2. Consentement / non-opposition")
    required = page.locator("#signatories li.required").all_inner_texts()
    assert any("Premier parent" in r for r in required)
    assert any("Second parent" in r for r in required)
    assert any("Investigateur" in r for r in required)
    assert not any(r.strip().endswith("Patient") for r in required)
    consent_day = _iso(today - timedelta(days=35))
    page.fill("#document_version", "v2.0")
    page.fill("#consent_on", consent_day)
    page.fill("#parent_1_signed_on", consent_day)
    page.fill("#investigator_signed_on", consent_day)
    page.click("button:has-text('Enregistrer')")
    page.wait_for_selector(".notice.success")
    assert "second parent" in page.locator("#decision .reasons").inner_text()
    assert page.locator("#include-form").count() == 0
    page.check("#only_one_parent_alive")
    page.click("button:has-text('Enregistrer')")
    page.wait_for_selector(".notice.success")
    required = page.locator("#signatories li.required").all_inner_texts()
    assert any("Représentant légal" in r for r in required)
    page.uncheck("#only_one_parent_alive")
    page.fill("#parent_2_signed_on", consent_day)
    page.click("button:has-text('Enregistrer')")
    page.wait_for_selector("#include-form")
    _shot(page, "consent-laptop")
    page.fill("#included_on", _iso(today - timedelta(days=34)))
    page.click("#include-form button")
    page.wait_for_selector(".participant-bar .pill-included")

    # infusion, with an impossible date first
    page.click("a[data-form=infusion]")
    page.fill("#infused_on", _iso(today + timedelta(days=3)))
    page.select_option("#product", "tisagenlecleucel")
    page.select_option("#target_antigen", "CD19")
    page.select_option("#disease", "ALL")
    page.select_option("#disease_status", "relapse")
    page.fill("#prior_lines", "3")
    page.check("input[name=prior_allo_hsct][value=no]")
    page.check("input[name=bridging_therapy][value=yes]")
    page.fill("#bridging_regimen", "vincristine, dexaméthasone")
    page.select_option("#lymphodepletion", "flu_cy")
    page.click("button:has-text('Enregistrer')")
    error = page.locator('p.error[data-field="infused_on"]')
    assert error.inner_text().endswith("Cette date est dans le futur.")
    _shot(page, "infusion-error-laptop")
    d0 = today - timedelta(days=30)
    page.fill("#infused_on", _iso(d0))
    page.check("#complete")
    page.click("button:has-text('Enregistrer')")
    page.wait_for_selector(".notice.success")

    # five loads including <62, one without unit
    page.click("text=Saisir des charges virales")
    assay = str(world.cmv_assay.id)
    loads = [(0, "<62", ""), (7, "ND", ""), (14, "1,2E+04", "IU/mL"), (21, "5951", ""),
             (28, "840", "IU/mL")]
    _preview_loads(page, [(d0 + timedelta(days=day), result, unit) for day, result, unit in loads],
                   assay)
    row = page.locator("tr[data-row='2'] [data-preview]")
    assert "log10 4.08" in row.inner_text()
    unit_error = page.locator("tr[data-row='3'] p.error[data-field=unit]")
    assert "unité" in unit_error.inner_text()
    _shot(page, "viral-loads-errors-laptop")
    page.click("button[value=save]")
    assert page.locator("tr[data-row='3'] p.error[data-field=unit]").count() == 1
    assert page.locator("#saved-loads").count() == 0  # nothing was saved
    page.select_option("[name=rows-3-unit]", "copies/mL")
    page.click("button[value=save]")
    page.wait_for_selector("#saved-loads")
    assert page.locator("#saved-loads tbody tr").count() == 5
    _shot(page, "viral-loads-laptop")

    page.click(".participant-bar .number")
    page.wait_for_selector("svg.chart")
    _shot(page, "participant-laptop")
    page.goto(f"{base}/")
    _shot(page, "dashboard-laptop")

    tablet = browser.new_context(viewport=TABLET, locale="fr-FR", storage_state=context.storage_state())
    tab = tablet.new_page()
    for path, name in (("/", "dashboard"), (f"/participants/{number}", "participant"),
                       (f"/participants/{number}/viral-loads", "viral-loads"),
                       (f"/participants/{number}/screening/consent", "consent"),
                       (f"/participants/{number}/forms/infusion", "infusion"),
                       (f"/participants/{number}/review", "review")):
        tab.goto(base + path)
        _shot(tab, f"{name}-tablet")
        if name == "participant":  # the chart takes the page's width, not its content's
            chart = tab.locator("svg.chart").bounding_box()
            assert chart is not None and chart["width"] >= 0.8 * TABLET["width"]
    # the chart's legend stays inside the chart in English too (a longer text than in French)
    tab.goto(f"{base}/participants/{number}")
    tab.click("#language-switch")
    tab.wait_for_selector("text=Viral loads (log10)")
    chart = tab.locator("svg.chart").bounding_box()
    legends = tab.locator("svg.chart text.legend")
    assert chart is not None and legends.count() == 3
    for index in range(legends.count()):
        box = legends.nth(index).bounding_box()
        assert box is not None and box["x"] + box["width"] <= chart["x"] + chart["width"]
    # on a tablet the grid's rows wrap: the unit and the preview are in sight, no sideways scroll
    tab.goto(f"{base}/participants/{number}/viral-loads")
    day = d0 + timedelta(days=29)
    _preview_loads(tab, [(day, "3,4E+03", "IU/mL"), (day, "2500", "")], assay)
    preview = tab.locator("tr[data-row='0'] [data-preview]")
    assert "log10 3.53" in preview.inner_text()
    unit_error = tab.locator("tr[data-row='1'] p.error[data-field=unit]")
    for element in (preview, unit_error, tab.locator("[name=rows-1-unit]")):
        box = element.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= TABLET["width"]
    _shot(tab, "viral-loads-preview-tablet")
    tablet.close()
    context.close()

    # a coordinator of another site cannot reach that participant
    other = browser.new_context(viewport=LAPTOP, locale="fr-FR")
    page = other.new_page()
    _sign_in(page, base, world.coordinator_b.email)
    response = page.goto(f"{base}/participants/{number}")
    assert response is not None and response.status == 404
    assert "Participant introuvable." in page.locator("#error-message").inner_text()
    response = page.goto(f"{base}/participants/{number}/viral-loads")
    assert response is not None and response.status == 404
    assert number not in page.locator("main").inner_text()
    other.close()
