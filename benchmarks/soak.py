"""Soak: minutes of mixed load on PostgreSQL, the real service and two real schedulers; then check the books.

Patients fetch today's plan and sync logs (resending batches, answers lost on the way, Idempotency-Key
retries), physiotherapists browse, edit routines and book sessions, and reminders go out to a fake
Twilio that answers with injected 429s, 500s, timeouts and refused numbers, calls back with delivery
statuses and brings patients' replies (STOP, START, DONE) through the signed webhooks. At the end it
checks that nothing failed, nothing was stored or texted twice, and no text went out of its window.
See benchmarks/README.md ("Soak") for what runs and what each check means.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--patients 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--out benchmarks/RESULTS-soak.md]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zoneinfo
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `hep` and `fakes` importable

import sqlalchemy as sa

from benchmarks.common import (
    BUSY,
    DEFAULT_PG,
    PACKAGES,
    ROOT,
    CpuMeter,
    CpuSample,
    Database,
    arguments,
    code_version,
    command_line,
    cpu_model,
    gunicorn,
    memory,
    progress,
    stop,
    throwaway_database,
    versions,
    write_section,
)
from benchmarks.hot_paths import build_dataset
from fakes.twilio import FakeTwilio, urllib_transport
from hep import create_app
from hep.accounts import tokens
from hep.accounts.models import PHYSIOTHERAPIST, Patient, User
from hep.adherence.models import AdherenceLog
from hep.adherence.service import DONE_FIELDS
from hep.extensions import db
from hep.programs.service import ITEM_FIELDS
from hep.reminders import consent
from hep.reminders.inbound import SMS_DONE_NAMESPACE
from hep.reminders.models import ReminderSettings, SmsContact
from hep.reminders.policy import local_moment
from hep.reminders.states import OPEN, PROGRESS, Status

SID, TOKEN, FROM_NUMBER = "AC" + "5" * 32, "soak-auth-token", "+15005550006"
PUBLIC_BASE = "https://hep.soak.test"  # what Twilio calls; a TLS proxy (simulated) forwards it to gunicorn
LATE_GRACE = timedelta(seconds=2)  # a text may reach Twilio this long after the dispatcher's window check
NEGLECT = timedelta(seconds=90)  # a reminder missed with this much window left and no attempt was neglected
FINAL = {s.value for s in Status} - {s.value for s in OPEN}  # where a reminder ends
RANK = {s.value: n for s, n in PROGRESS.items()}  # how far a provider status has come
# Patients' places relative to the clinic's sending window (see `plan_zones`): open all along, the window
# closes mid-run, the window opens mid-run, closed all along; and patients who consent only mid-run.
OPEN, CLOSING, OPENING, CLOSED, LATE_CONSENT = "open", "closing", "opening", "closed", "late-consent"
GROUP_PATTERN = (
    OPEN, CLOSING, OPENING, OPEN, CLOSED, OPEN, LATE_CONSENT, CLOSING, OPEN, OPENING,
    OPEN, OPEN, CLOSING, OPEN, OPENING, OPEN, CLOSED, OPEN, OPEN, OPEN,
)  # fmt: skip
HOURS_FROM_CLOSING = {OPEN: -3, CLOSING: 0, OPENING: -5, CLOSED: 2, LATE_CONSENT: -3}
WELL_KNOWN_ZONES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Vancouver", "America/Denver", "America/Chicago",
    "America/Mexico_City", "America/Toronto", "America/Bogota", "America/Halifax", "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires", "Atlantic/South_Georgia", "Atlantic/Azores", "Atlantic/Cape_Verde",
    "Europe/London", "Africa/Abidjan", "Europe/Paris", "Africa/Lagos", "Europe/Athens", "Africa/Johannesburg",
    "Europe/Istanbul", "Africa/Nairobi", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka", "Asia/Bangkok",
    "Asia/Singapore", "Asia/Tokyo", "Australia/Brisbane", "Australia/Sydney", "Pacific/Noumea",
    "Pacific/Auckland", "Pacific/Fiji", "Pacific/Tongatapu", "Pacific/Kiritimati",
)  # fmt: skip
SEARCHES = (
    "q=stretch&region=neck",
    "condition=carpal-tunnel&category=nerve-glide",
    "q=chin+tuck",
    "condition=low-back-pain&category=strengthening&max_difficulty=3",
    "region=ankle-foot&equipment=step",
    "q=bridge",
    "condition=tension-headache",
    "category=mobility&region=upper-back&limit=50",
)
HEADER = """\
# Soak results

Written by `benchmarks/soak.py` (how it works and what each check means: `benchmarks/README.md`,
section "Soak"). The section below is the latest run; running again replaces it. A soak is not a
speed measurement: its figures say how the service behaved under a sustained mix of everything at
once on this machine, and its checks say whether anything was lost, doubled or sent at the wrong time.
"""


say = progress("soak", elapsed=True)


# --- the data -------------------------------------------------------------------------------


@dataclass
class SoakPatient:
    id: int
    token: str
    zone: str
    phone: str
    group: str
    language: str
    item_ids: list[int]  # items the app would log against (refreshed from today's plan)
    routine_ids: list[int]
    etag: str | None = None


@dataclass
class Scenario:
    """Who gets texts, when, and from which window: fixed before the service starts."""

    load_end: datetime  # when the load stops (set again, to the moment it did)
    window_start: str
    window_end: str
    zones: dict[str, str]  # group: IANA zone
    patients: list[SoakPatient]
    physio_tokens: list[str]
    refused: dict[str, int]  # phone: Twilio error code the fake refuses it with
    clinic_time: str  # the clinic's default reminder time: for the patients who consent mid-run
    seed_log_ids: set[uuid.UUID]
    build_seconds: float
    history_logs: int


def _zone_for(offset_hours: int, now: datetime, until: datetime) -> str:
    """A real IANA zone at this UTC offset now and until `until` (no DST change on the way), else Etc/GMT."""
    target = timedelta(hours=offset_hours)
    for name in (*WELL_KNOWN_ZONES, *sorted(zoneinfo.available_timezones())):
        if name.split("/")[0] not in ("America", "Europe", "Asia", "Africa", "Australia", "Pacific", "Atlantic"):
            continue
        zone = ZoneInfo(name)
        if now.astimezone(zone).utcoffset() == target == until.astimezone(zone).utcoffset():
            return name
    return "Etc/GMT" if offset_hours == 0 else f"Etc/GMT{-offset_hours:+d}"  # Etc signs are inverted


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def plan_zones(now: datetime, minutes: float) -> tuple[dict[str, str], str, str]:
    """Zones per group and the clinic window, so each group sits where it should whatever the hour.

    The "closing" patients' window ends half-way through the run, the "opening" ones' starts 30 % in,
    the "open" ones are inside it throughout and the "closed" ones outside it throughout. Whole-hour
    zones share the UTC minute, so one window (local HH:MM, as the clinic sets it) does all of that.
    """
    run = timedelta(minutes=minutes)
    for hour in (19, 18, 20, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6):
        base = (hour - now.hour) % 24
        offset = next((k for k in (base, base - 24) if k - 5 >= -12 and k + 2 <= 14), None)
        if offset is None:
            continue
        zones = {g: _zone_for(offset + h, now, now + run + timedelta(hours=2)) for g, h in HOURS_FROM_CLOSING.items()}
        closing_local = now.astimezone(ZoneInfo(zones[CLOSING]))
        opening_local = now.astimezone(ZoneInfo(zones[OPENING]))
        closed_local = now.astimezone(ZoneInfo(zones[CLOSED]))
        start = _ceil_minute(opening_local + 0.3 * run)
        end = _ceil_minute(closing_local + 0.5 * run)
        if start.date() == opening_local.date() and end.date() == closing_local.date() and closed_local.hour < 23:
            return zones, _hhmm(start), _hhmm(end)
    raise RuntimeError("no arrangement of time zones fits this run; try fewer --minutes")


def _local_time(zone: str, moment: datetime) -> str:
    return _hhmm(moment.astimezone(ZoneInfo(zone)))


def _exercise_time(group: str, n: int, zone: str, t0: datetime, load_end: datetime, window: tuple[str, str]) -> str:
    """When this patient's exercise reminder is due (local HH:MM): spread so that many fall due in the run."""
    rng = random.Random(n)
    span = (load_end - t0).total_seconds()
    local = ZoneInfo(zone)
    if group == CLOSING:
        end = datetime.combine(t0.astimezone(local).date(), datetime.strptime(window[1], "%H:%M").time(), local)
        # At the very end of the window (missed unless dispatched that same second), a minute before it
        # (tight: faults push it out), or somewhere before.
        choice = n % 3
        if choice == 0:
            return window[1]
        if choice == 1:
            return _hhmm(end - timedelta(minutes=1))
        return _local_time(zone, t0 + timedelta(seconds=rng.uniform(0, max(0, (end - t0).total_seconds() - 120))))
    if group == OPENING:
        start = datetime.combine(t0.astimezone(local).date(), datetime.strptime(window[0], "%H:%M").time(), local)
        if n % 2 == 0:
            return window[0]
        return _local_time(zone, start + timedelta(seconds=rng.uniform(0, 0.4 * span)))
    if group == CLOSED:
        return _local_time(zone, t0 + timedelta(minutes=5))  # outside the window: nothing today
    # Open: from the current minute (due at once) to 90 s before the load stops.
    return _local_time(zone, t0 + timedelta(seconds=rng.uniform(-30, max(0, span - 90))))


