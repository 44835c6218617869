"""Races the soak (benchmarks/soak.py) found, each reproduced in-process by letting a second request or
process run at the exact moment that broke it; fixed since, and kept as regression tests. (The fourth, a
delivery report that beats the recorded SID, is tests/test_reminders.py's
test_a_delivery_report_that_beats_the_recorded_sid_is_applied_once_it_is_recorded.)"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from fakes.twilio import FakeTwilio
from hep.accounts.models import User
from hep.extensions import db
from hep.programs import service as programs
from hep.programs.models import RoutineVersion
from hep.programs.schemas import RoutineInSchema
from hep.reminders import consent
from hep.reminders.dispatch import Dispatcher
from hep.reminders.models import Reminder
from hep.reminders.planner import plan
from hep.reminders.reconcile import Reconciler
from hep.reminders.sms import TwilioBackend
from hep.sessions import service as sessions
from hep.sessions.models import NeedlingSession
from tests.factories import NOW, item, routine_body

SID, TOKEN, FROM = "AC" + "3" * 32, "findings-auth-token", "+15005550006"


def elsewhere(app, work: Callable[[], object]) -> None:
    """Run `work` as another request or process would: its own thread, app context and database session."""
    failure: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                work()
            except BaseException as exc:
                failure.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def once(target: object, name: str, monkeypatch: pytest.MonkeyPatch, before: Callable[[], None]) -> None:
    """Patch `target.name` so that its first call runs `before` first (then it is the real function again)."""
    real = getattr(target, name)

    def patched(*args, **kwargs):
        monkeypatch.setattr(target, name, real)
        before()
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, patched)


# --- reminders: two schedulers reconciling the same uncertain send ---------------------------


@pytest.fixture
def fake():
    with FakeTwilio(SID, TOKEN) as server:
        yield server


def _backend(fake: FakeTwilio) -> TwilioBackend:
    return TwilioBackend(SID, TOKEN, from_number=FROM, base_url=fake.base_url, timeout=1)


def test_two_schedulers_reconciling_one_uncertain_send_text_it_once(app, make, fake, monkeypatch):
    make.exercise(slug="daily")
    physio = make.physio()
    patient = make.patient(physio.clinic, physio, timezone="Europe/London", phone="+447400123456")
    make.routine(patient, routine_body(date(2026, 1, 1), items=[item("daily")]), now=NOW - timedelta(days=30))
    consent.grant(physio, patient.id, "verbal", now=NOW - timedelta(days=30))
    db.session.execute(sa.update(Reminder).values(status="sent"))  # the confirmation: not under test here
    db.session.commit()
    when = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    plan(when - timedelta(hours=10))
    first, second = _backend(fake), _backend(fake)
    one = Dispatcher(backend=first, owner="scheduler-1", max_per_second=1000)
    two = Dispatcher(backend=second, owner="scheduler-2", max_per_second=1000)
    fake.timeout_next(1, seconds=2, accept=True)  # Twilio took the text; the answer came too late
    with time_machine.travel(when, tick=False) as clock:
        assert one.run_once() == {"uncertain": 1}
        clock.shift(timedelta(seconds=5))
        later = when + timedelta(seconds=5)
        # Both schedulers' reconcile jobs run (every 60 s, in step when started together). Scheduler 2 has
        # read the stale row; while it asks Twilio, scheduler 1 settles the same row as sent.
        once(second, "find", monkeypatch, lambda: elsewhere(app, lambda: Reconciler(first, "scheduler-1").run(later)))
        Reconciler(second, "scheduler-2").run(later)
        one.run_once()
        two.run_once()
    first.close()
    second.close()
    [reminder] = db.session.scalars(sa.select(Reminder).where(Reminder.attempts > 0)).all()
    assert len(fake.messages) == 1, [m["sid"] for m in fake.messages]
    assert reminder.status == "sent" and reminder.provider_sid == fake.messages[0]["sid"]


# --- routines: the same save twice at once ---------------------------------------------------


def test_the_same_routine_saved_twice_at_once_makes_one_version_and_no_error(app, make, monkeypatch):
    make.exercise(slug="daily")
    physio = make.physio()
    patient = make.patient(physio.clinic, physio)
    routine = make.routine(patient, routine_body(date(2026, 11, 1), items=[item("daily")]))
    edited = routine_body(date(2026, 11, 1), items=[item("daily", sets=4, notes="slower")])
    physio_id, routine_id = physio.id, routine.id

    def same_save_elsewhere() -> None:
        actor = db.session.get(User, physio_id)
        programs.revise_routine(actor, routine_id, RoutineInSchema().load(edited), now=NOW)

    # The double click's other request saves between this one's "unchanged?" check and its insert.
    once(programs, "_exercises", monkeypatch, lambda: elsewhere(app, same_save_elsewhere))
    _routine, created = programs.revise_routine(physio, routine_id, RoutineInSchema().load(edited), now=NOW)
    numbers = db.session.scalars(sa.select(RoutineVersion.number).where(RoutineVersion.routine_id == routine_id))
    assert not created and sorted(numbers) == [1, 2]


# --- sessions: the same booking twice at once ------------------------------------------------


def test_the_same_booking_sent_twice_at_once_books_one_session(app, make, monkeypatch):
    physio = make.physio()
    patient = make.patient(physio.clinic, physio)
    data = {"starts_at": NOW + timedelta(days=2), "duration_minutes": 30}
    physio_id, patient_id = physio.id, patient.id

    def same_booking_elsewhere() -> None:
        sessions.schedule(db.session.get(User, physio_id), patient_id, dict(data), now=NOW)

    # The retried request books between this one's "already booked?" check and its insert.
    once(sessions, "_physio", monkeypatch, lambda: elsewhere(app, same_booking_elsewhere))
    sessions.schedule(physio, patient_id, dict(data), now=NOW)
    booked = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(NeedlingSession)
        .where(NeedlingSession.patient_id == patient_id, NeedlingSession.starts_at == data["starts_at"])
    )
    assert booked == 1
