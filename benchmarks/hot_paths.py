"""Benchmark of the two hot endpoints: a patient's plan for today, and the app's batch log sync.

Builds its own data in a fresh database, serves the real app under gunicorn and drives it with
keep-alive HTTP connections from threads. See benchmarks/README.md for what is measured and why.

    .venv/bin/python benchmarks/hot_paths.py [--patients N] [--seconds S] [--connections C]
        [--runs R] [--database-url postgresql://...] [--out benchmarks/RESULTS.md] [--label NAME]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `hep` importable

import sqlalchemy as sa
from flask_migrate import upgrade

from benchmarks.common import (
    BUSY,
    PACKAGES,
    ROOT,
    TIMEZONES,
    CpuMeter,
    Database,
    Server,
    arguments,
    command_line,
    cpu_model,
    gunicorn,
    memory,
    progress,
    publish,
    show,
    throwaway_database,
    versions,
)
from hep import create_app
from hep.accounts import tokens
from hep.accounts.models import PATIENT, PHYSIOTHERAPIST, Clinic, Patient, User
from hep.adherence import service as adherence
from hep.content import load_shipped
from hep.extensions import db
from hep.programs import service as programs
from hep.programs import templates
from hep.programs.models import ProgramTemplate, Routine
from hep.programs.schedule import due_on
from hep.programs.service import local_today

HISTORY_DAYS = 21  # routines started three weeks ago: every shipped template (6+ weeks) is still running
BATCH_SIZE = 50
BASELINE, PLAN, PLAN_WIDE, SEARCH, SYNC, RESEND = "baseline", "plan", "plan-wide", "search", "sync", "resend"
FLOOR_PLAN, FLOOR_SEARCH, FLOOR_SYNC = "floor-plan", "floor-search", "floor-sync"  # benchmarks/floor_app.py
WIDE = 32  # connections for the plan's latency target (p99 <= 30 ms at 32 connections)
# What a physiotherapist types and ticks while building a routine: a word, a condition and a region.
SEARCHES = (
    "q=stretch&condition=low-back-pain&region=lower-back",
    "q=nerve&condition=carpal-tunnel",
    "q=hold&category=isometric&region=shoulder",
    "condition=plantar-fasciitis&category=mobility",
    "q=chin&condition=neck-pain&region=neck",
    "q=bridge&min_difficulty=2",
)
TARGETS = {  # issue 5's targets, shown beside each figure
    "plan_sqlite": 0.35,
    "plan_postgresql": 0.25,
    "plan_p99_ms": 30.0,
    "search": 0.25,
    "sync_eps": 5000.0,
    "resend": 1.0,
}
TITLES = {
    BASELINE: "baseline: GET /livez",
    PLAN: "today's plan: GET /patients/{id}/today",
    PLAN_WIDE: f"today's plan at {WIDE} connections",
    SEARCH: "library search: GET /exercises?q=...&condition=...",
    SYNC: f"batch sync: POST /patients/{{id}}/logs/batch, {BATCH_SIZE} new entries",
    RESEND: "resend: the same batches again (all duplicate)",
    FLOOR_PLAN: "floor of today's plan: bare Flask + driver, its 7 round trips and commit",
    FLOOR_SEARCH: "floor of library search: bare Flask + driver, its 3 round trips",
    FLOOR_SYNC: f"floor of batch sync: bare Flask + driver, its round trips, {BATCH_SIZE} rows and commit",
}
HEADER = """\
# Benchmark results: the hot paths

Written by `benchmarks/hot_paths.py` (how it works: `benchmarks/README.md`). Each `##` section is
one invocation, labelled by database unless `--label` says otherwise; running the same label
again replaces its section, so this file always holds the latest figure per label.

How to read it:

- Every figure is the **median of the runs, with the spread (min-max) in brackets**. When the
  spread is wider than about 10 % of the median the machine was noisy: rerun before concluding.
- `requests/s` and `entries/s` are the throughput of the whole service (gunicorn, 2 sync
  workers) under that many concurrent connections; `p50`/`p99` are the latency each request saw
  from the client, **including the time it queued** behind other connections (16 connections
  over 2 workers: most of the latency is waiting, so compare latencies only at equal settings).
