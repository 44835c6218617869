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
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fakes.push import FakePushService
from hep import config as settings
from hep.dbtypes import utcnow
from hep.extensions import db
from tests.conftest import skip_or_fail
from tests.e2e.test_e2e_web import CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS
from tests.live_server import production_app, serving

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
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    'button, a, .score label, summary, select, input:not([type=radio])'))
  .filter(el => el.offsetParent !== null && !el.closest('p, li.plain, .plain'))
  .map(el => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.width < 44 || r.height < 44)
  .map(([el, r]) => `${el.tagName} ${el.id || el.textContent.trim().slice(0, 30)} `
    + `${Math.round(r.width)}x${Math.round(r.height)}`)"""


@pytest.fixture(scope="module")
def push_service():
    with FakePushService() as fake:
        yield fake


@pytest.fixture(scope="module")
def live(sqlite_template, tmp_path_factory, push_service):
    """The app on a real server, with the library, a clinic, a physiotherapist and an invited patient."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: run `python3 tasks.py test`, which installs Debian's chromium")
    from hep.accounts import service as accounts
    from hep.content import load_shipped
    from hep.sessions.models import NeedlingSession
    from tests.factories import Factories, item, routine_body

    app = production_app(
        sqlite_template,
        tmp_path_factory.mktemp("e2e-app"),
        PUSH_ENDPOINT_HOSTS=("127.0.0.1", *settings.PUSH_SERVICE_HOSTS.split(",")),
    )
    figures = _figures(app)
    now = utcnow()
    with app.app_context():
        load_shipped(Path(app.config["EXERCISES_DIR"]), now=now)
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
        # A second patient, already activated (a password), for the sign-in, lost-answer and push tests.
        other = make.patient(clinic, physio, timezone=ZONE, email="sam@example.test", password=PASSWORD, name="Sam")
        clamshell_right = item("core-clamshell", sets=2, reps=5, side="right")
        other_routine = make.routine(other, routine_body(today - timedelta(days=3), items=[clamshell_right]), now=now)
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

        upcoming = {"starts_at": now + timedelta(days=2), "duration_minutes": 45}
        sessions.schedule(physio, patient.user_id, upcoming, now=now)
        info = {
            "patient_id": patient.user_id,
            "code": activation.code,
            "items": items,
            "today": today,
            "other": {"id": other.id, "email": other.email, "item": other_routine.current.phases[0].items[0].id},
            "figures": figures,
        }
        db.session.remove()
    with serving(app) as base:
        yield base, info, app
    with app.app_context():
        db.engine.dispose()


def _figures(app) -> list[tuple[str, dict]]:
    """Record every figure request the app makes (path and query)."""
    from flask import request

    seen: list[tuple[str, dict]] = []

    @app.before_request
    def _record():
        if request.path.endswith("/figure.svg"):
            seen.append((request.path, request.args.to_dict()))

    return seen


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:
    """The whole screen (scrolled), and what a phone shows first (the README's pictures come from these)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"patient-app-{name}-phone.png"), scale="css")
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


def eventually(check, timeout: float = 10.0, page=None) -> None:
    """Wait for something the app does in the background (a sync) to show on the server. With `page`,
    wait in Playwright's event loop, so that protocol events keep arriving meanwhile."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "it never happened"
        page.wait_for_timeout(100) if page else time.sleep(0.1)


# Headless Chromium refuses every Screen Wake Lock (and has no push service): record what the app asks.
WAKE_LOCK_PROBE = """
window.__wakeLocks = [];
if (navigator.wakeLock) {
  navigator.wakeLock.request = async (type) => {
    const sentinel = new EventTarget();
    sentinel.type = type;
    sentinel.released = false;
    sentinel.release = async () => { sentinel.released = true; sentinel.dispatchEvent(new Event('release')); };
    window.__wakeLocks.push(sentinel);
    return sentinel;
  };
}
"""


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


def errors_in(console: list[str]) -> list[str]:
    """Script errors. The browser's own "Failed to load resource" lines are expected here: requests made
    offline, the service worker's offline answer (503), and the figure endpoint's 404 for an exercise
    without a figure (the app shows a sentence instead)."""
    return [m for m in console if m.startswith(("error", "pageerror")) and "Failed to load resource" not in m]


def local_entries(page) -> list[dict]:
    return page.evaluate(
        "async () => (await import('/app/static/js/store.js')).getSession().then(async (s) => "
        "(await import('/app/static/js/store.js')).listEntries(s.patient_id))"
    )


