"""Talking to the providers: one call on plain values; texts under the account's rate cap, pushes to
each of the patient's browsers.

The cap is one shared limiter when Redis or PostgreSQL is there to hold it (pyrate-limiter's
Redis or PostgreSQL bucket: every scheduler process takes its slots from the same window, so the
rate the provider sees is the cap however many processes run), and this process's own slot
schedule on the embedded default (SQLite: one scheduler).
"""

from __future__ import annotations

import math
import threading
import time as clock
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from psycopg_pool import ConnectionPool
from pyrate_limiter import Limiter, PostgresBucket, Rate, RedisBucket, SingleBucketFactory
from redis import Redis
from sqlalchemy.engine import make_url

from hep.accounts.models import PUSH, SMS
from hep.push.webpush import PushResult, PushSender, SubscriptionInfo
from hep.reminders.sms import MAX_VALIDITY, LateSlot, Sent, SmsBackend, SmsError

RATE_BUCKET = "sms-send-rate"


class Throttle(Protocol):
    """A rate cap on provider calls."""

    def acquire(self, deadline: float) -> bool:
        """Wait for a sending slot; False when none comes before `deadline` (time.monotonic())."""
        ...

    def close(self) -> None:
        """Release what the throttle holds (threads, connections)."""
        ...


# A request leaves a little after its slot (the sending thread waits for the interpreter, the socket for
# the kernel), and not always by the same delay, so requests spaced exactly at the cap can arrive a few
# over it within some second. Slots are spaced for the cap over this much more than a second: a request
# held up to this long after its slot still keeps every second the provider sees within the cap.
JITTER_SECONDS = 0.05


class LocalThrottle:
    """This process's cap: each call takes the next free slot, (1 + JITTER_SECONDS)/per_second after the one
    before."""

    def __init__(
        self,
        per_second: float,
        *,
        monotonic: Callable[[], float] = clock.monotonic,
        sleep: Callable[[float], None] = clock.sleep,
    ) -> None:
        """Allow `per_second` calls a second from this process, across its sending threads."""
        self.gap = (1.0 + JITTER_SECONDS) / per_second
        self._next = 0.0
        self._lock = threading.Lock()
        self._monotonic, self._sleep = monotonic, sleep

    def acquire(self, deadline: float) -> bool:
        """Take the next slot and wait for it, unless it comes after `deadline`."""
        while True:
            with self._lock:
                slot = max(self._monotonic(), self._next)
                if slot > deadline:
                    return False
                self._next = slot + self.gap
            wait = slot - self._monotonic()
            if wait > 0:
                self._sleep(wait)
            if self._monotonic() - slot <= JITTER_SECONDS:
                return True
            # Woken this late (the process was held up: a busy CPU, a collection), going now would send
            # with the threads whose slots came after this one; this slot is let go and a later one taken.

    def close(self) -> None:
        """Nothing to release."""


class SharedThrottle:
    """The cap held in Redis or PostgreSQL by pyrate-limiter: at most `limit` calls in any window."""

    LEAK_EVERY = 10.0  # seconds between clearing out slots older than the window
    POLL = 0.01  # seconds between tries while the window is full

    def __init__(self, bucket: Any, closers: list[Callable[[], None]]) -> None:
        """Take slots from one shared pyrate-limiter bucket."""
        # The library's background leak thread is not joined on close; leaking here, on the calling
        # thread, keeps the process free of a thread that outlives the connection it uses.
        self._bucket = bucket
        self._limiter = Limiter(SingleBucketFactory(bucket, schedule_leak=False))
        self._closers = closers
        self._leaked = clock.monotonic()
        self._lock = threading.Lock()
        self._turn = threading.Lock()

    def acquire(self, deadline: float) -> bool:
        """Wait for a slot in the shared window until `deadline`."""
        self._leak()
        # This process's sending threads queue here, so only processes contend for the shared bucket.
        # Each try is stamped with the clock afresh: the library's own blocking wait advances a refused
        # item's timestamp by the time it slept, which drifts from the clock when the bucket is contended.
        if not self._turn.acquire(timeout=max(0.0, deadline - clock.monotonic())):
            return False
        try:
            while not self._limiter.try_acquire(RATE_BUCKET, blocking=False):
                if clock.monotonic() + self.POLL > deadline:
                    return False
                clock.sleep(self.POLL)
            return True
        finally:
            self._turn.release()

    def close(self) -> None:
        """Close the connections the bucket uses."""
        for close in self._closers:
            close()

    def _leak(self) -> None:
        with self._lock:
            if clock.monotonic() - self._leaked < self.LEAK_EVERY:
                return
            self._leaked = clock.monotonic()
        self._bucket.leak(self._bucket.now())


def _rate(per_second: float) -> Rate:
    # pyrate-limiter counts whole calls in a window: 10/s is 10 per 1050 ms, 0.5/s is 1 per 2100 ms
    # (each window JITTER_SECONDS longer than the second it stands for).
    jitter_ms = round(JITTER_SECONDS * 1000)
    if per_second >= 1:
        return Rate(int(per_second), 1000 + jitter_ms)
    return Rate(1, math.ceil(1000 / per_second) + jitter_ms)