- The **ratios** travel between machines better than the absolute figures: `today's plan ÷
  baseline` is the share of the framework's trivial-request rate the plan endpoint reaches
  (1.0 would mean the plan costs nothing beyond routing); `resend ÷ first` says how much faster
  a batch the server already has is answered than a new one. Ratios are taken run by run.
- `load gen CPU` is the benchmark's own CPU use (100 % = one core) and `machine CPU` the whole
  machine's (100 % = every core busy). The load generator shares the cores with gunicorn and
  the database: when the machine is near 100 %, the figures are a lower bound for the service
  on dedicated hardware, and the baseline in particular is limited by the Python client.
- `other work` is the share of the machine (100 % = every core) used during the runs by
  processes that are neither the benchmark, gunicorn nor the PostgreSQL backends of its
  database. Above 10 % in any run the section says the machine was shared: those figures are
  low and noisy, and only the ratios, taken run by run, remain roughly comparable.
- A section that reports errors is not a valid measurement, whatever its figures say.
"""


say = progress("bench")


# --- the data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchPatient:
    id: int
    token: str
    timezone: str
    item_ids: tuple[int, ...]  # items in effect today: what the app would log against


@dataclass
class Dataset:
    patients: list[BenchPatient]
    physio_token: str
    routine_items: int
    history_logs: int
    seconds: float


class Progress:
    """Report progress through a long loop, at most every two seconds."""

    def __init__(self, what: str, total: int):
        self.what, self.total, self.started, self.last = what, total, time.monotonic(), time.monotonic()

    def step(self, done: int) -> None:
        """Print a line when two seconds have passed since the last one."""
        now = time.monotonic()
        if now - self.last >= 2:
            self.last = now
            say(f"{self.what}: {done}/{self.total} ({now - self.started:.0f} s)")


def _staff(now: datetime) -> User:
    """A clinic and its physiotherapist (no password: nobody signs in through the API here)."""
    clinic = Clinic(name="Benchmark clinic", timezone="UTC", contact_phone="+16045550100", created_at=now)
    physio = User(
        clinic=clinic, role=PHYSIOTHERAPIST, name="Bench Physio", email="physio@bench.hep.test", created_at=now
    )
    db.session.add_all([clinic, physio])
    db.session.commit()
    return physio


def _patients(physio: User, count: int, now: datetime) -> list[User]:
    """`count` activated patients of the physiotherapist, spread over a few time zones, in one commit."""
    users = [
        User(
            clinic_id=physio.clinic_id,
            role=PATIENT,
            name=f"Bench Patient {n}",
            email=f"patient{n}@bench.hep.test",
            created_at=now,
        )
        for n in range(count)
    ]
    db.session.add_all(users)
    db.session.flush()
    db.session.add_all(
        Patient(user_id=u.id, physiotherapist_id=physio.id, timezone=TIMEZONES[n % len(TIMEZONES)], activated_at=now)
        for n, u in enumerate(users)
    )
    db.session.commit()
    return users


def _routines(physio: User, users: list[User], now: datetime) -> dict[int, list[Routine]]:
    """Give every patient a routine from a shipped template, started HISTORY_DAYS ago (as hep/demo.py does)."""
    keys = list(db.session.scalars(sa.select(ProgramTemplate.key).order_by(ProgramTemplate.key)))
    shipped = {key: templates.get_template(physio, key) for key in keys}
    progress = Progress("routines", len(users))
    for n, user in enumerate(users):
        start = local_today(user.patient, now) - timedelta(days=HISTORY_DAYS)
        body = templates.draft(shipped[keys[n % len(keys)]], start)
        programs.create_routine(physio, user.id, body, now=now)
        progress.step(n + 1)
    return programs.routines_for([u.id for u in users])


def _history_entries(user: User, routines: list[Routine], now: datetime, rng: random.Random) -> list[dict]:
    """A patient's past HISTORY_DAYS of logs and today's so far, skipping about one day in five."""
    zone = ZoneInfo(user.patient.timezone)
    today = local_today(user.patient, now)
    entries = []
    for back in range(HISTORY_DAYS, -1, -1):
        day = today - timedelta(days=back)
        if back and rng.random() < 0.2:
            continue
        for _routine, item in due_on(routines, day, {}):
            for n in range(item.times_per_day):
                at = datetime.combine(day, clock(8 + 6 * n, 30), zone)
                if at > now:
                    break
                pain = rng.randint(1, 6)
                entries.append(_history_entry(item, at, pain))
    return entries


def _history_entry(item, at: datetime, pain: int) -> dict:
    """One past log entry, in the shape the sync service takes."""
    data = {
        "id": uuid.uuid4(),
        "routine_item_id": item.id,
        "performed_at": at,
        "sets_done": item.sets,
        "reps_done": item.reps,
        "hold_seconds_done": item.hold_seconds,
        "pain_before": pain,
        "pain_after": max(0, pain - 1),
        "difficulty": 4,
        "note": None,
    }
    return {"data": data, "raw": {}}


def _history(users: list[User], routines: dict[int, list[Routine]], now: datetime) -> int:
    """Store every patient's history through the sync service, one batch (one commit) per patient."""
    rules = adherence.LogRules(max_age_days=HISTORY_DAYS + 2)
    progress, stored = Progress("history", len(users)), 0
    for n, user in enumerate(users):
        entries = _history_entries(user, routines[user.id], now, random.Random(user.id))
        answers = adherence.sync(user, user.id, entries, now=now, rules=rules)
        bad = [a for a in answers if a["status"] != adherence.CREATED]
        if bad:
            raise RuntimeError(f"history for patient {user.id} not stored: {bad[0]}")
        stored += len(answers)
        progress.step(n + 1)
    return stored