def prepare(url: str, patients: int, minutes: float, token_ttl: int) -> Scenario:
    """Build the dataset, then give it phones, zones, a window, consent and reminder times."""
    data = build_dataset(url, patients, token_ttl)
    say(f"dataset built in {data.seconds:.1f} s ({data.history_logs} log entries of history)")
    now = datetime.now(UTC)
    load_end = now + timedelta(minutes=minutes)
    zones, window_start, window_end = plan_zones(now, minutes)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_STORAGE_URI": "memory://"})
    soak_patients, refused = [], {}
    with app.app_context():
        physio = db.session.scalar(sa.select(User).where(User.role == PHYSIOTHERAPIST))
        clinic_time = _local_time(zones[LATE_CONSENT], now + timedelta(minutes=0.6 * minutes))
        db.session.add(
            ReminderSettings(
                clinic_id=physio.clinic_id,
                window_start=window_start,
                window_end=window_end,
                exercise_times=[clinic_time],
                max_per_day=1,
                max_per_week=3,
                pre_session_hours=24,
                needling_day="skip",
            )
        )
        routine_ids: dict[int, list[int]] = defaultdict(list)
        for routine_id, patient_id in db.session.execute(sa.text("SELECT id, patient_id FROM routines ORDER BY id")):
            routine_ids[patient_id].append(routine_id)
        for n, bench in enumerate(data.patients):
            group = GROUP_PATTERN[n % len(GROUP_PATTERN)]
            patient = db.session.get(Patient, bench.id)
            patient.timezone = zones[group]
            patient.language = "fr" if n % 7 == 3 else "es" if n % 11 == 4 else "en"
            phone = f"+1604555{n:04d}" if n < 10000 else f"+1778{n:07d}"
            patient.user.phone = phone
            if group not in (CLOSED, LATE_CONSENT):
                if n % 29 == 5:
                    refused[phone] = 21211  # not a mobile number
                elif n % 31 == 7:
                    refused[phone] = 21610  # opted out at the carrier
            soak_patients.append(
                SoakPatient(
                    bench.id,
                    bench.token,
                    zones[group],
                    phone,
                    group,
                    patient.language,
                    list(bench.item_ids),
                    routine_ids[bench.id],
                )
            )
        # The history has today's entries in the old zones: drop the last day and a half, so that
        # today starts empty everywhere and exercise reminders are not all skipped as already done.
        db.session.execute(sa.delete(AdherenceLog).where(AdherenceLog.performed_at >= now - timedelta(hours=36)))
        db.session.commit()
        for n, p in enumerate(soak_patients):
            if p.group == LATE_CONSENT:
                continue
            consent.grant(physio, p.id, "verbal", now=now)
            own = _exercise_time(p.group, n, p.zone, now, load_end, (window_start, window_end))
            db.session.get(SmsContact, p.id).exercise_times = [own]
        db.session.commit()
        physio_tokens = [
            tokens.issue(physio, now=now, access_ttl=token_ttl, refresh_ttl=token_ttl).access_token for _ in range(4)
        ]
        db.session.commit()
        seed_ids = set(db.session.scalars(sa.select(AdherenceLog.id)))
        db.session.remove()
        db.engine.dispose()
    return Scenario(
        load_end=load_end,
        window_start=window_start,
        window_end=window_end,
        zones=zones,
        patients=soak_patients,
        physio_tokens=physio_tokens,
        refused=refused,
        clinic_time=clinic_time,
        seed_log_ids=seed_ids,
        build_seconds=data.seconds,
        history_logs=data.history_logs,
    )


# --- what the clients saw -------------------------------------------------------------------


@dataclass
class Stats:
    """Every answer the soak got: latency and status per kind of request, and what was unexpected."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    unexpected: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)  # connection errors and timeouts (not the deliberate ones)
    abandoned: Counter = field(default_factory=Counter)  # requests whose answer the client chose not to read
    examples: list[str] = field(default_factory=list)

    def record(self, kind: str, status: int, seconds: float) -> None:
        """One answer."""
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1

    def problem(self, kind: str, what: str, example: str) -> None:
        """An answer that was not what the request should get, or none at all."""
        with self.lock:
            (self.dropped if what == "dropped" else self.unexpected)[kind] += 1
            if len(self.examples) < 25:
                self.examples.append(f"{kind}: {example}"[:400])

    def total(self) -> int:
        """Requests answered so far."""
        with self.lock:
            return sum(sum(c.values()) for c in self.statuses.values())

    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        with self.lock:
            return sum(n for c in self.statuses.values() for s, n in c.items() if s >= 500)


@dataclass
class EntryFate:
    patient_id: int
    entry: dict
    attempts: int = 0
    lost: int = 0  # attempts whose answer never came back (abandoned, dropped, or a 5xx)
    answers: Counter = field(default_factory=Counter)


class Ledger:
    """Every log entry the apps sent, and what each attempt was told."""

    def __init__(self) -> None:
        """Start empty."""
        self.lock = threading.Lock()
        self.entries: dict[str, EntryFate] = {}

    def sending(self, patient_id: int, entries: list[dict]) -> None:
        """An attempt carrying these entries is about to go out."""
        with self.lock:
            for entry in entries:
                fate = self.entries.setdefault(entry["id"], EntryFate(patient_id, entry))
                fate.attempts += 1

    def answered(self, entry_id: str, status: str) -> None:
        """The server answered this entry with `status`."""
        with self.lock:
            self.entries[entry_id].answers[status] += 1

    def lost(self, entry_ids: list[str]) -> None:
        """An attempt carrying these entries got no usable answer."""
        with self.lock:
            for entry_id in entry_ids:
                self.entries[entry_id].lost += 1


class Http:
    """One keep-alive connection, recording every answer in Stats."""

    def __init__(self, address: tuple[str, int], stats: Stats):
        """Connect lazily to `address`."""
        self.address, self.stats = address, stats
        self.conn = http.client.HTTPConnection(*address, timeout=60)

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int, bytes, http.client.HTTPMessage] | None:
        """Send one request; return (status, body, headers), or None when the connection failed."""
        sent = {"Accept": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=sent)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.stats.problem(kind, "dropped", f"{method} {path}: {exc!r}")
            return None
        self.stats.record(kind, response.status, time.perf_counter() - started)
        if response.status not in expect:  # a 5xx counts there too, and fails the 5xx check besides
            self.stats.problem(kind, "unexpected", f"{method} {path}: {response.status} {payload[:300]!r}")
        return response.status, payload, response.headers

    def abandon(self, kind: str, method: str, path: str, *, token: str, body: bytes) -> None:
        """Send a request and hang up without reading the answer: the app lost its connection."""
        conn = http.client.HTTPConnection(*self.address, timeout=10)
        try:
            conn.request(
                method,
                path,
                body=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except (OSError, http.client.HTTPException) as exc:
            self.stats.problem(kind, "dropped", f"{method} {path}: {exc!r}")
        finally:
            conn.close()
        with self.stats.lock:
            self.stats.abandoned[kind] += 1

    def twice(self, kind: str, method: str, path: str, **options: object) -> list:
        """The same request on this connection and on a second one at the same moment (a retry racing the first)."""
        other = Http(self.address, self.stats)
        try:
            return together(
                partial(self.call, kind, method, path, **options), partial(other.call, kind, method, path, **options)
            )
        finally:
            other.close()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def guarded(target: Callable[..., None], crashed: list[str]) -> Callable[..., None]:
    """Run a client; if it dies, note why (the soak then stops: a dead client would hide what it should test)."""

    def run(*args: object) -> None:
        try:
            target(*args)
        except Exception as exc:
            crashed.append(f"{target.__name__}: {exc!r}")
            raise

    return run


def together(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment on their own threads (a double click, a retry racing the first try)."""
    results: list[object] = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def run(i: int, call: Callable[[], object]) -> None:
        gate.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- the clients ----------------------------------------------------------------------------


@dataclass
class Shared:
    """State the clients share."""

    address: tuple[str, int]
    scenario: Scenario
    stats: Stats
    ledger: Ledger
    stop: threading.Event
    resends: deque = field(default_factory=lambda: deque(maxlen=3000))  # (patient, body bytes, entry ids)
    sessions: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # patient: booked ids
    sessions_lock: threading.Lock = field(default_factory=threading.Lock)
    awaiting_consent: list[int] = field(default_factory=list)
    edits: Counter = field(default_factory=Counter)
    touched: Counter = field(default_factory=Counter)  # routine id: edits begun or ended (who raced whom)
    twin_bookings: list[set[int]] = field(default_factory=list)  # session ids each doubled booking answered


def _entry(patient: SoakPatient, rng: random.Random) -> dict:
    """One new log entry as the app sends it, at the device's offset.

    Only a quarter of the patients log today (in the last half hour); the others' apps sync what was done
    on earlier days: at this rate of syncing, everyone's today would be done within minutes, and every
    exercise reminder skipped as already logged.
    """
    now = datetime.now(ZoneInfo(patient.zone)).replace(microsecond=0)
    if patient.id % 4 == 0:
        moment = now - timedelta(seconds=rng.randint(5, 1800))
    else:
        moment = now - timedelta(days=rng.randint(1, 12), seconds=rng.randint(0, 36000))
    return {
        "id": str(uuid.uuid4()),
        "routine_item_id": rng.choice(patient.item_ids),
        "performed_at": moment.isoformat(),
        "sets_done": rng.randint(1, 3),
        "reps_done": rng.randint(5, 15),
        "hold_seconds_done": None,
        "pain_before": rng.randint(0, 7),
        "pain_after": rng.randint(0, 6),
        "difficulty": rng.randint(1, 8),
        "note": None if rng.random() < 0.8 else f"soak note {rng.randint(1, 999)}",
    }


