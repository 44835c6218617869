"""Sends are pipelined: the next round goes out while the slowest calls of the last are still in flight."""

from __future__ import annotations

import threading
import time

import time_machine

from hep.reminders.dispatch import Dispatcher
from tests.reminders.helpers import due_now, rows


class Timed:
    """The real backend, with each call's start and end noted and the first call held up."""

    def __init__(self, backend, first_call_seconds: float) -> None:
        self.backend, self.name = backend, backend.name
        self.first_call_seconds = first_call_seconds
        self.calls: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def send(self, to, body, **options):
        with self._lock:
            first = not self.calls and not getattr(self, "_started", False)
            self._started = True
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


def test_a_slow_call_does_not_hold_up_the_next_round(texted, sms, fake):
    patients = [texted(phone=f"+4474001237{n:02d}") for n in range(8)]
    when = due_now(patients[0])
    backend = Timed(sms, first_call_seconds=1.0)
    dispatcher = Dispatcher(backend=backend, owner="test-worker", max_per_second=1000, concurrency=4)
    try:
        with time_machine.travel(when, tick=False):
            outcome = dispatcher.run_once()
    finally:
        dispatcher.close()
    assert outcome == {"sent": 8} and len(fake.messages) == 8
    slow_end = max(end for _start, end in backend.calls)
    # All seven others started (and ended) while the first round's slow call was still out.
    assert sum(1 for start, end in backend.calls if end < slow_end) == 7
    assert _in_flight_at_most(backend.calls) <= 4
    assert sorted(m["to"] for m in fake.messages) == sorted(rows(p)[0].to_phone for p in patients)
    assert all(rows(p)[0].status == "sent" for p in patients)


def test_calls_in_flight_never_exceed_the_concurrency(texted, sms, fake):
    patients = [texted(phone=f"+4474001238{n:02d}") for n in range(9)]
    when = due_now(patients[0])
    backend = Timed(sms, first_call_seconds=0.2)
    dispatcher = Dispatcher(backend=backend, owner="test-worker", max_per_second=1000, concurrency=3)
    try:
        with time_machine.travel(when, tick=False):
            assert dispatcher.run_once() == {"sent": 9}
    finally:
        dispatcher.close()
    assert len(backend.calls) == 9 and _in_flight_at_most(backend.calls) <= 3