def _tokens(users: list[User], now: datetime, ttl: int) -> dict[int, str]:
    """An access token per patient, issued directly (no password hashing), in one commit."""
    issued = {u.id: tokens.issue(u, now=now, access_ttl=ttl, refresh_ttl=ttl).access_token for u in users}
    db.session.commit()
    return issued


def build_dataset(url: str, count: int, token_ttl: int) -> Dataset:
    """Migrate a fresh database and fill it: library, clinic, patients with routines, history, tokens."""
    started, now = time.monotonic(), datetime.now(UTC)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        say("migrating")
        upgrade()
        say("loading the exercise library")
        load_shipped(ROOT / "exercises", now=now)
        physio = _staff(now)
        users = _patients(physio, count, now)
        say(f"{count} patients; prescribing routines")
        routines = _routines(physio, users, now)
        say("storing log history")
        logs = _history(users, routines, now)
        issued = _tokens([*users, physio], now, token_ttl)
        physio_token = issued[physio.id]
        patients = []
        for user in users:
            today_items = due_on(routines[user.id], local_today(user.patient, now), {})
            ids = tuple(item.id for _routine, item in today_items)
            patients.append(BenchPatient(user.id, issued[user.id], user.patient.timezone, ids))
        db.session.remove()
        db.engine.dispose()
    items = sum(len(p.item_ids) for p in patients)
    return Dataset(patients, physio_token, routine_items=items, history_logs=logs, seconds=time.monotonic() - started)


# --- the database ---------------------------------------------------------------------------


@contextmanager
def bench_database(server_url: str | None, workdir: Path) -> Iterator[Database]:
    """A fresh database: a SQLite file in `workdir`, or hep_bench_<pid> on a PostgreSQL server, dropped after."""
    if server_url is None:
        yield Database(f"sqlite:///{workdir / 'bench.db'}", f"SQLite {sqlite3.sqlite_version} (file, WAL)")
        return
    with throwaway_database(server_url, f"hep_bench_{os.getpid()}", say, why=" (SQLite is the default)") as database:
        yield database


# --- the load generator ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict
    body: bytes | None = None
    entries: int = 0  # log entries carried (batch scenarios)
    expect: str | None = None  # the status every entry of the batch must be answered with


@dataclass
class Tally:
    """What one connection saw during one run."""

    latencies: list[float] = field(default_factory=list)
    entries: int = 0
    errors: Counter = field(default_factory=Counter)
    example: str | None = None
    sent: list[Request] = field(default_factory=list)  # batches answered as expected, for the resend


@dataclass
class RunResult:
    scenario: str
    elapsed: float
    latencies: list[float]
    entries: int
    errors: Counter
    example: str | None
    sent: list[Request]
    client_cpu: float  # % of one core
    machine_cpu: float | None  # % of all cores
    other_cpu: float | None  # % of all cores used by processes that are not the benchmark, gunicorn or its database

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed

    @property
    def eps(self) -> float:
        return self.entries / self.elapsed

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _auth(patient: BenchPatient) -> dict:
    """Headers of a request made by the patient's app."""
    return {"Authorization": f"Bearer {patient.token}", "Accept": "application/json"}