def _record_batch(ledger: Ledger, ids: list[str], result: tuple | None) -> None:
    if result is None or result[0] != 200:
        ledger.lost(ids)
        return
    try:
        answers = json.loads(result[1])["results"]
    except (ValueError, KeyError, TypeError):
        ledger.lost(ids)
        return
    for answer in answers:
        ledger.answered(answer["id"], answer["status"])


def _record_single(ledger: Ledger, entry_id: str, result: tuple | None) -> None:
    if result is None or result[0] >= 500:
        ledger.lost([entry_id])
        return
    status, _body, headers = result
    if headers.get("Idempotent-Replayed") == "true":
        ledger.answered(entry_id, "replayed")
    else:
        ledger.answered(entry_id, {201: "created", 200: "duplicate"}.get(status, f"http {status}"))


def patient_client(shared: Shared, patients: list[SoakPatient], seed: int) -> None:
    """One app connection speaking for its share of patients, round and round, until told to stop."""
    rng = random.Random(seed)
    http_ = Http(shared.address, shared.stats)
    ledger = shared.ledger
    try:
        while not shared.stop.is_set():
            p = rng.choice(patients)
            base = f"/api/v1/patients/{p.id}"
            roll = rng.random()
            if roll < 0.40:
                headers = {"If-None-Match": p.etag} if p.etag and rng.random() < 0.5 else {}
                result = http_.call(
                    "today's plan", "GET", f"{base}/today", token=p.token, headers=headers, expect=(200, 304)
                )
                if result and result[0] == 200:
                    p.etag = result[2].get("ETag")
                    ids = [item["item_id"] for item in json.loads(result[1])["items"]]
                    if ids:
                        p.item_ids = ids
            elif roll < 0.62 and p.item_ids:
                entries = [_entry(p, rng) for _ in range(rng.randint(1, 25))]
                body = json.dumps({"entries": entries}).encode()
                ids = [e["id"] for e in entries]
                ledger.sending(p.id, entries)
                if rng.random() < 0.08:  # the app retries while the first attempt is still in flight
                    ledger.sending(p.id, entries)
                    results = http_.twice("batch sync (twin)", "POST", f"{base}/logs/batch", token=p.token, body=body)
                    for result in results:
                        _record_batch(ledger, ids, result)
                else:
                    result = http_.call("batch sync", "POST", f"{base}/logs/batch", token=p.token, body=body)
                    _record_batch(ledger, ids, result)
                if rng.random() < 0.3:
                    shared.resends.append((p, body, ids))
            elif roll < 0.72:
                try:
                    q, body, ids = shared.resends.popleft()
                except IndexError:
                    continue
                with ledger.lock:
                    for entry_id in ids:
                        ledger.entries[entry_id].attempts += 1
                path = f"/api/v1/patients/{q.id}/logs/batch"
                _record_batch(ledger, ids, http_.call("batch resend", "POST", path, token=q.token, body=body))
            elif roll < 0.76 and p.item_ids:
                entries = [_entry(p, rng) for _ in range(rng.randint(1, 25))]
                body = json.dumps({"entries": entries}).encode()
                ids = [e["id"] for e in entries]
                ledger.sending(p.id, entries)
                http_.abandon("batch sync (answer lost)", "POST", f"{base}/logs/batch", token=p.token, body=body)
                ledger.lost(ids)
                shared.resends.append((p, body, ids))  # the app does not know: it will send it again
            elif roll < 0.88 and p.item_ids:
                entry = _entry(p, rng)
                key = {"Idempotency-Key": str(uuid.uuid4())}
                ledger.sending(p.id, [entry])
                path = f"{base}/logs"
                if rng.random() < 0.15:  # a retry racing the first attempt, with the same key
                    ledger.sending(p.id, [entry])
                    results = http_.twice(
                        "log + key (twin)", "POST", path, token=p.token, body=entry, headers=key, expect=(200, 201)
                    )
                    for result in results:
                        _record_single(ledger, entry["id"], result)
                    continue
                first = http_.call("log + key", "POST", path, token=p.token, body=entry, headers=key, expect=(201,))
                _record_single(ledger, entry["id"], first)
                if rng.random() < 0.5:
                    ledger.sending(p.id, [entry])
                    again = http_.call(
                        "log + key (retry)", "POST", path, token=p.token, body=entry, headers=key, expect=(201,)
                    )
                    _record_single(ledger, entry["id"], again)
                    if first and again and first[0] == 201 and again[1] != first[1]:
                        shared.stats.problem(
                            "log + key (retry)", "unexpected", "replayed answer differs from the first"
                        )
            elif roll < 0.93:
                http_.call("adherence (patient)", "GET", f"{base}/adherence?days=28", token=p.token)
            elif roll < 0.995:
                http_.call("routine (patient)", "GET", f"{base}/routine", token=p.token, expect=(200, 304))
            elif p.group == OPEN and p.phone not in shared.scenario.refused:
                local = datetime.now(ZoneInfo(p.zone)) + timedelta(minutes=rng.randint(0, 3))
                http_.call(
                    "reminder times", "PUT", f"{base}/sms/times", token=p.token, body={"exercise_times": [_hhmm(local)]}
                )
            shared.stop.wait(rng.uniform(0.01, 0.15))
    finally:
        http_.close()


def _routine_body(current: dict) -> dict:
    """A routine's current version as the body a PUT takes."""
    keep = ("exercise", *ITEM_FIELDS)
    return {
        "title": current["title"],
        "start_date": current["start_date"],
        "end_date": current["end_date"],
        "notes": current["notes"],
        "template": current["template"],
        "phases": [
            {
                "name": phase["name"],
                "start_date": phase["start_date"],
                "items": [{k: item[k] for k in keep} for item in phase["items"]],
            }
            for phase in current["phases"]
        ],
    }


def physio_client(shared: Shared, token: str, seed: int) -> None:
    """A physiotherapist at the web app: browsing, editing routines, booking and moving sessions."""
    rng = random.Random(seed)
    http_ = Http(shared.address, shared.stats)
    patients = shared.scenario.patients
    try:
        while not shared.stop.is_set():
            p = rng.choice(patients)
            roll = rng.random()
            if roll < 0.15:
                result = http_.call("patients list", "GET", "/api/v1/patients?limit=25", token=token)
                cursor = json.loads(result[1]).get("next_cursor") if result and result[0] == 200 else None
                if cursor and rng.random() < 0.5:
                    http_.call("patients list", "GET", f"/api/v1/patients?limit=25&cursor={cursor}", token=token)
            elif roll < 0.25:
                http_.call("risk list", "GET", "/api/v1/risk", token=token)
            elif roll < 0.42:
                http_.call("library search", "GET", f"/api/v1/exercises?{rng.choice(SEARCHES)}", token=token)
            elif roll < 0.52:
                http_.call("adherence (physio)", "GET", f"/api/v1/patients/{p.id}/adherence?days=28", token=token)
            elif roll < 0.68 and p.routine_ids:
                edit_routine(shared, http_, token, rng.choice(p.routine_ids), rng)
            elif roll < 0.78:
                book_session(shared, http_, token, p, rng)
            elif roll < 0.88:
                move_session(shared, http_, token, rng)
            elif roll < 0.94:
                with shared.sessions_lock:
                    waiting = shared.awaiting_consent.pop() if shared.awaiting_consent else None
                if waiting is not None:
                    http_.call(
                        "text consent",
                        "POST",
                        f"/api/v1/patients/{waiting}/sms/consent",
                        token=token,
                        body={"method": "verbal"},
                        expect=(201,),
                    )
            elif roll < 0.97:
                http_.call("reminder history", "GET", f"/api/v1/patients/{p.id}/reminders", token=token)
            else:
                http_.call("reminders summary", "GET", "/api/v1/reminders/summary", token=token)
            shared.stop.wait(rng.uniform(0.1, 0.6))
    finally:
        http_.close()


def edit_routine(shared: Shared, http_: Http, token: str, routine_id: int, rng: random.Random) -> None:
    """Open a routine, change it (a new version), and sometimes save twice (retry, double click).

    Two physiotherapists saving different content at once get 201 and 409: a 409 is expected only when
    another edit of the routine began or ended while this one was under way.
    """
    path = f"/api/v1/routines/{routine_id}"
    with shared.sessions_lock:
        shared.touched[routine_id] += 1
        mark = shared.touched[routine_id]
    try:
        result = http_.call("routine (physio)", "GET", path, token=token)
        if not result or result[0] != 200:
            return
        body = _routine_body(json.loads(result[1])["current"])
        item = body["phases"][-1]["items"][0]
        with shared.sessions_lock:
            shared.edits["routine edits"] += 1
            item["notes"] = f"soak edit {shared.edits['routine edits']}"
        if rng.random() < 0.2:
            item["sets"] = max(1, min(10, item["sets"] + rng.choice((-1, 1))))
        roll = rng.random()
        if roll < 0.15:  # double click: the same save twice at once; exactly one version should result
            results = http_.twice("routine edit (twin)", "PUT", path, token=token, body=body, expect=(200, 201, 409))
        else:
            results = [http_.call("routine edit", "PUT", path, token=token, body=body, expect=(201, 200, 409))]
            if roll < 0.4:  # saved again unchanged (a retry after a timeout): no new version
                again = http_.call("routine re-save", "PUT", path, token=token, body=body, expect=(200, 201, 409))
                results.append(again)
        with shared.sessions_lock:
            raced = shared.touched[routine_id] != mark
        if any(r and r[0] == 409 for r in results) and not raced:
            shared.stats.problem("routine edit", "unexpected", f"PUT {path}: 409 with no other edit under way")
    finally:
        with shared.sessions_lock:
            shared.touched[routine_id] += 1


