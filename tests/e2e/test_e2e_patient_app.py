"""End to end: a patient's week in the patient app, on a phone-sized headless Chromium, against a real server.

Debian's chromium is driven by Playwright for Python (`executable_path`; no browser download), with phone
emulation (360 px wide, touch), service workers allowed and the page clock under the test's control. The
server is werkzeug on 127.0.0.1 (a secure context, so service workers, IndexedDB and crypto.randomUUID
work) on SQLite with the shipped library. The test asserts what the server stored, read from the
database, not what the page says.

Screenshots of every screen at 360 px go to test-artifacts/screenshots/patient-app-*.png; the budgets
(JavaScript and CSS bytes, API calls to open today's screen) are written to
test-artifacts/patient-app-budgets.json and printed.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hep import create_app
from hep import config as settings
from hep.dbtypes import utcnow
from hep.extensions import db
from tests.conftest import app_settings, skip_or_fail
from tests.e2e.test_e2e_web import CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS
from tests.fake_push import FakePushService

pytestmark = pytest.mark.slow

ZONE = "America/Vancouver"
PHONE = {"width": 360, "height": 740}
APP_STATIC = ROOT / "hep" / "patient_app" / "static"
BUDGETS = ROOT / "test-artifacts" / "patient-app-budgets.json"
PASSWORD = "a-long-enough-password"

# Every visible form control has a label, and every button and link is at least 44 x 44 CSS pixels.
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.offsetParent !== null && !['hidden', 'submit', 'button', 'radio'].includes(el.type))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.name || el.id)"""
SMALL_TARGETS = """() => Array.from(document.querySelectorAll('button, a, .score label, summary, select, input'))
  .filter(el => el.offsetParent !== null && !el.closest('p, li.plain, .plain'))
  .map(el => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.width < 44 || r.height < 44)
  .map(([el, r]) => `${el.tagName} ${el.id || el.textContent.trim().slice(0, 30)} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


@pytest.fixture(scope="module")
def push_service():
    with FakePushService() as fake:
        yield fake


@pytest.fixture(scope="module")
def live(sqlite_template, tmp_path_factory, push_service):
    """The app on a real server, with the library, a clinic, a physiotherapist and an invited patient."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: run `python3 tasks.py test`, which installs Debian's chromium")
    from werkzeug.serving import make_server

    from hep.accounts import service as accounts
    from hep.library.loader import load_library
    from hep.sessions.models import NeedlingSession
    from tests.factories import Factories, item, routine_body

    path = tmp_path_factory.mktemp("e2e-app") / "hep.db"
    shutil.copy(sqlite_template, path)
    config = app_settings(
        f"sqlite:///{path}",
        PUSH_ENDPOINT_HOSTS=("127.0.0.1", *settings.PUSH_SERVICE_HOSTS.split(",")),
    )
    config.pop("TESTING")
    app = create_app(config)
    now = utcnow()
    with app.app_context():
        load_library(Path(app.config["EXERCISES_DIR"]), now=now)
        make = Factories()
        clinic = make.clinic(name="Harbour Physio", timezone=ZONE)
        physio = make.physio(clinic, name="Dana Physio")
        patient, activation = accounts.invite_patient(
            physio,
            name="Pat Phone",
            email="pat@example.test",
            phone="+16045550142",
            timezone=ZONE,
            language="en",
            physiotherapist_id=None,
            now=now,
            activation_ttl=3600,
        )
        today = datetime.now(ZoneInfo(ZONE)).date()
        routine = make.routine(
            patient.user,
            routine_body(
                today - timedelta(days=10),
                items=[
                    item("neck-chin-tuck-sitting", sets=2, reps=2, hold_seconds=4, rest_seconds=5),
                    item("core-clamshell", sets=2, reps=3, hold_seconds=None, rest_seconds=5, side="left"),
                ],
            ),
            now=now - timedelta(days=10),
        )
        items = [i.id for i in routine.current.phases[0].items]
        # Some history for the progress screen: pain before and after on past days, a needling session.
        for days_ago, before, after in [(6, 6, 4), (5, 5, 4), (3, 5, 3), (2, 4, 3), (1, 4, 2)]:
            when = now - timedelta(days=days_ago)
            make.log(patient.user, items[0], when, pain_before=before, pain_after=after, now=now)
        db.session.add(
            NeedlingSession(
                patient_id=patient.user_id, physiotherapist_id=physio.id, starts_at=now - timedelta(days=4),
                duration_minutes=30, status="completed", created_at=now, updated_at=now,
            )
        )  # fmt: skip
        db.session.commit()
        from hep.sessions import service as sessions

        sessions.schedule(physio, patient.user_id, {"starts_at": now + timedelta(days=2), "duration_minutes": 45}, now=now)
        info = {"patient_id": patient.user_id, "code": activation.code, "items": items, "today": today}
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", info, app
    server.shutdown()
    thread.join(10)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"patient-app-{name}.png"), full_page=True)


def accessible(page) -> None:
    assert page.evaluate(UNLABELLED) == [], f"unlabelled controls on {page.url}"
    assert page.evaluate(SMALL_TARGETS) == [], f"touch targets under 44 px on {page.url}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"sideways scroll on {page.url}"


def stored_logs(app, patient_id: int) -> list:
    from hep.adherence.models import AdherenceLog

    with app.app_context():
        rows = db.session.scalars(
            select(AdherenceLog).where(AdherenceLog.patient_id == patient_id, AdherenceLog.deleted_at.is_(None))
        ).all()
        result = [(str(r.id), r.routine_item_id, r.sets_done, r.pain_before, r.pain_after, r.note) for r in rows]
        db.session.remove()
    return result


def phone(browser, **extra):
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-CA",
        timezone_id=ZONE,
        service_workers="allow",
        **extra,
    )
    context.set_default_timeout(15_000)
    return context


def test_a_patients_week_on_the_phone(live, browser):
    from playwright.sync_api import expect

    base, info, app = live
    context = phone(browser)
    context.clock.install()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

    # Activate from the invitation's link: the code is filled in, the patient chooses a password.
    page.goto(f"{base}/app/activate?code={info['code']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to HEP")
    expect(page.get_by_label("Activation code")).to_have_value(info["code"])
    accessible(page)
    shot(page, "01-activate")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Activate and start").click()

    # Today: both exercises with their dosage, what is left, the next session.
    expect(page).to_have_url(f"{base}/app/today")
    expect(page.locator("#summary")).to_have_text("2 exercises left today.")
    cards = page.locator("li.item")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("2 × 2 reps · hold 4 s")
    expect(cards.nth(1)).to_contain_text("left side")
    expect(page.locator(".session")).to_contain_text("45 minutes")
    page.evaluate("navigator.serviceWorker.ready")
    accessible(page)
    shot(page, "02-today")
    assert [m for m in console if m.startswith(("error", "pageerror"))] == []
    context.close()