def throttle_from_config(config: Mapping[str, Any], database_url: str) -> Throttle:
    """The throttle SMS_RATE_STORAGE names: `auto` (Redis when REDIS_URL is set, else PostgreSQL when the
    database is, else this process), `memory`, `redis` or `postgresql`."""
    per_second = float(config["SMS_MAX_PER_SECOND"])
    storage = (config.get("SMS_RATE_STORAGE") or "auto").strip().lower()
    if storage == "auto":
        postgresql = database_url.startswith("postgresql")
        storage = "redis" if config.get("REDIS_URL") else "postgresql" if postgresql else "memory"
    if storage == "memory":
        return LocalThrottle(per_second)
    if storage == "redis":
        if not config.get("REDIS_URL"):
            raise ValueError("HEP_SMS_RATE_STORAGE=redis needs REDIS_URL")
        redis = Redis.from_url(config["REDIS_URL"])
        key = f"{config.get('RATE_LIMIT_PREFIX', 'hep')}:{RATE_BUCKET}"
        return SharedThrottle(RedisBucket.init([_rate(per_second)], redis, key), [redis.close])
    if storage == "postgresql":
        if not database_url.startswith("postgresql"):
            raise ValueError("HEP_SMS_RATE_STORAGE=postgresql needs a PostgreSQL DATABASE_URL")
        url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        pool = ConnectionPool(url, min_size=1, max_size=4, open=True, kwargs={"autocommit": False})
        bucket = PostgresBucket(pool, "hep_sms_send_rate", [_rate(per_second)])
        return SharedThrottle(bucket, [pool.close])
    raise ValueError(f"HEP_SMS_RATE_STORAGE must be auto, memory, redis or postgresql, not {storage!r}")


@dataclass(frozen=True)
class Outgoing:
    """What a sending thread needs of a reminder, copied out of the ORM object (which the session may expire)."""

    to: str | None  # the number, for a text
    body: str
    window_end_at: datetime  # the window in force: the provider must not deliver after it
    send_by: float  # time.monotonic() after which the call must not start (half the lease from `sending`)
    channel: str = SMS
    # For a push: each live subscription (id, where it receives), the JSON it carries, and its topic.
    subscriptions: tuple[tuple[int, SubscriptionInfo], ...] = ()
    payload: Mapping[str, Any] | None = None
    topic: str | None = None


@dataclass(frozen=True)
class NotSent:
    """A sending thread's answer when it did not call the provider at all."""


@dataclass(frozen=True)
class Pushed:
    """What each subscription's push service answered to one reminder."""

    deliveries: tuple[tuple[int, PushResult], ...]


@dataclass
class Sender:
    """Makes provider calls: safe on any thread (no database, no ORM object)."""

    backend: SmsBackend
    throttle: Throttle
    status_callback: str | None = None
    pause_hook: Callable[[str], None] | None = None  # tests only: called with a point name
    push_sender: Callable[[], PushSender] | None = None  # makes one push sender per sending thread

    def __post_init__(self) -> None:
        self._local = threading.local()

    def call(self, outgoing: Outgoing, now: datetime) -> Sent | SmsError | NotSent | Pushed:
        """Send one message, unless no sending slot comes before its `send_by`."""
        self._hook("before-send")
        if outgoing.channel == PUSH:
            return self._push(outgoing, now)
        # Whole seconds, rounded down: delivery may not go on past the end of the window in force.
        validity = max(1, min(MAX_VALIDITY, int((outgoing.window_end_at - now).total_seconds())))
        try:
            sent = self.backend.send(
                outgoing.to,
                outgoing.body,
                status_callback=self.status_callback,
                validity_period=validity,
                # The slot is taken by the backend just before the request leaves.
                pace=lambda: self.throttle.acquire(outgoing.send_by),
            )
        except LateSlot:
            # Past send_by the lease could run out while the call is in flight, and reconcile would then
            # take the row for lost. Not calling at all is safe.
            return NotSent()
        except SmsError as error:
            return error
        self._hook("after-send")
        return sent

    def _push(self, outgoing: Outgoing, now: datetime) -> Pushed | NotSent:
        """Push to each live subscription. The account's text rate cap does not apply: each push goes to the
        browser's own push service. The topic makes a resend replace an undelivered push."""
        if clock.monotonic() > outgoing.send_by:
            return NotSent()
        sender = getattr(self._local, "push", None)
        if sender is None:
            sender = self._local.push = self.push_sender()
        ttl = max(60, int((outgoing.window_end_at - now).total_seconds()))  # not shown after the window in force
        deliveries = tuple(
            (subscription_id, sender.send(info, dict(outgoing.payload or {}), ttl=ttl, topic=outgoing.topic))
            for subscription_id, info in outgoing.subscriptions
        )
        self._hook("after-send")
        return Pushed(deliveries)

    def _hook(self, point: str) -> None:
        if self.pause_hook is not None:
            self.pause_hook(point)