def _session_start(rng: random.Random) -> str:
    start = datetime.now(UTC) + timedelta(minutes=rng.randint(30, 40 * 60))
    return start.replace(second=0, microsecond=0).isoformat()


def book_session(shared: Shared, http_: Http, token: str, p: SoakPatient, rng: random.Random) -> None:
    """Book a needling session; sometimes the booking is sent twice at once (a retried click)."""
    path = f"/api/v1/patients/{p.id}/sessions"
    body = {"starts_at": _session_start(rng), "duration_minutes": 30}
    if rng.random() < 0.2:
        results = http_.twice("session booking (twin)", "POST", path, token=token, body=body, expect=(201,))
    else:
        results = [http_.call("session booking", "POST", path, token=token, body=body, expect=(201,))]
    booked = {json.loads(r[1])["id"] for r in results if r and r[0] == 201}
    with shared.sessions_lock:
        shared.sessions[p.id].extend(sorted(booked))
        if len(results) == 2:
            shared.twin_bookings.append(booked)


def move_session(shared: Shared, http_: Http, token: str, rng: random.Random) -> None:
    """Reschedule or cancel one of the sessions booked so far."""
    with shared.sessions_lock:
        booked = [(pid, ids) for pid, ids in shared.sessions.items() if ids]
        if not booked:
            return
        patient_id, ids = rng.choice(booked)
        session_id = ids.pop(rng.randrange(len(ids)))
    path = f"/api/v1/sessions/{session_id}"
    if rng.random() < 0.35:
        http_.call("session cancel", "PATCH", path, token=token, body={"status": "cancelled"})
        return
    result = http_.call("session reschedule", "PATCH", path, token=token, body={"starts_at": _session_start(rng)})
    if result and result[0] == 200:
        with shared.sessions_lock:
            shared.sessions[patient_id].append(session_id)


# --- Twilio's side: the fake, faults, the carrier, the patients' phones ---------------------


class SoakTwilio(FakeTwilio):
    """The fake Twilio, also noting the exact moment it accepted each message (its records keep whole seconds)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """As FakeTwilio."""
        super().__init__(*args, **kwargs)
        self.accepted_at: dict[str, datetime] = {}

    def _create(self, form: dict[str, str]):  # type: ignore[no-untyped-def]
        response = super()._create(form)
        if response.status == 201:
            with self._lock:
                self.accepted_at[response.payload["sid"]] = datetime.now(UTC)
        return response

    def pending_faults(self) -> int:
        """Injected faults and delays not yet used up by a request."""
        with self._lock:
            return len(self._faults) + len(self._delays)

    def clear_faults(self) -> int:
        """Drop the faults no request has used up yet; return how many."""
        with self._lock:
            dropped = len(self._faults) + len(self._delays)
            self._faults.clear()
            self._delays.clear()
            return dropped

    def outbound(self) -> list[dict]:
        """Messages the service sent (not the replies the fake brought in)."""
        return [m for m in self.messages if m["direction"] == "outbound-api"]


def proxy_transport(stats: Stats, port_of: Callable[[], int]) -> Callable:
    """Deliver Twilio's webhooks as the TLS proxy in front of HEP would: to gunicorn, with X-Forwarded-*."""

    def transport(url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, str]:
        path = url.removeprefix(PUBLIC_BASE)
        kind = "webhook: status" if path.endswith("/status") else "webhook: inbound"
        forwarded = {
            **headers,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": PUBLIC_BASE.removeprefix("https://"),
            "X-Forwarded-For": "54.172.60.1",
        }
        started = time.perf_counter()
        try:
            status, body = urllib_transport(f"http://127.0.0.1:{port_of()}{path}", params, forwarded)
        except OSError as exc:
            stats.problem(kind, "dropped", f"POST {path}: {exc!r}")
            raise
        stats.record(kind, status, time.perf_counter() - started)
        if status not in (200, 204):
            stats.problem(kind, "unexpected", f"POST {path}: {status} {body[:200]!r}")
        return status, body

    return transport


@dataclass
class Carrier:
    """Delivery reports as the phone network sends them: late, duplicated, out of order, some failing."""

    fake: SoakTwilio
    rng: random.Random
    handled: set[str] = field(default_factory=set)
    final: dict[str, str] = field(default_factory=dict)  # sid: the terminal status we reported
    plan: Counter = field(default_factory=Counter)

    def pending(self) -> int:
        """Messages not yet reported on."""
        return len({m["sid"] for m in self.fake.outbound()} - self.handled)

    def run(self, stop: threading.Event) -> None:
        """Report on each message 1-3 s after Twilio accepted it, until stopped."""
        due: list[tuple[float, str]] = []
        while not stop.is_set() or due or self.pending():
            for message in self.fake.outbound():
                if message["sid"] not in self.handled:
                    self.handled.add(message["sid"])
                    due.append((time.monotonic() + self.rng.uniform(1, 3), message["sid"]))
            now = time.monotonic()
            for at, sid in sorted(due):
                if at <= now:
                    due.remove((at, sid))
                    self.report(sid)
            if stop.wait(0.3) and not due and not self.pending():
                break

    def report(self, sid: str) -> None:
        """Post one message's callbacks."""
        roll = self.rng.random()
        if roll < 0.70:
            steps = [("sent", None), ("delivered", None)]
            if self.rng.random() < 0.2:
                steps.append(("delivered", None))  # a duplicate callback
            kind = "sent, delivered"
        elif roll < 0.82:
            steps, kind = [("delivered", None), ("sent", None)], "delivered, then a late sent"
        elif roll < 0.87:
            steps, kind = [("sent", None), ("undelivered", 30006)], "undelivered 30006 (landline)"
        elif roll < 0.89:
            steps, kind = [("failed", 21610)], "failed 21610 (unsubscribed)"
        else:
            steps, kind = [], "no callback"
        self.plan[kind] += 1
        for status, code in steps:
            self.fake.deliver(sid, status, error_code=code)
        terminal = [s for s, _ in steps if RANK[s] == 2]
        if terminal:
            self.final[sid] = terminal[0]


@dataclass(frozen=True)
class Text:
    at: float  # seconds into the run
    patient: SoakPatient | None
    body: str
    redeliver: bool = False


def phone_script(scenario: Scenario, rng: random.Random, seconds: float) -> list[Text]:
    """What patients text back during the run: STOP (some START again), DONE (some twice), a pain score, HELP."""
    textable = [p for p in scenario.patients if p.group in (OPEN, CLOSING, OPENING) and p.phone not in scenario.refused]
    rng.shuffle(textable)
    share = max(1, round(0.06 * len(textable)))
    stoppers, doers = textable[:share], textable[share : 2 * share]
    others = textable[2 * share : 2 * share + max(1, share // 2)]
    texts = []
    for n, p in enumerate(stoppers):
        stop_at = rng.uniform(0.15, 0.7) * seconds
        texts.append(Text(stop_at, p, rng.choice(("STOP", "stop", "Unsubscribe")), rng.random() < 0.3))
        if n % 3 == 0:
            texts.append(Text(stop_at + rng.uniform(0.05, 0.15) * seconds, p, "START"))
    for n, p in enumerate(doers):
        at = rng.uniform(0.05, 0.85) * seconds
        texts.append(Text(at, p, "DONE", rng.random() < 0.3))
        if n % 2 == 0:
            texts.append(Text(min(at + rng.uniform(5, 30), 0.95 * seconds), p, "done"))
    for n, p in enumerate(others):
        texts.append(Text(rng.uniform(0.1, 0.9) * seconds, p, ("7", "HELP", "what is this?")[n % 3], n % 2 == 0))
    texts.append(Text(rng.uniform(0.1, 0.9) * seconds, None, "hello"))
    return sorted(texts, key=lambda t: t.at)


def phones(fake: SoakTwilio, script: list[Text], started: float, stop: threading.Event, sent: list) -> None:
    """Bring the patients' texts in through the signed inbound webhook at their times (some delivered twice)."""
    url = f"{PUBLIC_BASE}/webhooks/twilio/inbound"
    for text in script:
        if stop.wait(max(0.0, started + text.at - time.monotonic())):
            return
        sender = text.patient.phone if text.patient else "+15550000123"
        status, body = fake.send_inbound(url, sender, FROM_NUMBER, text.body)
        sent.append((datetime.now(UTC), text, status, body))
        if text.redeliver:  # Twilio retries a webhook it thinks failed: same MessageSid, same answer expected
            first = next(
                c
                for c in reversed(fake.callbacks)
                if c.url == url and c.params.get("From") == sender and c.params.get("Body") == text.body
            )
            again = fake.post_webhook(first.url, first.params)
            if again.body != body:
                problem = f"re-delivered {text.body!r} answered differently: {again.body[:100]!r}"
                sent.append((datetime.now(UTC), Text(text.at, text.patient, "(redelivery mismatch)"), 0, problem))


FAULTS = ("timeout, carried out", "500 x2", "429 x3", "timeout, dropped", "429 x1", "503 x1", "500 x1")


def inject_faults(fake: SoakTwilio, injected: Counter, every: float, until: float, stop: threading.Event) -> None:
    """Every `every` seconds, make Twilio's next answer(s) fail in one of the ways real Twilio does.

    A fault waits for the one before it to be used up by a request, and whatever is left when faults stop
    is withdrawn: a fault must hit the load, not the final settling of the books.
    """
    n = 0
    while not stop.wait(every) and time.monotonic() < until:
        if fake.pending_faults():
            continue
        fault = FAULTS[n % len(FAULTS)]
        n += 1
        if fault.startswith(("429", "500", "503")):
            status, count = int(fault[:3]), int(fault.split("x")[1])
            fake.fail_next(count, status=status, code=20429 if status == 429 else 20500)
            injected[fault.split()[0]] += count
        else:
            # Longer than the SDK's 10 s timeout: the dispatcher gives up; with "carried out" the text exists.
            fake.timeout_next(1, seconds=11, accept=fault.endswith("carried out"))
            injected[fault] += 1
    injected["withdrawn unused"] += fake.clear_faults()


# --- processes ------------------------------------------------------------------------------


def _scheduler_env(url: str, fake: FakeTwilio) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DATABASE_URL=url,
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM_NUMBER=FROM_NUMBER,
        TWILIO_BASE_URL=fake.base_url,
        HEP_SMS_STATUS_CALLBACK_URL=f"{PUBLIC_BASE}/webhooks/twilio/status",
    )
    return env


@contextmanager
def schedulers(url: str, fake: FakeTwilio, workdir: Path, count: int = 2) -> Iterator[list[subprocess.Popen]]:
    """`flask --app wsgi scheduler` x count, as in production; SIGTERM (then SIGKILL) after."""
    procs = []
    try:
        for n in range(count):
            with (workdir / f"scheduler-{n}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
                        cwd=ROOT,
                        env=_scheduler_env(url, fake),
                        stdout=log,
                        stderr=log,
                        start_new_session=True,  # a Ctrl-C reaches only us; we stop them in `finally`
                    )
                )
        say(f"{count} scheduler processes started (pids {', '.join(str(p.pid) for p in procs)})")
        yield procs
    finally:
        stop(procs)
        say("schedulers stopped")