def _problem(request: Request, status: int, body: bytes) -> str | None:
    """Why a response is wrong, or None when it is what the scenario expects."""
    if status != 200:
        return f"HTTP {status}"
    if request.expect is None:
        return None
    try:
        counts = json.loads(body)["counts"]
    except (ValueError, KeyError, TypeError):
        return "unreadable batch answer"
    if counts.get(request.expect) != request.entries:
        return f"batch not all {request.expect}"
    return None


def _drive(address: tuple[str, int], source: Iterator[Request], deadline: float, tally: Tally) -> None:
    """Send requests from `source` on one keep-alive connection until the deadline."""
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        while time.perf_counter() < deadline:
            request = next(source)
            started = time.perf_counter()
            try:
                conn.request(request.method, request.path, body=request.body, headers=request.headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                tally.errors[type(exc).__name__] += 1
                tally.example = tally.example or f"{request.method} {request.path}: {exc!r}"
                conn.close()
                continue
            tally.latencies.append(time.perf_counter() - started)
            problem = _problem(request, response.status, body)
            if problem:
                tally.errors[problem] += 1
                tally.example = tally.example or f"{request.method} {request.path}: {response.status} {body[:300]!r}"
            elif request.entries:
                tally.entries += request.entries
                tally.sent.append(request)
    finally:
        conn.close()


def run_scenario(
    server: Server, meter: CpuMeter, scenario: str, sources: list[Iterator[Request]], seconds: float
) -> RunResult:
    """Drive one connection per source for `seconds`; gather latencies, entries, errors and CPU use."""
    tallies = [Tally() for _ in sources]
    deadline = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_drive, args=(server.address, source, deadline, tally), daemon=True)
        for source, tally in zip(sources, tallies, strict=True)
    ]
    cpu0, sample0, started = time.process_time(), meter.sample(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu1, sample1 = time.perf_counter() - started, time.process_time(), meter.sample()
    machine, other = CpuMeter.usage(sample0, sample1)
    errors: Counter = Counter()
    for tally in tallies:
        errors.update(tally.errors)
    return RunResult(
        scenario=scenario,
        elapsed=elapsed,
        latencies=[x for t in tallies for x in t.latencies],
        entries=sum(t.entries for t in tallies),
        errors=errors,
        example=next((t.example for t in tallies if t.example), None),
        sent=[r for t in tallies for r in t.sent],
        client_cpu=100 * (cpu1 - cpu0) / elapsed,
        machine_cpu=machine,
        other_cpu=other,
    )


def _share(patients: list[BenchPatient], connection: int, connections: int) -> list[BenchPatient]:
    """The patients one connection speaks for: every C-th, so patients are spread across connections."""
    return patients[connection::connections] or [patients[connection % len(patients)]]


def baseline_source(_connection: int) -> Iterator[Request]:
    """GET /livez forever."""
    return itertools.repeat(Request("GET", "/livez", {}))


def plan_source(patients: list[BenchPatient]) -> Iterator[Request]:
    """Each patient's GET /today in turn, as that patient."""
    return itertools.cycle([Request("GET", f"/api/v1/patients/{p.id}/today", _auth(p)) for p in patients])


def search_source(token: str, connection: int) -> Iterator[Request]:
    """A physiotherapist's library searches (text plus facets), each connection starting at another one."""
    headers = {"Authorization": f"Bearer {token}"}
    start = connection % len(SEARCHES)
    queries = SEARCHES[start:] + SEARCHES[:start]
    return itertools.cycle([Request("GET", f"/api/v1/exercises?{q}", headers) for q in queries])


def _entry(patient: BenchPatient, moment: datetime, rng: random.Random) -> dict:
    """One new log entry as the app sends it."""
    return {
        "id": str(uuid.uuid4()),
        "routine_item_id": rng.choice(patient.item_ids),
        "performed_at": moment.isoformat(),
        "sets_done": rng.randint(1, 3),
        "reps_done": 10,
        "hold_seconds_done": None,
        "pain_before": rng.randint(0, 6),
        "pain_after": rng.randint(0, 5),
        "difficulty": rng.randint(2, 6),
        "note": None,
    }


def loggable_patients(patients: list[BenchPatient]) -> list[BenchPatient]:
    """The patients with items in effect today: only they have something to log."""
    return [p for p in patients if p.item_ids]


def sync_source(patients: list[BenchPatient], seed: int) -> Iterator[Request]:
    """Each patient in turn sends a batch of BATCH_SIZE new entries, done over the last half hour."""
    rng = random.Random(seed)
    for patient in itertools.cycle(patients):
        now = datetime.now(ZoneInfo(patient.timezone)).replace(microsecond=0)
        entries = [_entry(patient, now - timedelta(seconds=30 * (i + 1)), rng) for i in range(BATCH_SIZE)]
        body = json.dumps({"entries": entries}).encode()
        headers = {**_auth(patient), "Content-Type": "application/json"}
        yield Request("POST", f"/api/v1/patients/{patient.id}/logs/batch", headers, body, BATCH_SIZE, adherence.CREATED)


def resend_source(batches: list[Request]) -> Iterator[Request]:
    """The given batches again, round and round: every entry should be answered duplicate."""
    return itertools.cycle([replace(b, expect=adherence.DUPLICATE) for b in batches])


# --- the benchmark --------------------------------------------------------------------------


@dataclass
class Settings:
    patients: int
    seconds: float
    connections: int
    runs: int


def warm_up(address: tuple[str, int], patients: list[BenchPatient]) -> list[int]:
    """Ask each patient's plan once (opens the workers' database connections); return the plan sizes."""
    conn = http.client.HTTPConnection(*address, timeout=30)
    sizes = []
    try:
        for patient in patients:
            conn.request("GET", f"/api/v1/patients/{patient.id}/today", headers=_auth(patient))
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"warm-up: patient {patient.id}'s plan answered {response.status}: {body[:300]!r}")
            sizes.append(len(json.loads(body)["items"]))
    finally:
        conn.close()
    return sizes