def watch_console(page) -> list[str]:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    return console


def pick_score(page, name: str, value: int) -> None:
    page.locator(f"label[for='{name}-{value}']").tap()


def test_a_patients_week_on_the_phone(live, browser):
    from playwright.sync_api import expect

    base, info, app = live
    patient_id, (chin_tuck, clamshell) = info["patient_id"], info["items"]
    before = {row[0] for row in stored_logs(app, patient_id)}
    context = phone(browser)
    context.clock.install()
    context.add_init_script(WAKE_LOCK_PROBE)
    page = context.new_page()
    console = watch_console(page)

    # Activate from the invitation's link: the code is filled in, the patient chooses a password.
    page.goto(f"{base}/app/activate?code={info['code']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to HEP")
    expect(page.get_by_label("Activation code")).to_have_value(info["code"])
    accessible(page)
    shot(page, "01-activate")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Activate and start").tap()

    # Today: both exercises with their dosage, what is left, the next session.
    expect(page).to_have_url(f"{base}/app/today")
    expect(page.locator("#summary")).to_have_text("2 exercises left today.")
    cards = page.locator("li.item")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("2 \u00d7 2 reps · hold 4 s")
    expect(cards.nth(1)).to_contain_text("2 \u00d7 3 reps · left side")
    expect(page.locator(".session")).to_contain_text("45 minutes")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    accessible(page)
    shot(page, "02-today")

    # An exercise: instructions, the figure (or a note that it has none yet), then the guided mode.
    cards.first.get_by_role("link", name="Start").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chin tuck, sitting")
    expect(page.locator(".steps li").first).to_be_visible()
    expect(page.get_by_role("img", name="How to do Chin tuck, sitting")).to_be_visible()
    assert info["figures"][-1] == ("/api/v1/exercises/neck-chin-tuck-sitting/figure.svg", {})  # both sides: as drawn
    accessible(page)
    shot(page, "03-exercise")

    # The guided mode with the page clock paused: get ready 3 s, hold 4 s (x2 reps), rest 5 s, set 2.
    page.clock.pause_at(datetime.now() + timedelta(seconds=2))
    page.get_by_role("button", name="Start guided").tap()
    phase, clock, counters = page.locator("#guide-phase"), page.locator("#guide-clock"), page.locator("#guide-counters")
    expect(phase).to_have_text("Get ready")
    expect(clock).to_have_text("3")
    expect(counters).to_have_text("Set 1 of 2 · rep 1 of 2")
    page.clock.run_for(100)
    expect(page.locator("#live")).to_have_text("Set 1 of 2, rep 1 of 2. Get ready.")
    page.clock.run_for(1000)
    expect(clock).to_have_text("2")
    page.clock.run_for(1900)
    expect(phase).to_have_text("Hold")
    expect(clock).to_have_text("4")
    page.clock.run_for(100)
    expect(page.locator("#live")).to_have_text("Hold for 4 seconds.")
    assert page.evaluate("window.__wakeLocks.map(l => [l.type, l.released])") == [["screen", False]]
    shot(page, "04-guided-hold")
    page.clock.run_for(4000 + 3000)  # rep 1's hold ends, rep 2 gets ready
    expect(phase).to_have_text("Hold")
    expect(counters).to_have_text("Set 1 of 2 · rep 2 of 2")
    page.clock.run_for(4000)
    expect(phase).to_have_text("Rest")
    expect(clock).to_have_text("5")
    expect(counters).to_have_text("Set 1 of 2 done")
    page.get_by_role("button", name="Pause").tap()
    page.clock.run_for(10_000)
    expect(clock).to_have_text("5")  # paused: the rest timer waits
    page.get_by_role("button", name="Resume").tap()
    page.clock.run_for(5000 + 3000 + 4000 + 3000 + 4000)
    expect(page.locator("#guide-done")).to_contain_text("2 of 2 sets done.")
    page.clock.run_for(100)
    expect(page.locator("#live")).to_have_text("All sets done. Well done!")
    assert page.evaluate("window.__wakeLocks.map(l => l.released)") == [True]  # the screen may sleep again
    page.clock.resume()

    # Log it: the guide filled in sets, reps and hold; add pain before and after, difficulty and a note.
    page.get_by_role("link", name="Log it").tap()
    expect(page).to_have_url(re.compile(r"/app/log\?item=\d+&sets=2&reps=2&hold=4"))
    expect(page.get_by_role("spinbutton", name="Sets done")).to_have_value("2")
    expect(page.get_by_role("spinbutton", name="Reps per set")).to_have_value("2")
    expect(page.get_by_role("spinbutton", name="Hold (seconds)")).to_have_value("4")
    pick_score(page, "pain_before", 5)
    pick_score(page, "pain_after", 3)
    pick_score(page, "difficulty", 4)
    page.get_by_label("Note for your physiotherapist (optional)").fill("Felt easier on the second set")
    accessible(page)
    shot(page, "05-log")
    page.get_by_role("button", name="Save", exact=True).tap()
    first = page.locator("li.entry").first
    expect(first).to_contain_text("Sent to your clinic")
    expect(first).to_contain_text("pain 5 → 3")
    stored = [row for row in stored_logs(app, patient_id) if row[0] not in before]
    assert [row[1:] for row in stored] == [(chin_tuck, 2, 5, 3, "Felt easier on the second set")]

    # Offline: three more entries are kept on the phone; a reload still opens the app and shows them.
    context.set_offline(True)
    for n, (item_id, sets, pain) in enumerate([(clamshell, 2, 2), (chin_tuck, 1, 4), (clamshell, 1, 3)], start=1):
        page.get_by_label("Exercise").select_option(str(item_id))
        page.get_by_role("spinbutton", name="Sets done").fill(str(sets))
        pick_score(page, "pain_before", pain)
        page.get_by_role("button", name="Save", exact=True).tap()
        # Wait for this save (the form is drawn afresh after it) before choosing the next exercise.
        expect(page.locator("li.entry", has_text="Waiting for your clinic to confirm")).to_have_count(n)
        expect(page.locator("#log-status")).to_contain_text("It will be sent when you are back online.")
    waiting = [e for e in local_entries(page) if e["state"] == "pending"]
    assert len(waiting) == 3
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log")
    expect(page.locator("#net")).to_contain_text("Offline")
    expect(page.locator("li.entry", has_text="Waiting for your clinic to confirm")).to_have_count(3)
    page.evaluate("document.getElementById('recent-title').scrollIntoView()")
    shot(page, "06-log-offline")
    page.get_by_role("link", name="Today", exact=True).tap()
    expect(page.locator(".notice").first).to_contain_text("Offline: this is the plan saved on this phone.")
    expect(page.locator("#waiting")).to_have_text("3 entries are waiting to be sent.")
    expect(page.locator("#summary")).to_have_text("All done for today. Well done!")  # the phone's entries count
    page.locator("li.item").first.get_by_role("link", name="Start").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chin tuck, sitting")  # the routine was kept
    expect(page.get_by_role("img", name="How to do Chin tuck, sitting")).to_be_visible()  # and the figure
    page.get_by_role("link", name="Back to today").tap()
    page.locator("li.item").nth(1).get_by_role("link", name="Start").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clamshell")
    expect(page.locator(".no-figure")).to_have_text("No picture for this exercise yet.")
    assert len([r for r in stored_logs(app, patient_id) if r[0] not in before]) == 1  # nothing reached the server

    # Back online: the app sends them, and the server has exactly those entries, once each.
    context.set_offline(False)
    page.get_by_role("link", name="Log", exact=True).tap()
    # Each is "Sent to your clinic", or "Your clinic has it" when a resend found it there already (the
    # service worker's Background Sync may have sent it first and lost its answer): stored either way.
    eventually(lambda: [e["state"] for e in local_entries(page)] == ["stored"] * 4, page=page)
    assert {e["result"]["status"] for e in local_entries(page)} <= {"created", "duplicate"}
    expect(page.locator("li.entry .status.wait")).to_have_count(0)
    new = {row[0]: row[1:] for row in stored_logs(app, patient_id) if row[0] not in before}
    assert sorted(new.values(), key=str) == sorted(
        [
            (chin_tuck, 2, 5, 3, "Felt easier on the second set"),
            (clamshell, 2, 2, None, None),
            (chin_tuck, 1, 4, None, None),
            (clamshell, 1, 3, None, None),
        ],
        key=str,
    )
    assert set(new) == {e["id"] for e in local_entries(page)}

    # Correct one and delete another: the server follows.
    target = page.locator("li.entry", has_text="Clamshell").first
    corrected_id = target.get_attribute("data-id")
    target.get_by_role("button", name=re.compile("^Edit")).tap()
    expect(page.locator("#form-title")).to_have_text("Correct an entry")
    pick_score(page, "pain_after", 1)
    page.get_by_role("button", name="Save changes").tap()
    expect(page.locator(f"li.entry[data-id='{corrected_id}']")).to_contain_text("Correction sent")
    doomed = page.locator("li.entry", has_text="Chin tuck").first
    doomed_id = doomed.get_attribute("data-id")
    doomed.get_by_role("button", name=re.compile("^Delete")).tap()
    expect(page.get_by_role("dialog")).to_contain_text("Delete this entry?")
    page.get_by_role("button", name="Delete", exact=True).tap()
    expect(page.locator(f"li.entry[data-id='{doomed_id}']")).to_have_count(0)
    eventually(lambda: doomed_id not in {row[0] for row in stored_logs(app, patient_id)})
    rows = {row[0]: row for row in stored_logs(app, patient_id)}
    assert rows[corrected_id][4] == 1

    # Progress: streak, this week, the pain chart with the needling session marked, upcoming sessions.
    page.get_by_role("link", name="Progress", exact=True).tap()
    expect(page.locator("#week")).to_contain_text("of this week's exercises done")
    expect(page.locator("svg.chart.pain line.needling")).to_have_count(1)
    expect(page.locator("svg.chart.pain circle.mark")).not_to_have_count(0)
    expect(page.locator("#upcoming li")).to_have_count(1)
    page.get_by_role("button", name="Get a calendar link").tap()
    expect(page.get_by_label("Or copy the link")).to_have_value(re.compile(r"/calendar/.+\.ics$"))
    accessible(page)
    shot(page, "07-progress")

    # Settings: texts, times, language. French now, then back.
    page.get_by_role("link", name="Settings", exact=True).tap()
    expect(page.locator("#texts")).to_contain_text("reply STOP")
    page.get_by_role("button", name="Send me reminder texts").tap()
    expect(page.locator("#texts")).to_contain_text("You get reminder texts at +16045550142.")
    page.get_by_label("Time 1").fill("07:30")
    page.get_by_role("button", name="Save times").tap()
    expect(page.locator("#settings-status")).to_have_text("Reminder times saved.")
    accessible(page)
    shot(page, "08-settings")
    page.get_by_label("Language of the app").select_option("fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Réglages")
    expect(page.get_by_role("link", name="Aujourd'hui")).to_be_visible()
    shot(page, "09-settings-fr")
    with app.app_context():
        from hep.accounts.models import Patient
        from hep.reminders.models import SmsContact

        saved = db.session.get(Patient, patient_id)
        contact = db.session.get(SmsContact, patient_id)
        assert saved.language == "fr"
        assert (contact.status, contact.exercise_times) == ("active", ["07:30"])
        db.session.remove()
    page.get_by_label("Langue de l'app").select_option("en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")

    # Budgets (recorded, not asserted): a cold open of today's screen, and the app's code size.
    opened = context.new_page()
    api_calls: list[str] = []
    opened.on("request", lambda r: api_calls.append(f"{r.method} {r.url}") if "/api/" in r.url else None)
    opened.goto(f"{base}/app/today")
    expect(opened.locator("li.item")).to_have_count(2)
    opened.wait_for_load_state("networkidle")
    record_budgets(api_calls)
    opened.close()

    # Sign out: the tokens and the entries leave the phone; the sign-in screen is next.
    page.get_by_role("button", name="Sign out").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert page.evaluate("async () => (await import('/app/static/js/store.js')).getSession()") is None
    accessible(page)
    shot(page, "10-sign-in")
    assert errors_in(console) == [], console
    context.close()