def scheduler_once(url: str, fake: FakeTwilio, workdir: Path) -> int:
    """One `flask scheduler --once` pass (as cron would run it): settles what reconcile has not reached yet."""
    with (workdir / "scheduler-once.log").open("ab") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--once"],
            cwd=ROOT,
            env=_scheduler_env(url, fake),
            stdout=log,
            stderr=log,
            timeout=120,
            check=False,
        )
    return proc.returncode


class Meter(CpuMeter):
    """The shared CPU meter, read at every progress interval: usage since the last tick, and the worst."""

    def __init__(self, roots: Callable[[], set[int]], database_name: str | None):
        super().__init__(roots, database_name)
        self.first = self.last = self.sample()
        self.worst: float | None = None

    def tick(self) -> tuple[float, float] | None:
        """Usage since the last tick; remembers the worst other-work share."""
        now = self.sample()
        usage = self._usage(self.last, now)
        self.last = now
        if usage is not None:
            self.worst = usage[1] if self.worst is None else max(self.worst, usage[1])
        return usage

    def overall(self) -> tuple[float, float] | None:
        """Usage over the whole run so far."""
        return self._usage(self.first, self.last)

    def _usage(self, before: CpuSample | None, after: CpuSample | None) -> tuple[float, float] | None:
        machine, other = self.usage(before, after)
        return None if machine is None or other is None else (machine, other)


# --- the run --------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything observed, for the checks and the report."""

    scenario: Scenario
    stats: Stats
    ledger: Ledger
    fake: SoakTwilio
    carrier: Carrier
    inbound: list
    injected: Counter
    withdrawn_faults: int
    seconds: float
    drain_seconds: float
    once_pass: str
    cpu_overall: tuple[float, float] | None
    cpu_worst: float | None
    logs: dict[str, str]
    db: dict[str, list]
    edits: Counter
    code: str
    workers: int
    own_cpu: float  # % of one core: the load generator, the fake Twilio and the carrier (this process)
    twin_bookings: list[set[int]]


def _count_open(engine: sa.Engine, load_end: datetime) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM reminders WHERE status IN ('claimed', 'sending')"
                " OR (status = 'planned' AND next_attempt_at <= :now AND due_at <= :end)"
            ),
            {"now": datetime.now(UTC), "end": load_end},
        ).scalar_one()


def _count_in_flight(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM reminders WHERE status IN ('claimed', 'sending') AND lease_expires_at > :now"
            ),
            {"now": datetime.now(UTC)},
        ).scalar_one()


def _reminder_counts(engine: sa.Engine) -> Counter:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(sa.text("SELECT status, count(*) FROM reminders GROUP BY status")).all()))


def _fetch(engine: sa.Engine) -> dict[str, list]:
    """The final state of what the checks read."""
    queries = {
        "reminders": "SELECT id, patient_id, kind, slot, local_date, due_at, window_end_at, next_attempt_at, status,"
        " reason, attempts, provider_sid, provider_status, sending_since, sent_at, to_phone, body, error_code"
        " FROM reminders",
        "consent": "SELECT patient_id, at, event FROM consent_events ORDER BY at, id",
        "sessions": "SELECT id, patient_id, starts_at, status FROM needling_sessions",
        "logs": "SELECT id, patient_id, routine_item_id, performed_at, sets_done, reps_done, hold_seconds_done,"
        " pain_before, pain_after, difficulty, note, source, local_date, deleted_at FROM adherence_logs",
        "versions": "SELECT routine_id, number, content_hash FROM routine_versions ORDER BY routine_id, number",
        "inbound": "SELECT provider_sid, patient_id, action FROM inbound_messages",
    }
    with engine.connect() as conn:
        return {name: [row._asdict() for row in conn.execute(sa.text(sql))] for name, sql in queries.items()}