def _report_run(result: RunResult, number: int, runs: int) -> None:
    """One progress line per run, loud when it had errors or other work competed for the CPU."""
    entries = f", {result.eps:.0f} entries/s" if result.entries else ""
    errors = sum(result.errors.values())
    say(
        f"{result.scenario} run {number}/{runs}: {result.rps:.1f} req/s{entries},"
        f" p50 {result.percentile_ms(0.5):.1f} ms, p99 {result.percentile_ms(0.99):.1f} ms, {errors} errors,"
        f" other work {_percent(result.other_cpu)} of the machine"
    )
    if result.other_cpu is not None and result.other_cpu > BUSY:
        say(f"!!! other work took {result.other_cpu:.0f} % of the machine during this run: its figures are skewed")
    if errors:
        say(f"!!! ERRORS in {result.scenario} run {number}: {dict(result.errors)}; e.g. {result.example}")


def load_for(scenario: str, patients: list[BenchPatient], physio_token: str, connections: int, seed: int = 0):
    """One request source per connection for a run of `scenario` (not the resend: it replays a sync run)."""
    c = connections
    if scenario == BASELINE:
        return [baseline_source(k) for k in range(c)]
    if scenario == PLAN:
        return [plan_source(_share(patients, k, c)) for k in range(c)]
    if scenario == SEARCH:
        return [search_source(physio_token, k) for k in range(c)]
    if scenario == SYNC:
        return [sync_source(_share(loggable_patients(patients), k, c), seed=seed + k) for k in range(c)]
    raise ValueError(f"no load for {scenario}")


