"""The send rate Twilio sees: one cap for the account, shared by every scheduler process.

Two processes take sending slots from one throttle built as the scheduler builds it. With Redis or
PostgreSQL holding the window (pyrate-limiter), together they stay under the cap; each process's own
slot schedule (the embedded default, one scheduler on SQLite) would let each of them use all of it.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
import uuid

import pytest
import redis as redis_client

from hep.reminders.sender import JITTER_SECONDS, LocalThrottle, SharedThrottle, throttle_from_config
from tests.conftest import create_pg_database, drop_pg_database, skip_or_fail

CAP, PER_PROCESS = 5, 10
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _take_slots(config: dict, database_url: str, count: int, results) -> None:
    """In a child process: take `count` slots and report when each was granted (time.monotonic)."""
    throttle = throttle_from_config(config, database_url)
    granted = []
    try:
        for _ in range(count):
            assert throttle.acquire(time.monotonic() + 60)
            granted.append(time.monotonic())
    finally:
        throttle.close()
    results.put(granted)


def two_processes(config: dict, database_url: str) -> list[float]:
    """Grant times from two processes taking PER_PROCESS slots each at once, merged and sorted."""
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    workers = [spawn.Process(target=_take_slots, args=(config, database_url, PER_PROCESS, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    granted = sorted(results.get(timeout=120) + results.get(timeout=120))
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return granted


def busiest(granted: list[float], window: float) -> int:
    """The most grants inside any `window` seconds."""
    return max(sum(1 for t in granted[i:] if t - start < window) for i, start in enumerate(granted))


def assert_one_cap(granted: list[float]) -> None:
    # A window a little under a second absorbs the few milliseconds between a grant and its reading;
    # widened by JITTER_SECONDS, it holds too: requests held up after their slots stay within the cap.
    assert busiest(granted, 0.95 + JITTER_SECONDS) <= CAP
    # 20 slots at 5 a second need 3 s after the first 5: two separate caps would take half of that.
    assert granted[-1] - granted[0] >= (2 * PER_PROCESS - CAP) / CAP - 0.1


@pytest.fixture
def redis_url() -> str:
    connection = redis_client.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis_client.RedisError as error:
        skip_or_fail(f"Redis at {REDIS_URL} is unreachable: {error}")
    finally:
        connection.close()
    return REDIS_URL


def test_two_schedulers_share_one_cap_held_in_redis(redis_url):
    config = {"SMS_MAX_PER_SECOND": CAP, "REDIS_URL": redis_url, "RATE_LIMIT_PREFIX": f"test-{uuid.uuid4().hex}"}
    assert_one_cap(two_processes(config, "sqlite:///unused.db"))


def test_two_schedulers_share_one_cap_held_in_postgresql():
    url = create_pg_database("hep_rate")
    try:
        assert_one_cap(two_processes({"SMS_MAX_PER_SECOND": CAP}, url))
    finally:
        drop_pg_database(url)


def test_the_cap_is_shared_through_redis_when_it_is_configured_else_postgresql_else_this_process():
    redis = {"SMS_MAX_PER_SECOND": 10, "REDIS_URL": REDIS_URL}
    assert isinstance(throttle_from_config({"SMS_MAX_PER_SECOND": 10}, "sqlite:///hep.db"), LocalThrottle)
    shared = throttle_from_config({**redis, "SMS_RATE_STORAGE": "redis"}, "sqlite:///hep.db")
    try:
        assert isinstance(shared, SharedThrottle)
    finally:
        shared.close()
    with pytest.raises(ValueError, match="needs a PostgreSQL DATABASE_URL"):
        throttle_from_config({"SMS_MAX_PER_SECOND": 10, "SMS_RATE_STORAGE": "postgresql"}, "sqlite:///hep.db")
    with pytest.raises(ValueError, match="must be auto, memory, redis or postgresql"):
        throttle_from_config({"SMS_MAX_PER_SECOND": 10, "SMS_RATE_STORAGE": "carrier-pigeon"}, "sqlite:///hep.db")


def test_a_slot_that_would_come_after_the_deadline_is_not_taken():
    throttle = LocalThrottle(1)
    assert throttle.acquire(time.monotonic() + 5)
    assert not throttle.acquire(time.monotonic() + 0.5)  # the next slot is a second away
    assert throttle.acquire(time.monotonic() + 2)  # and was not used up by the refusal


def test_requests_held_up_after_their_slots_still_keep_every_second_within_the_cap():
    cap, throttle, granted = 50, LocalThrottle(50), []
    for _ in range(60):
        assert throttle.acquire(time.monotonic() + 10)
        granted.append(time.monotonic())
    # Any delay from 0 to JITTER_SECONDS between a slot and the provider: what arrives within one second
    # took its slots within 1 + JITTER_SECONDS (less 10 ms for the time between a grant and its reading).
    assert busiest(granted, 0.99 + JITTER_SECONDS) <= cap
    assert busiest(granted, 1.0) < cap  # spaced at the cap, it would be 50


class HeldUpClock:
    """A monotonic clock whose sleeps overrun by the given delays, one per sleep (then exactly)."""

    def __init__(self, overruns: list[float]) -> None:
        self.now, self.overruns = 100.0, list(overruns)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds + (self.overruns.pop(0) if self.overruns else 0.0)


def test_a_thread_woken_late_takes_a_later_slot_instead_of_going_with_the_next_ones():
    held_up = HeldUpClock([0.0, 0.3])  # the second sleep wakes 300 ms after its slot
    throttle = LocalThrottle(10, monotonic=held_up.monotonic, sleep=held_up.sleep)
    granted = []
    for _ in range(3):
        assert throttle.acquire(held_up.now + 10)
        granted.append(held_up.now)
    gap = (1 + JITTER_SECONDS) / 10
    # The first is at once, the second on its slot; the third overslept its slot by 300 ms and took the
    # next free one instead: the moment it woke, no slot having gone out since.
    assert granted == pytest.approx([100.0, 100.0 + gap, 100.0 + 2 * gap + 0.3])
    assert all(b - a >= gap - 1e-9 for a, b in itertools.pairwise(granted))


def test_a_thread_woken_late_past_its_deadline_does_not_send():
    held_up = HeldUpClock([0.3])
    throttle = LocalThrottle(10, monotonic=held_up.monotonic, sleep=held_up.sleep)
    assert throttle.acquire(held_up.now + 10)  # at once: no sleep
    assert not throttle.acquire(held_up.now + 0.2)  # its slot was in time, but it woke too late to use it