def soak(database: Database, args: argparse.Namespace, workdir: Path) -> Run:
    """Build, serve, load, drain, and gather what happened."""
    minutes = args.minutes
    token_ttl = int(minutes * 60) + 3600
    code = code_version()  # before the run: what the processes start from
    scenario = prepare(database.url, args.patients, minutes, token_ttl)
    say(
        f"clinic window {scenario.window_start}-{scenario.window_end} local; zones: "
        + ", ".join(f"{g} {z}" for g, z in scenario.zones.items())
    )
    stats, ledger, rng = Stats(), Ledger(), random.Random(args.seed)
    port: list[int] = []
    fake = SoakTwilio(SID, TOKEN, transport=proxy_transport(stats, lambda: port[0]))
    fake.latency = 0.05
    for phone, error in scenario.refused.items():
        fake.reject_number(phone, code=error)
    os.environ.update(TWILIO_AUTH_TOKEN=TOKEN, HEP_TRUST_PROXY_HOPS="1")  # gunicorn copies our environment
    carrier = Carrier(fake, random.Random(args.seed + 1))
    injected: Counter = Counter()
    inbound: list = []
    engine = sa.create_engine(sa.make_url(database.url), pool_size=1)
    threads: list[threading.Thread] = []
    crashed: list[str] = []
    load_stop, twilio_stop = threading.Event(), threading.Event()
    with ExitStack() as stack:
        stack.enter_context(fake)
        stack.callback(engine.dispose)
        procs = stack.enter_context(schedulers(database.url, fake, workdir))  # they boot while gunicorn does
        server = stack.enter_context(gunicorn(database.url, workdir, say, workers=args.workers))
        port.append(server.address[1])

        def stop_threads() -> None:
            load_stop.set()
            twilio_stop.set()
            for thread in threads:
                thread.join(timeout=30)

        stack.callback(stop_threads)
        meter = Meter(lambda: {server.pid, *(p.pid for p in procs)}, database.name)
        shared = Shared(server.address, scenario, stats, ledger, load_stop)
        shared.awaiting_consent = [p.id for p in scenario.patients if p.group == LATE_CONSENT]
        rng.shuffle(shared.awaiting_consent)
        seconds = minutes * 60
        started, cpu_started = time.monotonic(), time.process_time()
        load_until = started + seconds
        connections = args.connections
        for k in range(connections):
            share = scenario.patients[k::connections] or scenario.patients
            client = guarded(patient_client, crashed)
            threads.append(threading.Thread(target=client, args=(shared, share, args.seed * 100 + k)))
        for k, token in enumerate(scenario.physio_tokens[: args.physios]):
            client = guarded(physio_client, crashed)
            threads.append(threading.Thread(target=client, args=(shared, token, args.seed * 1000 + k)))
        fault_every = min(25.0, max(4.0, seconds / 25))
        fault_until = load_until - min(90.0, 0.25 * seconds)
        script = phone_script(scenario, rng, seconds)
        threads.append(
            threading.Thread(
                target=guarded(inject_faults, crashed), args=(fake, injected, fault_every, fault_until, load_stop)
            )
        )
        threads.append(
            threading.Thread(target=guarded(phones, crashed), args=(fake, script, started, load_stop, inbound))
        )
        carrier_thread = threading.Thread(target=guarded(carrier.run, crashed), args=(twilio_stop,))
        for thread in [*threads, carrier_thread]:
            thread.daemon = True
            thread.start()
        say(
            f"load: {connections} patient connections, {args.physios} physiotherapists, {len(script)} texts"
            f" from patients, a fault every {fault_every:.0f} s; running {minutes:g} min"
        )
        every = min(30.0, max(5.0, seconds / 20))
        while time.monotonic() < load_until:
            time.sleep(min(every, max(0.0, load_until - time.monotonic())))
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a scheduler exited with {proc.returncode}; see {workdir}")
            if crashed:
                raise RuntimeError(f"a load thread died: {crashed[0]}")
            usage = meter.tick()
            counts = _reminder_counts(engine)
            say(
                f"load {time.monotonic() - started:.0f} s: {stats.total()} requests, {stats.server_errors()} 5xx,"
                f" {sum(stats.dropped.values())} dropped, {sum(stats.unexpected.values())} unexpected;"
                f" {len(fake.outbound())} texts at Twilio; reminders "
                + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                + (f"; machine {usage[0]:.0f} %, other work {usage[1]:.0f} %" if usage else "")
            )
            if usage and usage[1] > BUSY:
                say(f"!!! other work took {usage[1]:.0f} % of the machine in the last {every:.0f} s")
        load_stop.set()
        scenario.load_end = datetime.now(UTC)
        for thread in threads:
            thread.join(timeout=60)
        elapsed = time.monotonic() - started
        own_cpu = 100 * (time.process_time() - cpu_started) / elapsed
        say(f"load stopped after {elapsed:.0f} s; draining (schedulers and delivery reports keep going)")
        drain_started = time.monotonic()
        drain_limit = min(150.0, max(5.0, 0.25 * seconds))
        while time.monotonic() - drain_started < drain_limit and _count_open(engine, scenario.load_end):
            time.sleep(1)
        once = "not needed"
        left = _count_open(engine, scenario.load_end)
        if left:
            # Let sends already in flight finish (a held request times out after 10 s), then settle the rest
            # at once rather than waiting for the next reconcile tick (every 60 s).
            deadline = time.monotonic() + 20
            while _count_in_flight(engine) and time.monotonic() < deadline:
                time.sleep(1)
            status = scheduler_once(database.url, fake, workdir)
            once = (
                f"{left} reminder(s) still open after {drain_limit:.0f} s; one `scheduler --once` pass (exit {status})"
            )
            say(once)
        twilio_stop.set()
        carrier_thread.join(timeout=30)  # it reports on every text first (at most 3 s late)
        meter.tick()
        drain = time.monotonic() - drain_started
        if crashed:
            raise RuntimeError(f"a soak thread died: {crashed[0]}")
        stack.close()
    logs = {path.name: path.read_text(errors="replace") for path in sorted(workdir.glob("*.log"))}
    engine = sa.create_engine(sa.make_url(database.url), pool_size=1)
    try:
        final = _fetch(engine)
    finally:
        engine.dispose()
    return Run(
        scenario=scenario,
        stats=stats,
        ledger=ledger,
        fake=fake,
        carrier=carrier,
        inbound=inbound,
        injected=injected,
        withdrawn_faults=injected.pop("withdrawn unused", 0),
        seconds=elapsed,
        drain_seconds=drain,
        once_pass=once,
        cpu_overall=meter.overall(),
        cpu_worst=meter.worst,
        logs=logs,
        db=final,
        edits=shared.edits,
        code=code,
        workers=args.workers,
        own_cpu=own_cpu,
        twin_bookings=shared.twin_bookings,
    )


# --- the checks -----------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def _local_window(moment: datetime, zone: ZoneInfo, scenario: Scenario) -> tuple[datetime, datetime]:
    day = moment.astimezone(zone).date()
    return local_moment(day, scenario.window_start, zone), local_moment(day, scenario.window_end, zone)


def check_http(run: Run) -> list[Check]:
    """Zero 5xx; no dropped connections; every answer the one the request should get."""
    stats = run.stats
    fives = Counter({k: n for k, c in stats.statuses.items() for s, n in c.items() if s >= 500})
    dropped, unexpected = sum(stats.dropped.values()), sum(stats.unexpected.values())
    four_kinds = {k: n - fives.get(k, 0) for k, n in stats.unexpected.items() if n > fives.get(k, 0)}
    four = sum(four_kinds.values())
    tracebacks = {name: _exceptions(text) for name, text in run.logs.items()}
    tracebacks = {name: dict(found.most_common(3)) for name, found in tracebacks.items() if found}
    return [
        Check(
            "zero 5xx responses",
            not fives and not dropped,
            f"{sum(fives.values())} 5xx ({dict(fives) or 'none'}), {dropped} dropped connections"
            f" ({dict(stats.dropped) or 'none'}) over {stats.total()} answered requests",
        ),
        Check(
            "every answer as expected (no unexpected 4xx)",
            not four,
            f"{four} unexpected 4xx or other statuses ({dict(four_kinds) or 'none'}); {unexpected} unexpected in all,"
            " 5xx included",
        ),
        Check(
            "no exception in the gunicorn and scheduler logs",
            not tracebacks,
            f"tracebacks: {tracebacks or 'none'}",
        ),
    ]


def _exceptions(log: str) -> Counter:
    """The exceptions a log's tracebacks end with (their last, unindented line)."""
    found: Counter = Counter()
    lines = log.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            tail = next((x for x in lines[n + 1 :] if x and not x.startswith((" ", "\t"))), "?")
            found[tail[:160]] += 1
    return found


def _same_content(row: dict, entry: dict) -> bool:
    sent_at = datetime.fromisoformat(entry["performed_at"])
    fields = ("routine_item_id", *DONE_FIELDS)
    return all(row[f] == entry[f] for f in fields) and row["performed_at"] == sent_at


def check_logs(run: Run) -> tuple[list[Check], dict]:
    """Every acknowledged entry stored once as sent; nothing stored that was never sent; no double `created`."""
    rows = {str(r["id"]): r for r in run.db["logs"] if r["id"] not in run.scenario.seed_log_ids}
    entries = run.ledger.entries
    missing, altered, twice, phantom_dup, odd, deleted = [], [], [], [], Counter(), []
    acked = lost_stored = lost_absent = 0
    for entry_id, fate in entries.items():
        created, dup = fate.answers["created"], fate.answers["duplicate"] + fate.answers["replayed"]
        for status, n in fate.answers.items():
            if status not in ("created", "duplicate", "replayed"):
                odd[status] += n
        if created > 1:
            twice.append(entry_id)
        if dup and not created and not fate.lost:  # every attempt answered, none created it: who did?
            phantom_dup.append(entry_id)
        row = rows.get(entry_id)
        if created or dup:
            acked += 1
            if row is None:
                missing.append(entry_id)
                continue
        elif row is None:
            lost_absent += 1
            continue
        else:
            lost_stored += 1
        if row["patient_id"] != fate.patient_id or not _same_content(row, fate.entry):
            altered.append(entry_id)
        if row["deleted_at"] is not None:
            deleted.append(entry_id)
    done_ids = _done_ids(run)
    strays = [i for i, r in rows.items() if i not in entries and not (r["source"] == "sms" and i in done_ids)]
    sms_rows = sum(1 for r in rows.values() if r["source"] == "sms")
    figures = {
        "entries sent": len(entries),
        "attempts": sum(f.attempts for f in entries.values()),
        "acknowledged (created or duplicate)": acked,
        "answer lost, stored anyway": lost_stored,
        "answer lost, not stored": lost_absent,
        "stored by DONE texts": sms_rows,
    }
    checks = [
        Check(
            "every acknowledged log entry stored exactly once, as sent",
            not (missing or altered or deleted),
            f"{acked} acknowledged entries: {len(missing)} missing, {len(altered)} stored with other content or"
            f" patient, {len(deleted)} deleted"
            + (f"; e.g. {(missing + altered + deleted)[0]}" if missing or altered or deleted else ""),
        ),
        Check(
            "no log entry stored that was never sent",
            not strays,
            f"{len(rows)} rows added during the soak; {len(strays)} not sent by an app nor made by a DONE text"
            + (f"; e.g. {strays[0]}" if strays else ""),
        ),
        Check(
            "each entry answered `created` at most once; `duplicate` only for one already sent",
            not (twice or phantom_dup or odd),
            f"{len(twice)} created twice, {len(phantom_dup)} duplicate on a first and only attempt,"
            f" other answers {dict(odd) or 'none'}",
        ),
    ]
    return checks, figures


def _done_ids(run: Run) -> set[str]:
    """The ids a DONE text may have stored: uuid5(patient/item/local day/n) for the patients who texted DONE."""
    doers = {t.patient.id for _at, t, _status, _body in run.inbound if t.patient and t.body.upper() == "DONE"}
    ids = set()
    for row in run.db["logs"]:
        if row["source"] == "sms" and row["patient_id"] in doers:
            for n in range(6):
                key = f"{row['patient_id']}/{row['routine_item_id']}/{row['local_date']}/{n}"
                ids.add(str(uuid.uuid5(SMS_DONE_NAMESPACE, key)))
    return ids