def benchmark(
    server: Server, meter: CpuMeter, patients: list[BenchPatient], physio_token: str, settings: Settings
) -> dict[str, list[RunResult]]:
    """Run every scenario `runs` times; each resend run replays the batches of the sync run before it."""
    c = settings.connections
    results: dict[str, list[RunResult]] = {BASELINE: [], PLAN: [], PLAN_WIDE: [], SEARCH: [], SYNC: [], RESEND: []}

    def run(scenario: str, sources: list[Iterator[Request]]) -> RunResult:
        result = run_scenario(server, meter, scenario, sources, settings.seconds)
        results[scenario].append(result)
        _report_run(result, len(results[scenario]), settings.runs)
        return result

    for _ in range(settings.runs):
        run(BASELINE, load_for(BASELINE, patients, physio_token, c))
    for _ in range(settings.runs):
        run(PLAN, load_for(PLAN, patients, physio_token, c))
    for _ in range(settings.runs):
        run(PLAN_WIDE, load_for(PLAN, patients, physio_token, WIDE))
    for _ in range(settings.runs):
        run(SEARCH, load_for(SEARCH, patients, physio_token, c))
    loggable = loggable_patients(patients)
    if not loggable:
        raise RuntimeError("no patient has items in effect today: the batch sync has nothing to log")
    for number in range(settings.runs):
        first = run(SYNC, load_for(SYNC, patients, physio_token, c, seed=number * c))
        batches = first.sent or [next(sync_source(loggable, seed=number))]
        run(RESEND, [resend_source(batches[k::c] or batches) for k in range(c)])
    return results


def _body_size(address: tuple[str, int], path: str, headers: dict) -> int:
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        return len(conn.getresponse().read())
    finally:
        conn.close()


def floor_benchmark(
    hep: Server, floor: Server, meter: CpuMeter, patients: list[BenchPatient], physio_token: str, settings: Settings
) -> dict[str, list[RunResult]]:
    """The same load on benchmarks/floor_app.py: bare Flask and the bare driver making HEP's round trips,
    answering bodies as large as HEP's."""
    c = settings.connections
    results: dict[str, list[RunResult]] = {FLOOR_PLAN: [], FLOOR_SEARCH: [], FLOOR_SYNC: []}
    plan_size = _body_size(hep.address, f"/api/v1/patients/{patients[0].id}/today", _auth(patients[0]))
    physio = {"Authorization": f"Bearer {physio_token}"}
    search_size = _body_size(hep.address, f"/api/v1/exercises?{SEARCHES[0]}", physio)
    loggable = loggable_patients(patients)

    def floor_sync(k: int) -> Iterator[Request]:
        for request in sync_source(_share(loggable, k, c), seed=10_000 + k):
            yield replace(request, path="/floor/sync?size=1500", expect=None)

    def run(scenario: str, sources: list[Iterator[Request]]) -> None:
        result = run_scenario(floor, meter, scenario, sources, settings.seconds)
        results[scenario].append(result)
        _report_run(result, len(results[scenario]), settings.runs)

    for _ in range(settings.runs):
        run(FLOOR_PLAN, [itertools.repeat(Request("GET", f"/floor/plan?size={plan_size}", {})) for _ in range(c)])
    for _ in range(settings.runs):
        run(FLOOR_SEARCH, [itertools.repeat(Request("GET", f"/floor/search?size={search_size}", {})) for _ in range(c)])
    for _ in range(settings.runs):
        run(FLOOR_SYNC, [floor_sync(k) for k in range(c)])
    return results


# --- the report -----------------------------------------------------------------------------


def _ratios(results: dict[str, list[RunResult]]) -> dict[str, list[float]]:
    """Run-by-run ratios: plan and search ÷ baseline requests/s, resend ÷ first entries/s."""

    def over(scenario: str, base: str, rate) -> list[float]:
        return [rate(a) / rate(b) for a, b in zip(results[scenario], results[base], strict=True) if rate(b)]

    found = {
        "plan": over(PLAN, BASELINE, lambda r: r.rps),
        "search": over(SEARCH, BASELINE, lambda r: r.rps),
        "resend": over(RESEND, SYNC, lambda r: r.eps),
    }
    if results.get(FLOOR_PLAN):
        found |= {
            "floor-plan": over(FLOOR_PLAN, BASELINE, lambda r: r.rps),
            "floor-search": over(FLOOR_SEARCH, BASELINE, lambda r: r.rps),
            "plan-of-floor": over(PLAN, FLOOR_PLAN, lambda r: r.rps),
            "search-of-floor": over(SEARCH, FLOOR_SEARCH, lambda r: r.rps),
            "sync-of-floor": over(SYNC, FLOOR_SYNC, lambda r: r.eps),
        }
    return found


