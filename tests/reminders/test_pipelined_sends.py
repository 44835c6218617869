"""Sends are pipelined: the next round goes out while the slowest calls of the last are still in flight."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import sqlalchemy as sa
import time_machine

from hep.extensions import db
from hep.reminders.dispatch import Dispatcher
from hep.reminders.models import Reminder, ReminderSettings
from hep.reminders.planner import plan
from tests.reminders.helpers import due_now, rows


class Timed:
    """The real backend, with each call's start and end noted and the first call held up."""

    def __init__(self, backend, first_call_seconds: float) -> None:
        self.backend, self.name = backend, backend.name
        self.first_call_seconds = first_call_seconds
        self.calls: list[tuple[float, float]] = []
        self._first_taken = False
        self._lock = threading.Lock()

    def send(self, to, body, **options):
        with self._lock:
            first, self._first_taken = not self._first_taken, True
        start = time.monotonic()
        if first:
            time.sleep(self.first_call_seconds)
        sent = self.backend.send(to, body, **options)
        with self._lock:
            self.calls.append((start, time.monotonic()))
        return sent

    def find(self, to, since):
        return self.backend.find(to, since)

    def close(self) -> None:
        self.backend.close()


def _in_flight_at_most(calls: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in calls] + [(end, -1) for _, end in calls])
    most = now = 0
    for _at, step in edges:
        now += step
        most = max(most, now)
    return most


def _dispatch(backend, when, concurrency: int):
    """One dispatcher run at `when` with `concurrency` calls in flight; how each reminder ended."""
    dispatcher = Dispatcher(backend=backend, owner="test-worker", max_per_second=1000, concurrency=concurrency)
    try:
        with time_machine.travel(when, tick=False):
            return dispatcher.run_once()
    finally:
        dispatcher.close()


def test_a_slow_call_does_not_hold_up_the_next_round(texted, sms, fake):
    patients = [texted(phone=f"+4474001237{n:02d}") for n in range(8)]
    backend = Timed(sms, first_call_seconds=1.0)
    outcome = _dispatch(backend, due_now(patients[0]), concurrency=4)
    assert outcome == {"sent": 8} and len(fake.messages) == 8
    slow_end = max(end for _start, end in backend.calls)
    # All seven others started (and ended) while the first round's slow call was still out.
    assert sum(1 for start, end in backend.calls if end < slow_end) == 7
    assert _in_flight_at_most(backend.calls) <= 4
    assert sorted(m["to"] for m in fake.messages) == sorted(rows(p)[0].to_phone for p in patients)
    assert all(rows(p)[0].status == "sent" for p in patients)


def test_calls_in_flight_never_exceed_the_concurrency(texted, sms, fake):
    patients = [texted(phone=f"+4474001238{n:02d}") for n in range(9)]
    backend = Timed(sms, first_call_seconds=0.2)
    assert _dispatch(backend, due_now(patients[0]), concurrency=3) == {"sent": 9}
    assert len(backend.calls) == 9 and _in_flight_at_most(backend.calls) <= 3


def test_a_text_still_in_flight_counts_against_the_weekly_cap(texted, sms, fake):
    patient = texted(exercise_times=["17:00"], max_per_week=2)
    plan(datetime(2026, 11, 23, 8, tzinfo=UTC))  # a Monday: today's and tomorrow's reminders
    monday, tuesday = [r for r in rows(patient) if r.local_date <= date(2026, 11, 24)]
    # The cap drops to 1 a week with no re-plan, and Monday's text is in flight (an earlier round's call not back).
    db.session.execute(sa.update(ReminderSettings).values(max_per_week=1))
    db.session.execute(
        sa.update(Reminder).where(Reminder.id == monday.id).values(status="sending", sending_since=monday.due_at)
    )
    db.session.commit()
    outcome = _dispatch(sms, datetime(2026, 11, 24, 17, 1, tzinfo=UTC), concurrency=4)
    db.session.refresh(tuesday)
    assert outcome == {"skipped": 1} and tuesday.status == "skipped" and not fake.messages