def record_budgets(api_calls: list[str]) -> None:
    files = [p for p in APP_STATIC.rglob("*") if p.suffix in (".js", ".css")]
    js = [p for p in files if p.suffix == ".js"]
    css = [p for p in files if p.suffix == ".css"]
    size = lambda paths: sum(p.stat().st_size for p in paths)  # noqa: E731
    gz = lambda paths: sum(len(gzip.compress(p.read_bytes(), 9)) for p in paths)  # noqa: E731
    budgets = {
        "javascript_bytes": size(js),
        "javascript_gzip_bytes": gz(js),
        "javascript_files": len(js),
        "of_which_vendored_idb_bytes": (APP_STATIC / "vendor/idb/index.js").stat().st_size,
        "css_bytes": size(css),
        "css_gzip_bytes": gz(css),
        "api_calls_to_open_today": len(api_calls),
        "api_calls": [re.sub(r"https?://[^/]+", "", c) for c in api_calls],
    }
    BUDGETS.parent.mkdir(parents=True, exist_ok=True)
    BUDGETS.write_text(json.dumps(budgets, indent=2) + "\n")
    print("patient app budgets:", json.dumps(budgets))


def sign_in(page, base: str, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/app/")
    expect(page).to_have_url(f"{base}/app/sign-in")
    page.get_by_label("E-mail or mobile number").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")


def test_a_lost_sync_answer_stores_nothing_twice(live, browser):
    """The server stores the entry, the answer never reaches the phone; the resend is a duplicate."""
    from playwright.sync_api import expect

    base, info, app = live
    other = info["other"]
    context = phone(browser, reduced_motion="reduce")
    page = context.new_page()
    sign_in(page, base, other["email"])

    # This patient prefers reduced motion and does the clamshell on the right: the still figure, mirrored.
    page.locator("li.item").first.get_by_role("link", name="Start").tap()
    expect(page.get_by_role("img", name="How to do Clamshell right side")).to_be_visible()
    assert info["figures"][-1] == ("/api/v1/exercises/core-clamshell/figure.svg", {"side": "right", "static": "1"})
    answers: list[dict] = []

    def lose_the_answer(route):
        response = route.fetch()  # the request reaches the server, which stores the entry...
        answers.append(response.json())
        route.abort("connectionreset")  # ...and the phone never hears back

    page.route("**/api/v1/patients/*/logs/batch", lose_the_answer)
    page.get_by_role("navigation").get_by_role("link", name="Log").tap()
    page.get_by_role("spinbutton", name="Sets done").fill("2")
    pick_score(page, "pain_before", 6)
    page.get_by_role("button", name="Save", exact=True).tap()
    eventually(lambda: answers, page=page)
    assert [r["status"] for r in answers[0]["results"]] == ["created"]  # stored, but the phone never heard
    page.unroute("**/api/v1/patients/*/logs/batch")

    # The app sends the same entry again (same id, same content): from the service worker's Background
    # Sync at once, or else when the app next opens; either way the server answers "duplicate".
    entry = page.locator("li.entry").first
    try:
        expect(entry).to_contain_text("Your clinic has it", timeout=5000)
    except AssertionError:
        page.reload()
        expect(page.locator("li.entry").first).to_contain_text("Your clinic has it")
    [local] = local_entries(page)
    assert (local["state"], local["sent"], local["result"]["status"]) == ("stored", True, "duplicate")
    assert [row[:4] for row in stored_logs(app, other["id"])] == [(local["id"], other["item"], 2, 6)]
    context.close()


# Chromium headless has no push service (its PushManager.subscribe needs Google's FCM and fails with
# "Registration failed"), so the browser's subscription is replaced by one at the fake push service:
# the app's own code asks for permission, subscribes with the server's VAPID key and posts the result.
PUSH_STUB = """
(() => {
  const subscription = %s;
  let current = null;
  window.__pushKeys = [];
  PushManager.prototype.subscribe = async function (options) {
    window.__pushKeys.push(btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)))
      .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''));
    current = {
      endpoint: subscription.endpoint,
      options: { userVisibleOnly: options.userVisibleOnly, applicationServerKey: options.applicationServerKey.buffer },
      toJSON: () => subscription,
      unsubscribe: async () => { current = null; return true; },
    };
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


def test_push_from_the_settings_tap_to_a_notification(live, browser, push_service, tmp_path):
    from playwright.sync_api import expect

    from hep.accounts.models import Patient, User
    from hep.push.models import PushSubscription
    from hep.push.webpush import WebPushSender, application_server_key
    from hep.reminders.dispatch import Dispatcher
    from hep.reminders.models import Reminder, ReminderSettings
    from hep.reminders.sms import ConsoleBackend
    from hep.sessions import service as sessions
    from hep.wording import HEALTH_WORDS

    base, info, app = live
    other = info["other"]
    subscription = push_service.new_subscription()
    context = phone(browser)
    context.grant_permissions(["notifications"], origin=base)
    context.add_init_script(PUSH_STUB % json.dumps(subscription))
    page = context.new_page()
    sign_in(page, base, other["email"])
    page.get_by_role("link", name="Settings", exact=True).tap()
    expect(page.locator("#channel-now")).to_have_text("Now: text messages (when you have agreed to texts).")
    page.get_by_role("button", name="Turn on notifications").tap()  # the explicit tap
    expect(page.locator("#channel-now")).to_have_text("Now: notifications on this phone.")
    expect(page.locator("#settings-status")).to_have_text("Notifications are on. Reminders come to this phone.")
    server_key = application_server_key(app.config["VAPID_PRIVATE_KEY"])
    assert page.evaluate("window.__pushKeys") == [server_key]
    with app.app_context():
        row = db.session.scalar(select(PushSubscription).where(PushSubscription.patient_id == other["id"]))
        assert (row.endpoint, row.ended_at) == (subscription["endpoint"], None)
        assert db.session.get(Patient, other["id"]).reminder_channel == "push"
        db.session.remove()
    shot(page, "11-settings-push")

    # A push through the fake push service: VAPID checked, payload decrypted, nothing clinical in it.
    page.get_by_role("button", name="Send a test notification").tap()
    expect(page.locator("#settings-status")).to_have_text("Test sent: it should appear in a moment.")
    [message] = push_service.wait_for(1)
    assert message.vapid_key == server_key and message.claims["aud"] == push_service.origin
    assert message.payload["title"] == "Harbour Physio" and message.payload["url"] == "/app/settings"
    assert not [w for w in HEALTH_WORDS if w in message.payload["body"].lower()]

    # The decrypted message handed to the service worker (as the browser's push service would): it
    # shows a notification.
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    eventually(lambda: any(r["scopeURL"] == f"{base}/app/" for r in registrations), page=page)
    registration = next(r for r in registrations if r["scopeURL"] == f"{base}/app/")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration["registrationId"], "data": json.dumps(message.payload)},
    )
    shown = "async () => (await (await navigator.serviceWorker.ready).getNotifications()).map(n => [n.title, n.body])"
    eventually(lambda: page.evaluate(shown) != [], page=page)
    assert page.evaluate(shown) == [[message.payload["title"], message.payload["body"]]]

    # A real reminder, through the reminder engine: the physiotherapist books a session in an hour; the
    # scheduler's dispatcher sends its reminder by push (the patient's channel), not by text.
    with app.app_context():
        patient = db.session.get(Patient, other["id"])
        physio = db.session.get(User, patient.physiotherapist_id)
        db.session.merge(
            ReminderSettings(clinic_id=physio.clinic_id, window_start="00:00", window_end="23:59", pre_session_hours=1)
        )
        db.session.commit()
        starts = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=59)
        sessions.schedule(physio, other["id"], {"starts_at": starts, "duration_minutes": 30}, now=utcnow())
        key = app.config["VAPID_PRIVATE_KEY"]
        outbox = tmp_path / "outbox.jsonl"  # this dispatcher's texts (other tests' patients share the database)
        dispatcher = Dispatcher(
            backend=ConsoleBackend(outbox),
            owner="e2e-scheduler",
            push_sender=lambda: WebPushSender(key, "mailto:ops@clinic.test", timeout=5),
        )
        # (Today's exercise reminder may be due too, at some hours of the day: it goes by push as well.)
        assert dispatcher.run_once()["sent"] >= 1
        dispatcher.close()
        sent = db.session.scalars(
            select(Reminder).where(Reminder.patient_id == other["id"], Reminder.status == "sent")
        ).all()
        [reminder] = [r for r in sent if r.kind == "pre_session"]
        assert {r.channel for r in sent} == {"push"}  # every reminder of this patient went by push, none as a text
        db.session.remove()
    push_service.wait_for(2)
    [reminded] = [m for m in push_service.messages if m.payload["kind"] == "pre_session"]
    assert reminded.payload["url"] == "/app/progress" and reminded.headers["topic"] == f"r{reminder.id}"

    # Turning notifications off ends the subscription and sets reminders back to texts.
    page.get_by_role("button", name="Turn off notifications on this phone").tap()
    expect(page.locator("#settings-status")).to_have_text("Notifications are off on this phone.")
    with app.app_context():
        row = db.session.scalar(select(PushSubscription).where(PushSubscription.patient_id == other["id"]))
        assert row.ended_reason == "unsubscribed"
        assert db.session.get(Patient, other["id"]).reminder_channel == "sms"
        db.session.remove()
    context.close()