def _inactive_spans(run: Run) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """Per patient, the times texts were not allowed: from an opt-out or a lost number until consent came back."""
    spans: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for event in run.db["consent"]:
        pid, at, kind = event["patient_id"], event["at"], event["event"]
        if kind in ("opted_out", "unusable", "phone_changed"):
            if not spans[pid] or spans[pid][-1][1] is not None:
                spans[pid].append((at, None))
        elif kind in ("granted", "opted_in") and spans[pid] and spans[pid][-1][1] is None:
            spans[pid][-1] = (spans[pid][-1][0], at)
    return spans


def check_reminders(run: Run) -> tuple[list[Check], dict]:
    """Sent exactly once, every due one settled, nothing outside the window, after an opt-out, or over the cap."""
    scenario, reminders = run.scenario, run.db["reminders"]
    by_sid = {r["provider_sid"]: r for r in reminders if r["provider_sid"]}
    by_phone = {p.phone: p for p in scenario.patients}
    messages = run.fake.outbound()
    unresolved = {
        (r["to_phone"], r["body"]): r for r in reminders if r["status"] == "sending" and r["sending_since"] is not None
    }
    orphans = [m for m in messages if m["sid"] not in by_sid and (m["to"], m["body"]) not in unresolved]
    awaiting = [m for m in messages if m["sid"] not in by_sid and (m["to"], m["body"]) in unresolved]
    per_slot = Counter((r["patient_id"], r["kind"], r["slot"]) for r in reminders if r["provider_sid"])
    unknown_sid = [r for r in reminders if r["provider_sid"] and r["provider_sid"] not in run.fake.accepted_at]
    # Settled: every reminder due before the load stopped ended somewhere, with a reason when not sent.
    due = [r for r in reminders if r["due_at"] <= scenario.load_end]
    drained = datetime.now(UTC)
    stuck, no_reason, neglected, backoff = [], [], [], []
    for r in due:
        verdict = _settled(r, drained)
        {"stuck": stuck, "no reason": no_reason, "backoff": backoff}.get(verdict, []).append(r)
        if r["status"] == "missed" and r["attempts"] == 0 and r["window_end_at"] - r["due_at"] >= NEGLECT:
            neglected.append(r)
    # Window: the moment Twilio accepted each text, in the patient's local time, against the clinic window.
    outside, latest = [], None
    for m in messages:
        patient = by_phone.get(m["to"])
        accepted = run.fake.accepted_at[m["sid"]]
        if patient is None:
            outside.append((m["to"], accepted, "not a soak patient"))
            continue
        start, end = _local_window(accepted, ZoneInfo(patient.zone), scenario)
        late = accepted - end
        latest = late if latest is None else max(latest, late)
        if accepted < start or late > LATE_GRACE:
            outside.append((m["to"], accepted.astimezone(ZoneInfo(patient.zone)).isoformat(), patient.group))
    # After an opt-out: Twilio must have accepted the text before the opt-out was recorded (with the same
    # grace as the window: a send already past its last check is in flight), or after consent came back.
    spans, after_stop = _inactive_spans(run), []
    for m in messages:
        patient, accepted = by_phone.get(m["to"]), run.fake.accepted_at[m["sid"]]
        for begin, end in spans.get(patient.id, []) if patient else []:
            if begin + LATE_GRACE < accepted and (end is None or accepted < end):
                kind = by_sid[m["sid"]]["kind"] if m["sid"] in by_sid else "no reminder"
                after_stop.append(
                    f"patient {patient.id}, {kind} text at {accepted:%H:%M:%S.%f}, stopped {begin:%H:%M:%S.%f}"
                )
    # Daily cap: at most max_per_day (1) exercise texts per patient and local day.
    per_day = Counter(
        (r["patient_id"], r["local_date"]) for r in reminders if r["kind"] == "exercise" and r["provider_sid"]
    )
    over_cap = {k: n for k, n in per_day.items() if n > 1}
    latest_shown = f"{latest.total_seconds():+.1f} s" if latest else "-"
    figures = {
        "texts accepted by Twilio": len(messages),
        "reminders due during the load": len(due),
        "latest text relative to its window's end": latest_shown,
        "waiting out a backoff at the end": len(backoff),
    }
    checks = [
        Check(
            "every text at Twilio belongs to exactly one reminder (none sent twice)",
            not orphans and not unknown_sid and max(per_slot.values(), default=0) <= 1,
            f"{len(messages)} texts: {len(orphans)} belong to no reminder"
            + (f" (e.g. {_orphan(orphans[0], run)})" if orphans else "")
            + f"; {len(unknown_sid)} reminders name a message Twilio never accepted; {len(awaiting)} belong to a"
            " reminder still `sending` (see the next check)",
        ),
        Check(
            "every due reminder sent once or settled with a recorded reason",
            not stuck and not no_reason and not neglected,
            f"{len(due)} due: {len(stuck)} stuck or sent without a message, {len(no_reason)} without a reason,"
            f" {len(neglected)} missed without an attempt although {NEGLECT.seconds} s of window were left,"
            f" {len(backoff)} still in a 429 backoff (reason recorded)"
            + (f"; e.g. {_brief(stuck or no_reason or neglected)}" if stuck or no_reason or neglected else ""),
        ),
        Check(
            "no reminder sent outside its window",
            not outside,
            f"{len(outside)} of {len(messages)} texts outside {scenario.window_start}-{scenario.window_end} local"
            f" (+{LATE_GRACE.seconds} s for the request in flight); latest {latest_shown}"
            + (f"; e.g. {outside[0]}" if outside else ""),
        ),
        Check(
            "no text after an opt-out or a lost number; at most one exercise text a day",
            not after_stop and not over_cap,
            f"{len(after_stop)} texts accepted more than {LATE_GRACE.seconds} s after texts were stopped,"
            f" {len(over_cap)} patient-days over the cap" + (f"; e.g. {after_stop[0]}" if after_stop else ""),
        ),
    ]
    return checks, figures


def _orphan(message: dict, run: Run) -> str:
    """A text no reminder claims, shown next to that patient's reminders."""
    patient = next((p for p in run.scenario.patients if p.phone == message["to"]), None)
    accepted = run.fake.accepted_at[message["sid"]]
    rows = [r for r in run.db["reminders"] if patient and r["patient_id"] == patient.id]
    shown = "; ".join(
        f"reminder {r['id']} {r['kind']} {r['status']}, {r['attempts']} attempt(s), sid {r['provider_sid']}"
        + (f", sending since {r['sending_since']:%H:%M:%S.%f}" if r["sending_since"] else "")
        for r in rows
    )
    return f"{message['sid']} to patient {patient.id if patient else '?'} at {accepted:%H:%M:%S.%f}: {shown}"


def _settled(r: dict, drained: datetime) -> str:
    """How a due reminder ended: ok, backoff (a 429 retry still to come), stuck, or no reason."""
    status = r["status"]
    if status == "planned" and r["reason"] and r["next_attempt_at"] > drained - timedelta(seconds=20):
        return "backoff"
    if status not in FINAL or (status in ("sent", "delivered", "undelivered") and r["provider_sid"] is None):
        return "stuck"
    if status in ("undelivered", "failed") and not (r["reason"] or r["error_code"]):
        return "no reason"
    if status in ("skipped", "withdrawn", "missed") and not r["reason"]:
        return "no reason"
    return "ok"


def _brief(rows: list[dict]) -> str:
    r = rows[0]
    return (
        f"reminder {r['id']} ({r['kind']} {r['slot']}, {r['status']}, due {r['due_at']:%H:%M:%S},"
        f" window end {r['window_end_at']:%H:%M:%S}, attempts {r['attempts']}, reason {r['reason']!r})"
    )


def check_webhooks(run: Run) -> tuple[Check, dict]:
    """Every signed callback accepted behind the proxy; each reminder shows the furthest status reported."""
    rejected = [c for c in run.fake.callbacks if c.status not in (200, 204)]
    by_sid = {r["provider_sid"]: r for r in run.db["reminders"] if r["provider_sid"]}
    behind = [
        by_sid[sid] for sid, final in run.carrier.final.items() if sid in by_sid and by_sid[sid]["status"] != final
    ]
    # A reminder adopted by reconcile (its send timed out, but Twilio had it) learns its SID only then, after
    # Twilio's callbacks came and were ignored as unknown; reconcile stores Twilio's status as provider_status.
    adopted = [r for r in behind if r["provider_status"] == run.carrier.final[r["provider_sid"]]]
    lost = [r for r in behind if r not in adopted]
    mismatched = [b for _at, t, _s, b in run.inbound if t.body == "(redelivery mismatch)"]
    check = Check(
        "webhooks: every callback accepted, statuses recorded, re-deliveries answered alike",
        not rejected and not lost and not mismatched,
        f"{len(run.fake.callbacks)} posted: {len(rejected)} refused"
        + (f" (e.g. {rejected[0].status} {rejected[0].url})" if rejected else "")
        + f"; {len(lost)} reminders behind the final status reported"
        + (
            f" (e.g. {_brief(lost)}, reported {run.carrier.final[lost[0]['provider_sid']]}; {_lag(lost, run)})"
            if lost
            else ""
        )
        + f"; {len(mismatched)} re-delivered texts answered differently",
    )
    return check, {"adopted by reconcile after Twilio's final report (status left at sent)": len(adopted)}


def _lag(rows: list[dict], run: Run) -> str:
    """How long after Twilio accepted each text its SID was recorded (a callback before that finds nothing)."""
    lags = sorted((r["sent_at"] - run.fake.accepted_at[r["provider_sid"]]).total_seconds() for r in rows)
    return "SID recorded " + ", ".join(f"{lag:+.1f} s" for lag in lags) + " after Twilio accepted the text"


