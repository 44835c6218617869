"""Real scheduler processes against PostgreSQL and the fake Twilio: killed mid-dispatch, or several
at once, every due reminder reaches Twilio exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes.twilio import FakeTwilio
from hep import create_app
from hep.extensions import db
from hep.reminders import consent
from hep.reminders.models import Reminder, ReminderSettings
from tests.conftest import app_settings, create_pg_database, drop_pg_database
from tests.factories import Factories

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
SID, TOKEN = "AC" + "2" * 32, "process-test-token"


@pytest.fixture
def pg_url():
    url = create_pg_database("hep_procs")
    yield url
    drop_pg_database(url)


@pytest.fixture
def fake():
    with FakeTwilio(SID, TOKEN) as server:
        server.latency = 0.02
        yield server


def seed(url: str, patients: int) -> None:
    """Migrate, and give `patients` consenting patients one confirmation text each, due now."""
    from flask_migrate import upgrade

    app = create_app(app_settings(url))
    with app.app_context():
        upgrade()
        make = Factories()
        physio = make.physio()
        db.session.add(ReminderSettings(clinic_id=physio.clinic_id, window_start="00:00", window_end="23:59"))
        db.session.commit()
        for n in range(patients):
            patient = make.patient(physio.clinic, physio, timezone="UTC", phone=f"+4474001{n:05d}")
            consent.grant(physio, patient.id, "verbal", now=datetime.now(UTC))
        db.session.remove()
        db.engine.dispose()


def scheduler(url: str, fake: FakeTwilio, tmp: Path, pause_at: str | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "x",
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_BASE_URL": fake.base_url,
        "HEP_REMINDER_LEASE_SECONDS": "2",
        "HEP_RECONCILE_RECHECK_SECONDS": "1",
        "HEP_SMS_MAX_PER_SECOND": "500",
    }
    if pause_at:
        env.update(HEP_TEST_PAUSE_AT=pause_at, HEP_TEST_PAUSE_MARKER=str(tmp / "paused"))
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the scheduler never reached the pause point"
        time.sleep(0.05)


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()[-3000:]


def statuses(url: str) -> Counter:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = Counter(conn.execute(sa.select(Reminder.status)).scalars())
    engine.dispose()
    return counts


def assert_each_sent_once(fake: FakeTwilio, patients: int) -> None:
    per_number = Counter(m["to"] for m in fake.messages)
    assert len(per_number) == patients and set(per_number.values()) == {1}, per_number.most_common(3)


@pytest.mark.parametrize("point", ["before-send", "after-send"])
def test_a_scheduler_killed_mid_dispatch_loses_nothing_and_duplicates_nothing(pg_url, fake, tmp_path, point):
    seed(pg_url, patients=12)
    victim = scheduler(pg_url, fake, tmp_path, pause_at=point)
    wait_for(tmp_path / "paused", victim)
    victim.send_signal(signal.SIGKILL)  # between claim and send, or between send and recording it
    victim.wait()
    victim.stderr.close()
    time.sleep(2.5)  # its lease runs out
    finish(scheduler(pg_url, fake, tmp_path))  # what it had in `sending` is looked up at Twilio...
    time.sleep(1.2)
    finish(scheduler(pg_url, fake, tmp_path))  # ... and, not found twice, sent again (or found: recorded)
    assert_each_sent_once(fake, 12)
    assert statuses(pg_url) == {"sent": 12}


@pytest.mark.parametrize("processes", [2, 3])
def test_concurrent_schedulers_send_every_reminder_exactly_once(pg_url, fake, tmp_path, processes):
    seed(pg_url, patients=90)
    running = [scheduler(pg_url, fake, tmp_path) for _ in range(processes)]
    for process in running:
        finish(process)
    assert_each_sent_once(fake, 90)
    assert statuses(pg_url) == {"sent": 90}