def scenario_table(results: dict[str, list[RunResult]]) -> list[str]:
    """The per-scenario table in Markdown."""
    lines = [
        "| scenario | requests/s | entries/s | p50 ms | p99 ms | load gen CPU % | machine CPU % | other work %"
        " | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, runs in results.items():
        entries = show([r.eps for r in runs]) if scenario in (SYNC, RESEND, FLOOR_SYNC) else "-"
        machine = [r.machine_cpu for r in runs if r.machine_cpu is not None]
        other = [r.other_cpu for r in runs if r.other_cpu is not None]
        errors = sum(sum(r.errors.values()) for r in runs)
        flagged = f"**{errors}**" if errors else "0"
        lines.append(
            f"| {TITLES[scenario]} | {show([r.rps for r in runs])} | {entries} "
            f"| {show([r.percentile_ms(0.5) for r in runs])} | {show([r.percentile_ms(0.99) for r in runs])} "
            f"| {show([r.client_cpu for r in runs], digits=0)} | {show(machine, digits=0)} "
            f"| {show(other, digits=0)} | {flagged} |"
        )
    return lines


def _verdict(values: list[float], target: float, *, at_most: bool = False) -> str:
    """Met or not, on the median."""
    if not values:
        return "-"
    median = statistics.median(values)
    return "met" if (median <= target if at_most else median >= target) else "**not met**"


def ratio_table(results: dict[str, list[RunResult]], backend: str) -> list[str]:
    """The figures issue 5 sets targets for, with the target beside each, in Markdown."""
    ratios = _ratios(results)
    plan_target = TARGETS["plan_postgresql" if backend == "postgresql" else "plan_sqlite"]
    sync = [r.eps for r in results[SYNC]]
    wide_p99 = [r.percentile_ms(0.99) for r in results[PLAN_WIDE]]
    rows = [
        (
            "today's plan ÷ baseline (requests/s)",
            ratios["plan"],
            f">= {plan_target}",
            _verdict(ratios["plan"], plan_target),
        ),
        (
            f"today's plan p99 at {WIDE} connections (ms)",
            wide_p99,
            f"<= {TARGETS['plan_p99_ms']:g}",
            _verdict(wide_p99, TARGETS["plan_p99_ms"], at_most=True),
        ),
        (
            "library search ÷ baseline (requests/s)",
            ratios["search"],
            f">= {TARGETS['search']}",
            _verdict(ratios["search"], TARGETS["search"]),
        ),
        (
            "batch sync (entries/s)",
            sync,
            f">= {TARGETS['sync_eps']:,.0f} on PostgreSQL" if backend == "postgresql" else "(target is for PostgreSQL)",
            _verdict(sync, TARGETS["sync_eps"]) if backend == "postgresql" else "-",
        ),
        (
            "resend ÷ first (entries/s)",
            ratios["resend"],
            ">= 1.0 (no slower)",
            _verdict(ratios["resend"], TARGETS["resend"]),
        ),
    ]
    if "floor-plan" in ratios:
        floor_sync = [r.eps for r in results[FLOOR_SYNC]]
        rows += [
            ("floor of today's plan ÷ baseline: the most the plan's round trips allow", ratios["floor-plan"], "-", "-"),
            ("today's plan ÷ its floor: how close HEP comes", ratios["plan-of-floor"], "-", "-"),
            ("floor of library search ÷ baseline", ratios["floor-search"], "-", "-"),
            ("library search ÷ its floor", ratios["search-of-floor"], "-", "-"),
            ("floor of batch sync (entries/s)", floor_sync, "-", "-"),
            ("batch sync ÷ its floor (entries/s)", ratios["sync-of-floor"], "-", "-"),
        ]
    return [
        "| figure | median (min-max) | target | met? |",
        "|---|---|---|---|",
        *(f"| {name} | {show(values) if values else '-'} | {target} | {met} |" for name, values, target, met in rows),
    ]


@dataclass
class Report:
    label: str
    settings: Settings
    database: Database
    data: Dataset
    plan_sizes: list[int]
    results: dict[str, list[RunResult]]
    argv: list[str]

    @property
    def errors(self) -> int:
        return sum(sum(r.errors.values()) for runs in self.results.values() for r in runs)


def section(report: Report) -> str:
    """One labelled section of RESULTS.md."""
    settings, data, results, errors = report.settings, report.data, report.results, report.errors
    sizes = report.plan_sizes
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"## {report.label}", ""]
    if errors:
        lines += [f"> **!!! THIS RUN HAD {errors} ERRORS: the figures below are not valid.**", ""]
        lines += [
            f"> {r.scenario}: {dict(r.errors)}; e.g. `{r.example}`" for rs in results.values() for r in rs if r.errors
        ] + [""]
    lines += [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cores} cores ({cpu_model()}), {memory()} RAM, {platform.system()} {platform.release()};"
        " **the load generator runs on the same cores** as gunicorn and the database",
        f"- software: {versions(PACKAGES)}",
        f"- other work on the machine during the runs: {_other_work(results)}",
        f"- database: {report.database.description}",
        f"- command: `{command_line('hot_paths.py', report.argv)}`",
        f"- load: {settings.connections} connections, {settings.seconds:g} s per run, {settings.runs} run(s) per"
        " scenario; gunicorn -w 2 (sync workers, which close the connection after each response)",
        f"- data: {len(data.patients)} patients, one routine each from the shipped templates"
        f" ({data.routine_items / len(data.patients):.1f} items in effect today on average),"
        f" {data.history_logs} log entries of history ({HISTORY_DAYS} days); today's plan has"
        f" {statistics.mean(sizes):.1f} items on average ({min(sizes)}-{max(sizes)});"
        f" {_skipped(data.patients)} in the batch sync;"
        f" built in {data.seconds:.1f} s",
        "",
        *scenario_table(results),
        "",
        *ratio_table(results, report.database.url.split(":")[0].split("+")[0]),
        "",
    ]
    return "\n".join(lines)