def check_sessions(run: Run) -> Check:
    """A retried booking books one session: both tries answered with it, and none stored twice."""
    scheduled = Counter((s["patient_id"], s["starts_at"]) for s in run.db["sessions"] if s["status"] == "scheduled")
    doubled = {k: n for k, n in scheduled.items() if n > 1}
    split = [ids for ids in run.twin_bookings if len(ids) != 1]
    return Check(
        "no session booked twice by a retried booking",
        not doubled and not split,
        f"{len(run.twin_bookings)} bookings sent twice at once: {len(split)} not answered with one same session;"
        f" {len(run.db['sessions'])} sessions, {len(doubled)} patient/start pairs booked more than once",
    )


def check_versions(run: Run) -> Check:
    """A routine saved twice with the same content has one version for it, not two."""
    repeats, previous = 0, None
    for v in run.db["versions"]:
        if previous and previous["routine_id"] == v["routine_id"] and previous["content_hash"] == v["content_hash"]:
            repeats += 1
        previous = v
    return Check(
        "no routine version repeated by a re-save or a double click",
        not repeats,
        f"{len(run.db['versions'])} versions; {repeats} identical to the one before",
    )


# --- the report -----------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def request_table(stats: Stats) -> list[str]:
    """Requests per kind: count, statuses, p50 and p99."""
    lines = ["| request | count | statuses | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    kinds = sorted(set(stats.statuses) | set(stats.abandoned) | set(stats.dropped))
    for kind in kinds:
        count = sum(stats.statuses[kind].values()) + stats.abandoned[kind] + stats.dropped[kind]
        shown = ", ".join(f"{s}: {n}" for s, n in sorted(stats.statuses[kind].items()))
        if stats.abandoned[kind]:
            shown = (shown + ", " if shown else "") + f"hung up before the answer: {stats.abandoned[kind]}"
        if stats.dropped[kind]:
            shown = (shown + ", " if shown else "") + f"**dropped: {stats.dropped[kind]}**"
        lat = stats.latencies[kind]
        p50 = f"{_pct(lat, 0.5):.1f}" if lat else "-"
        p99 = f"{_pct(lat, 0.99):.1f}" if lat else "-"
        lines.append(f"| {kind} | {count} | {shown} | {p50} | {p99} |")
    return lines


def reminder_table(run: Run) -> list[str]:
    """Reminders by kind and state, and by reason."""
    reminders = run.db["reminders"]
    lines = ["| kind | " + " | ".join(sorted(FINAL | {"planned"})) + " | total |", "|---" * (len(FINAL) + 3) + "|"]
    kinds = sorted({r["kind"] for r in reminders})
    for kind in kinds:
        counts = Counter(r["status"] for r in reminders if r["kind"] == kind)
        cells = [str(counts.get(s, 0)) for s in sorted(FINAL | {"planned"})]
        other = {s: n for s, n in counts.items() if s not in FINAL | {"planned"}}
        lines.append(
            f"| {kind} | "
            + " | ".join(cells)
            + f" | {sum(counts.values())}"
            + (f" (also {other})" if other else "")
            + " |"
        )
    reasons = Counter(
        (r["status"], (r["reason"] or "")[:90]) for r in reminders if r["status"] not in ("sent", "delivered")
    )
    lines += ["", "| state | reason | count |", "|---|---|---|"]
    lines += [f"| {status} | {reason or '-'} | {n} |" for (status, reason), n in sorted(reasons.items())]
    return lines


def section(run: Run, checks: list[Check], figures: dict, database: Database, argv: list[str]) -> str:
    """The Markdown section for RESULTS-soak.md."""
    s, stats = run.scenario, run.stats
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    failed = [c for c in checks if not c.passed]
    machine = (
        f"machine {run.cpu_overall[0]:.0f} % busy on average, other work {run.cpu_overall[1]:.0f} % of all cores"
        f" on average, at most {run.cpu_worst:.0f} % in any progress interval"
        if run.cpu_overall and run.cpu_worst is not None
        else "unknown (no /proc)"
    )
    if run.cpu_worst is not None and run.cpu_worst > BUSY:
        machine += " (**the machine was shared: latencies are inflated**)"
    machine += f"; this script (load generator, fake Twilio) used {run.own_cpu:.0f} % of one core"
    statuses = Counter()
    for counter in stats.statuses.values():
        statuses.update(counter)
    groups = Counter(p.group for p in s.patients)
    lines = ["## Soak", ""]
    lines += [f"> **{len(failed)} CHECK(S) FAILED**: " + "; ".join(c.name for c in failed), ""] if failed else []
    lines += [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cores} cores ({cpu_model()}), {memory()} RAM, {platform.system()} {platform.release()};"
        " the load generator, the fake Twilio, gunicorn, both schedulers and PostgreSQL share these cores",
        f"- software: {versions(PACKAGES)}; {database.description}; HEP {run.code}",
        f"- command: `{command_line('soak.py', argv)}`",
        f"- duration: {run.seconds / 60:.1f} min of load, then {run.drain_seconds:.0f} s of draining"
        f" (schedulers and delivery reports only); final scheduler pass: {run.once_pass}",
        f"- CPU: {machine}",
        f"- service: gunicorn -w {run.workers} (sync workers) behind a simulated TLS proxy"
        f" (`HEP_TRUST_PROXY_HOPS=1`, webhooks"
        f" signed for `{PUBLIC_BASE}`), two `flask --app wsgi scheduler` processes, fake Twilio answering after 50 ms",
        f"- data: {len(s.patients)} patients ("
        + ", ".join(f"{g} {n}" for g, n in sorted(groups.items()))
        + f"), {s.history_logs} log entries of history, built in {s.build_seconds:.0f} s; clinic window"
        f" {s.window_start}-{s.window_end} local (default reminder time {s.clinic_time}), zones "
        + ", ".join(f"{g}: {z}" for g, z in sorted(s.zones.items())),
        "",
        "### Checks",
        "",
        "| check | result | detail |",
        "|---|---|---|",
        *[f"| {c.name} | {'PASS' if c.passed else '**FAIL**'} | {c.detail} |" for c in checks],
        "",
        "### Requests",
        "",
        f"{stats.total()} answered requests; status codes: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
        "",
        *request_table(stats),
        "",
        "### Log entries",
        "",
        *[f"- {k}: {v}" for k, v in figures["logs"].items()],
        "",
        "### Reminders",
        "",
        *[f"- {k}: {v}" for k, v in figures["reminders"].items()],
        f"- faults injected at Twilio: {dict(run.injected) or 'none'}; refused numbers:"
        f" {dict(Counter(s.refused.values())) or 'none'}; injected but withdrawn unused when faults stopped:"
        f" {run.withdrawn_faults}",
        f"- delivery reports: {dict(run.carrier.plan)}",
        f"- texts from patients: {dict(Counter(t.body.upper() for _a, t, _s, _b in run.inbound))}",
        f"- physiotherapists' changes: {dict(run.edits) or 'none'}",
        "",
        *reminder_table(run),
        "",
    ]
    if stats.examples:
        lines += ["### First problems seen", "", *[f"- `{e}`" for e in stats.examples[:10]], ""]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = arguments(__doc__, "RESULTS-soak.md", database_default=DEFAULT_PG, label=False)
    parser.add_argument("--minutes", type=float, default=10, help="length of the load (default 10)")
    parser.add_argument("--patients", type=int, default=300, help="patients to create (default 300)")
    parser.add_argument("--connections", type=int, default=8, help="patient app connections (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--physios", type=int, default=2, help="physiotherapists at work (default 2, at most 4)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the process logs to inspect")
    args = parser.parse_args(argv)
    if args.patients < 10 or args.connections < 1 or not 0 < args.physios <= 4:
        parser.error("--patients must be at least 10, --connections at least 1, --physios 1-4")
    if not 0.2 <= args.minutes <= 240:
        parser.error("--minutes must be between 0.2 and 240")
    return args


def main(argv: list[str]) -> int:
    """Soak, check, report; return 1 when any check failed."""
    args = parse_args(argv)
    # One key for the setup, gunicorn and the schedulers; never the instance/secret_key file of a real install.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    with ExitStack() as stack:
        if args.keep:
            tmp = tempfile.mkdtemp(prefix="hep-soak-")
            say(f"process logs go to {tmp} (--keep)")
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="hep-soak-"))
        database = stack.enter_context(
            throwaway_database(
                args.database_url,
                f"hep_soak_{os.getpid()}",
                say,
                keep=args.keep,
                why=": the soak runs on PostgreSQL only",
            )
        )
        run = soak(database, args, Path(tmp))
    http_checks = check_http(run)
    log_checks, log_figures = check_logs(run)
    reminder_checks, reminder_figures = check_reminders(run)
    webhook_check, webhook_figures = check_webhooks(run)
    reminder_figures.update(webhook_figures)
    checks = [*http_checks, *log_checks, *reminder_checks, webhook_check, check_sessions(run), check_versions(run)]
    text = section(run, checks, {"logs": log_figures, "reminders": reminder_figures}, database, argv)
    print(text)
    write_section(args.out, "Soak", text, HEADER)
    say(f"wrote the Soak section to {args.out}")
    for check in checks:
        say(f"{'PASS' if check.passed else 'FAIL'}: {check.name}: {check.detail}")
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
