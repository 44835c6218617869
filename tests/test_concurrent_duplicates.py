"""The same write sent 20 times at once to a real server (gunicorn, 4 workers, PostgreSQL) is answered
as the README's retries table says: one create and 409s, or "nothing changes" and one row. Never a 500.

Each race uses state of its own (a patient, a key), so a first-time write is really the first.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from hep import create_app
from hep.extensions import db
from tests.conftest import app_settings, create_pg_database, drop_pg_database, require_postgresql
from tests.factories import Factories, exercise_data, item

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
TWILIO_TOKEN = "race-test-token"
TIMES = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(url: str) -> dict:
    from flask_migrate import upgrade

    app = create_app(app_settings(url))
    with app.app_context():
        upgrade()
        make = Factories()
        clinic = make.clinic(name="Race clinic")
        admin, physio = make.admin(clinic), make.physio(clinic)
        make.exercise(slug="library-exercise")
        patients = {
            name: make.patient(clinic, physio, timezone="UTC", phone=f"+4474009000{n:02d}")
            for n, name in enumerate(("consent", "feed", "inbound", "session"))
        }
        from hep.reminders import consent

        consent.grant(physio, patients["inbound"].id, "verbal", now=datetime.now(UTC))
        world = {
            "admin": make.headers(admin)["Authorization"],
            "physio": make.headers(physio)["Authorization"],
            "patients": {name: user.id for name, user in patients.items()},
            "inbound_phone": patients["inbound"].phone,
        }
        db.session.remove()
        db.engine.dispose()
    return world


@pytest.fixture(scope="module")
def server():
    require_postgresql("the concurrent-duplicates test")
    url = create_pg_database("hep_race")
    world = _seed(url)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "race",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "HEP_LOGIN_RATE_LIMIT": "10000 per minute",
    }
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"hep-race-{port}.log", "w+b")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "4", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read().decode()[-3000:]
            try:
                urllib.request.urlopen(f"{base}/livez", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        yield base, world, url
    finally:
        process.terminate()
        process.wait(30)
        log.seek(0)
        errors = [line for line in log.read().decode(errors="replace").splitlines() if "Traceback" in line]
        log.close()
        drop_pg_database(url)
    assert errors == [], "the server logged tracebacks"


def fire(url: str, *, method: str = "POST", body=None, headers=None, form=None) -> list[tuple[int, bytes]]:
    """Send the same request TIMES times at once (released together by a barrier)."""
    barrier = threading.Barrier(TIMES)
    data = json.dumps(body).encode() if body is not None else None
    headers = dict(headers or {})
    if data is not None:
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"

    def one(_n):
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    with ThreadPoolExecutor(TIMES) as pool:
        return list(pool.map(one, range(TIMES)))


def count(url: str, sql: str, **params) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql), params).scalar()
    engine.dispose()
    return value


def statuses(answers) -> Counter:
    return Counter(status for status, _body in answers)


def test_the_same_template_key_is_created_once_and_then_409(server):
    base, world, _url = server
    body = {
        "key": "race-template",
        "name": "Race template",
        "condition": "neck-pain",
        "summary": "Made twenty times at once.",
        "duration_weeks": 2,
        "phases": [{"name": "All", "start_week": 1, "items": [item("library-exercise")]}],
    }
    answers = fire(f"{base}/api/v1/templates", body=body, headers={"Authorization": world["physio"]})
    assert statuses(answers) == {201: 1, 409: TIMES - 1}
    conflicts = [json.loads(b) for s, b in answers if s == 409]
    assert {p["name"] for c in conflicts for p in c["invalid_params"]} == {"key"}


def test_the_same_clinic_exercise_slug_is_created_once_and_then_409(server):
    base, world, _url = server
    body = exercise_data(slug="race-exercise")
    answers = fire(f"{base}/api/v1/exercises", body=body, headers={"Authorization": world["physio"]})
    assert statuses(answers) == {201: 1, 409: TIMES - 1}


def test_the_same_patient_is_invited_once_and_then_409(server):
    base, world, url = server
    body = {"name": "Rae Race", "email": "rae@race.example", "timezone": "UTC"}
    answers = fire(f"{base}/api/v1/patients", body=body, headers={"Authorization": world["physio"]})
    assert statuses(answers) == {201: 1, 409: TIMES - 1}
    assert count(url, "SELECT count(*) FROM users WHERE email = 'rae@race.example'") == 1


def test_the_same_sms_template_saved_first_time_is_stored_once(server):
    base, world, url = server
    body = {"body": "{clinic}: a small nudge for today. Open the HEP app. Reply STOP to opt out."}
    answers = fire(
        f"{base}/api/v1/clinic/message-templates/exercise/fr",
        method="PUT",
        body=body,
        headers={"Authorization": world["admin"]},
    )
    assert statuses(answers) == {200: TIMES}
    assert count(url, "SELECT count(*) FROM message_templates WHERE kind = 'exercise' AND language = 'fr'") == 1


def test_the_same_reminder_settings_changed_first_time_are_stored_once(server):
    base, world, url = server
    answers = fire(
        f"{base}/api/v1/clinic/reminder-settings",
        method="PATCH",
        body={"max_per_week": 5},
        headers={"Authorization": world["admin"]},
    )
    assert statuses(answers) == {200: TIMES}
    assert count(url, "SELECT count(*) FROM reminder_settings") == 1


def test_the_same_consent_recorded_first_time_changes_nothing_the_second_time(server):
    base, world, url = server
    patient = world["patients"]["consent"]
    answers = fire(
        f"{base}/api/v1/patients/{patient}/sms/consent",
        body={"method": "verbal"},
        headers={"Authorization": world["physio"]},
    )
    assert statuses(answers) == {201: TIMES}
    assert count(url, "SELECT count(*) FROM consent_events WHERE patient_id = :p", p=patient) == 1
    assert count(url, "SELECT count(*) FROM reminders WHERE patient_id = :p AND kind = 'consent'", p=patient) == 1


def test_the_same_calendar_link_made_first_time_leaves_one_link(server):
    base, world, url = server
    patient = world["patients"]["feed"]
    answers = fire(f"{base}/api/v1/patients/{patient}/calendar-feed", headers={"Authorization": world["physio"]})
    assert statuses(answers) == {201: TIMES}
    assert count(url, "SELECT count(*) FROM calendar_feeds WHERE patient_id = :p", p=patient) == 1
    opened = Counter()
    for _status, body in answers:
        try:
            with urllib.request.urlopen(json.loads(body)["url"], timeout=10) as response:
                opened[response.status] += 1
        except urllib.error.HTTPError as error:
            opened[error.code] += 1
    assert opened == {200: 1, 404: TIMES - 1}  # a new link voids the old: the last one made is the link


def test_a_concurrently_redelivered_inbound_text_acts_once_and_gets_one_answer(server):
    base, world, url = server
    endpoint = f"{base}/webhooks/twilio/inbound"
    form = {"MessageSid": "SM" + "7" * 32, "From": world["inbound_phone"], "To": "+15005550006", "Body": "4"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(endpoint, form)
    answers = fire(endpoint, form=form, headers={"X-Twilio-Signature": signature})
    assert statuses(answers) == {200: TIMES}
    assert len({body for _status, body in answers}) == 1 and b"<Message>" in answers[0][1]
    assert count(url, "SELECT count(*) FROM inbound_messages") == 1
    assert count(url, "SELECT count(*) FROM pain_reports") == 1


def test_the_same_session_booked_at_once_is_one_session(server):
    base, world, _url = server
    patient = world["patients"]["session"]
    starts = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    answers = fire(
        f"{base}/api/v1/patients/{patient}/sessions",
        body={"starts_at": starts},
        headers={"Authorization": world["physio"]},
    )
    assert statuses(answers) == {201: TIMES}
    assert len({json.loads(body)["id"] for _status, body in answers}) == 1