def _skipped(patients: list[BenchPatient]) -> str:
    """How many patients the batch sync skips, having no items in effect today."""
    skipped = len(patients) - len(loggable_patients(patients))
    return f"{skipped} patient{'' if skipped == 1 else 's'} with no items in effect today skipped"


def _percent(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} %"


def _other_work(results: dict[str, list[RunResult]]) -> str:
    """The most CPU other processes took during any run, flagged when enough to skew the figures."""
    seen = [r.other_cpu for runs in results.values() for r in runs if r.other_cpu is not None]
    if not seen:
        return "unknown (no /proc)"
    worst = max(seen)
    flag = " (**the machine was shared: figures are skewed, rerun on a quiet machine**)" if worst > BUSY else ""
    return f"at most {worst:.0f} % of all cores in any run{flag}"


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = arguments(__doc__, "RESULTS.md", database_default=None)
    parser.add_argument("--patients", type=int, default=100, help="patients to create (default 100)")
    parser.add_argument("--seconds", type=float, default=10, help="length of each run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor runs (benchmarks/floor_app.py)")
    args = parser.parse_args(argv)
    if min(args.patients, args.connections, args.runs) < 1 or args.seconds <= 0:
        parser.error("--patients, --connections, --runs and --seconds must be positive")
    return args


def main(argv: list[str]) -> int:
    """Build the data, serve, measure, report; return 1 when any request failed."""
    args = parse_args(argv)
    settings = Settings(args.patients, args.seconds, args.connections, args.runs)
    # One key for the setup app and gunicorn; never the instance/secret_key file of a real install.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    token_ttl = max(3600, int(settings.runs * 4 * (settings.seconds + 30)) + 600)
    with (
        tempfile.TemporaryDirectory(prefix="hep-bench-") as tmp,
        bench_database(args.database_url, Path(tmp)) as database,
    ):
        say(f"database: {database.description}")
        data = build_dataset(database.url, settings.patients, token_ttl)
        say(f"data built in {data.seconds:.1f} s: {data.history_logs} log entries of history")
        with gunicorn(database.url, Path(tmp), say) as server:
            plan_sizes = warm_up(server.address, data.patients)
            results = benchmark(
                server, CpuMeter(lambda: {server.pid}, database.name), data.patients, data.physio_token, settings
            )
            if not args.no_floor:
                with gunicorn(database.url, Path(tmp), say, app="benchmarks.floor_app:app") as floor:
                    meter = CpuMeter(lambda: {floor.pid}, database.name)
                    results |= floor_benchmark(server, floor, meter, data.patients, data.physio_token, settings)
    label = args.label or database.description.split()[0]
    report = Report(label, settings, database, data, plan_sizes, results, argv)
    return publish(args.out, label, section(report), HEADER, report.errors, say)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
