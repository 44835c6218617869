"""End to end: a physiotherapist's day in a real headless Chromium, against a real server.

Debian's chromium (/usr/bin/chromium; `python3 tasks.py test` installs it when missing) is driven by
Playwright for Python through `executable_path`: Playwright never downloads a browser here. The app
is served by a werkzeug server on 127.0.0.1 on a free port, on SQLite, with the shipped exercise
library, the demo clinic and a second clinic (for the cross-clinic check), and with the production
cookie settings (Secure cookies work on http://127.0.0.1 because browsers treat loopback as secure).

Screenshots of the main pages are written to test-artifacts/screenshots/ at the repository root.
"""

from __future__ import annotations

import io
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from hep.dbtypes import utcnow
from hep.extensions import db
from tests.conftest import skip_or_fail
from tests.live_server import production_app, serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("HEP_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH = 768  # a tablet held upright: the narrowest the web app promises to work at

# Every visible form control must have a label (or an aria-label) that names it.
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => !['hidden', 'submit', 'button'].includes(el.type))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.name || el.id)"""


@pytest.fixture(scope="module")
def live(sqlite_template, tmp_path_factory):
    """The app on a real server, with the library, the demo clinic and an outsider clinic."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: run `python3 tasks.py test`, which installs Debian's chromium")
    from hep import demo
    from hep.content import load_shipped
    from tests.factories import Factories

    app = production_app(sqlite_template, tmp_path_factory.mktemp("e2e"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.app_context():
        load_shipped(Path(app.config["EXERCISES_DIR"]), now=utcnow())
        logins = demo.seed(now=utcnow())
        make = Factories()
        outsider = make.patient(make.clinic(name="Another clinic"), name="Olga Outsider")
        info = {"logins": logins, "outsider_id": outsider.id, "clinic_zone": "America/Vancouver"}
        db.session.remove()
    with serving(app) as base:
        yield base, info
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def labelled(page) -> None:
    assert page.evaluate(UNLABELLED) == [], f"unlabelled controls on {page.url}"


def test_a_physiotherapists_day(live, browser):
    from playwright.sync_api import expect

    base, info = live
    context = browser.new_context(viewport={"width": WIDTH, "height": 1024}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text} at {m.location.get('url')}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign in with the keyboard only: the username field has focus, Tab to the password, Enter.
    page.goto(f"{base}/patients")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    labelled(page)
    shot(page, "01-sign-in")
    expect(page.get_by_label("E-mail address or mobile number")).to_be_focused()  # autofocus, then type
    page.keyboard.type("physio@demo.hep.test")
    page.keyboard.press("Tab")
    page.keyboard.type("demo-physio-pass")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/patients")
    cookie = next(c for c in context.cookies() if c["name"] == "hep_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"

    # The at-risk patient is at the top, with the reasons.
    first = page.locator("table.risk tbody tr").first
    expect(first).to_contain_text("Liam London")
    expect(first).to_contain_text("no exercise logged for")
    labelled(page)
    shot(page, "02-patients-at-risk")
    first.get_by_role("link", name="Liam London").click()
    expect(page.get_by_role("heading", name="Liam London", level=1)).to_be_visible()

    # Build a routine from a template, add an exercise from the library, move it up, save.
    page.get_by_label("Start from a template").select_option("tension-headache")
    page.get_by_role("button", name="Build routine").click()
    expect(page.get_by_label("Title")).to_have_value(re.compile("headache", re.I))
    page.get_by_label("Search the library").fill("chin tuck")
    add = page.locator("#picker-results button[value^='add:']").first
    expect(add).to_be_visible()  # results arrive as you type
    added_slug = add.get_attribute("value").removeprefix("add:")
    add.click()
    added = page.locator(".flash", has_text="Added ").inner_text()
    name = re.search(r"Added (.+) to ", added).group(1)
    item = page.locator("fieldset.item", has=page.locator(f"input[value='{added_slug}']")).last
    item.get_by_role("button", name=re.compile("^Move up")).click()
    labelled(page)
    shot(page, "03-routine-builder")
    page.get_by_role("button", name="Save routine").click()
    expect(page.locator(".flash-success")).to_contain_text("saved")
    routine = page.locator("article.routine").first
    expect(routine).to_contain_text(name)

    # Book a needling session (clinic time), then see it with the chart.
    day = (datetime.now(ZoneInfo(info["clinic_zone"])) + timedelta(days=3)).date()
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Time", exact=True).fill("10:30")
    page.get_by_role("button", name="Book session").click()
    expect(page.locator(".flash-success")).to_contain_text("Session booked")
    expect(page.locator("#sessions")).to_contain_text("10:30")
    chart = page.locator("svg.chart.pain")
    expect(chart).to_be_visible()
    expect(page.locator("#pain-title")).to_have_text("Pain before and after exercise")
    expect(page.locator("svg.chart.heatmap")).to_be_visible()
    labelled(page)
    shot(page, "04-patient")

    # The PDF handout: download it and read it.
    with page.expect_download() as download:
        routine.get_by_role("link", name="PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Home exercises for Liam" in text
    assert "Demo IMS Clinic" in text and name in text and "Steps" in text
    routine.get_by_role("link", name="Handout").click()
    expect(page.get_by_role("heading", name="Home exercises for Liam")).to_be_visible()
    shot(page, "05-handout")

    # The library, searched as you type.
    page.get_by_role("link", name="Library").click()
    page.get_by_label("Search").fill("calf")
    expect(page.locator("#library-results")).to_contain_text("Calf")
    labelled(page)
    shot(page, "06-library")

    # Another clinic's patient, typed by hand: 404, and nothing of them shows.
    outsider_url = f"{base}/patients/{info['outsider_id']}"
    response = page.goto(outsider_url)
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert "Olga" not in page.content()
    shot(page, "07-cross-clinic-404")

    # Sign out: the session ends, pages send you to sign in again.
    page.goto(f"{base}/patients")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash")).to_contain_text("signed out")
    page.goto(f"{base}/patients")
    expect(page).to_have_url(re.compile(r"/login"))

    # No console errors, other than the browser reporting the deliberate 404 above.
    errors = [line for line in console if line.startswith(("error", "pageerror"))]
    errors = [line for line in errors if not (outsider_url in line and "404" in line)]
    assert errors == []
    context.close()


def test_the_library_shows_animated_figures(live, browser):
    """A figure on the library page loads as an image and moves: two moments of it differ."""
    base, _ = live
    context = browser.new_context(viewport={"width": WIDTH, "height": 1024})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/patients")
    # Fill the fields by their labels (typing into the focused field could start before the focus lands).
    page.get_by_label("E-mail address or mobile number").fill("physio@demo.hep.test")
    page.get_by_label("Password").fill("demo-physio-pass")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{base}/patients")
    page.goto(f"{base}/library?q=neck+side-bends")
    figure = page.locator("picture.figure img").first
    figure.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=figure.element_handle())
    before = figure.screenshot()
    page.wait_for_timeout(1500)
    assert figure.screenshot() != before, "the figure did not move"
    shot(page, "08-library-figures")
    context.close()
