"""The hidden costs a capacity plan needs, on PostgreSQL: SQL statements, rows and commits per request,
bytes per stored row, cold start, and the memory of one process.

    .venv/bin/python benchmarks/footprint.py [--patients 200] [--requests 2000] [--repeat 50] [--runs 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--out benchmarks/RESULTS-footprint.md]
        [--quick] [--keep]

In-process, with the real app (create_app, production settings apart from the database, the memory rate
limiter and Twilio's auth token) and its Flask test client, with real bearer tokens. The data is
`hot_paths.py`'s (`build_dataset`), in a database hep_foot_<pid> created on that server and dropped at
the end (also after an error or Ctrl-C). Cold start and memory are measured in fresh child processes
(this script's `child_main`, started with `python -c`), so their imports and caches are their own.
What is measured and how to read it is written at the top of the results file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `hep` importable

import sqlalchemy as sa
from sqlalchemy import event

from benchmarks.common import (
    DEFAULT_PG,
    PACKAGES,
    ROOT,
    CpuMeter,
    arguments,
    code_version,
    command_line,
    cpu_model,
    memory,
    progress,
    show,
    throwaway_database,
    versions,
    write_section,
)
from benchmarks.hot_paths import SEARCHES, BenchPatient, _entry, build_dataset
from benchmarks.reminders import TimedFakeTwilio, reminder_row

SID, TOKEN, FROM = "AC" + "1" * 32, "bench-auth-token", "+15005550006"
STATUS_URL = "http://localhost/webhooks/twilio/status"
KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Tables whose size per row a capacity plan needs (the names in hep/*/models.py).
SIZED = ("adherence_logs", "reminders", "audit_events", "idempotency_records", "auth_tokens")
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
HEADER = """\
# Benchmark results: footprint

Written by `benchmarks/footprint.py` (how it works: `benchmarks/README.md`). Each `##` section is one
invocation, labelled `PostgreSQL` unless `--label` says otherwise (`--quick` runs are labelled as such);
running the same label again replaces its section.

What it measures, for a capacity plan, and what it does not:

- **Write amplification**: the SQL statements each request sends, by kind, counted with SQLAlchemy's
  `before_cursor_execute` (an executemany counts each parameter set), the rows its INSERTs, UPDATEs and
  DELETEs changed (`cursor.rowcount`, by table), and its commits. These counts do not depend on the
  machine or its load: they multiply straight into a database's IOPS and WAL budget.
- **Bytes per row**: `pg_total_relation_size` (table, indexes and TOAST) ÷ rows, after `VACUUM ANALYZE`,
  of the tables that grow with use. Bytes do not depend on load either; small tables carry fixed
  overhead (each index is at least two 8 kB pages), so the per-row figure is only good at volume.
- **Cold start and memory**: wall times and resident memory of a fresh process. Timings depend on the
  machine and how busy it was (the section says); RSS depends on the Python build and libraries.
"""
PLAN_SECTION = """\
**How to use these numbers.** Multiply the per-request counts by the request rates of the expected
load (e.g. app opens per patient per day, syncs per day) to get statements and commits per second, and
the rows written per request into WAL and index-maintenance volume; one commit is one WAL flush on
PostgreSQL's default `synchronous_commit`. Multiply the rows per patient per day by the bytes per row,
the patients and the retention to get the disk a year takes (add the WAL and backups on top). A
fresh process pays the cold-start figures once (after a deploy or a worker restart: gunicorn's
`max_requests` recycles workers); size a worker's memory by the RSS after the mixed requests, times
the workers per machine. Counts and bytes are exact for this code; re-run after a change to a hot path."""

say = progress("bench-footprint")


# --- counting SQL ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What the database was asked during one measured stretch."""

    kinds: Counter = field(default_factory=Counter)
    written: Counter = field(default_factory=Counter)  # rows changed, by table
    commits: int = 0
    calls: int = 0  # cursor executions: round trips to the server (an executemany is one)

    def add(self, other: Tally) -> None:
        self.kinds.update(other.kinds)
        self.written.update(other.written)
        self.commits += other.commits
        self.calls += other.calls


class SqlCounter:
    """Counts statements by kind, rows written by table and commits on an engine, while active."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.tally, self.active, self._lock = engine, Tally(), False, threading.Lock()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self.active:
            return
        words = statement.lstrip().split(None, 1)
        kind = words[0].upper() if words else "?"
        if kind == "WITH":  # a CTE: the statement's kind is the verb after it
            found = re.search(r"\)\s*(SELECT|INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE)
            kind = found.group(1).upper() if found else "SELECT"
        with self._lock:
            self.tally.kinds[kind if kind in KINDS else "other"] += len(parameters) if executemany else 1
            self.tally.calls += 1

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self.active:
            return
        match = WRITE.match(statement)
        if match and cursor.rowcount and cursor.rowcount > 0:
            with self._lock:
                self.tally.written[match.group(1).lower()] += cursor.rowcount

    def _commit(self, conn) -> None:
        if self.active:
            with self._lock:
                self.tally.commits += 1

    def measure(self, work: Callable[[], object]) -> tuple[Tally, object]:
        """Run `work` with counting on; (what it asked the database, what it returned)."""
        self.tally, self.active = Tally(), True
        try:
            result = work()
        finally:
            self.active = False
        return self.tally, result


# --- the app --------------------------------------------------------------------------------


def app_config(url: str) -> dict:
    """The production settings apart from the database, the rate limiter's storage and Twilio's token."""
    return {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_STORAGE_URI": "memory://", "TWILIO_AUTH_TOKEN": TOKEN}


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _new_entries(patient: BenchPatient, count: int, rng: random.Random) -> list[dict]:
    """`count` new log entries, done over the last few minutes in the patient's zone."""
    now = datetime.now(ZoneInfo(patient.timezone)).replace(microsecond=0)
    return [_entry(patient, now - timedelta(seconds=5 * (i + 1)), rng) for i in range(count)]


def _check(response, expected: int, what: str) -> None:
    if response.status_code != expected:
        raise RuntimeError(
            f"{what}: {response.status_code} (expected {expected}): {response.get_data(as_text=True)[:300]}"
        )


class Requests:
    """The measured requests, through the test client, each as a callable for one patient."""

    def __init__(self, client, physio_token: str, rng: random.Random) -> None:
        self.client, self.physio, self.rng = client, physio_token, rng

    def today(self, p: BenchPatient):
        response = self.client.get(f"/api/v1/patients/{p.id}/today", headers=_auth(p.token))
        _check(response, 200, "today")

    def routine(self, p: BenchPatient):
        response = self.client.get(f"/api/v1/patients/{p.id}/routine", headers=_auth(p.token))
        _check(response, 200, "routine")

    def search(self, p: BenchPatient, query: str | None = None):
        query = query or self.rng.choice(SEARCHES)
        response = self.client.get(f"/api/v1/exercises?{query}", headers=_auth(self.physio))
        _check(response, 200, "search")

    def single(self, p: BenchPatient):
        [entry] = _new_entries(p, 1, self.rng)
        headers = {**_auth(p.token), "Idempotency-Key": str(uuid.uuid4())}
        response = self.client.post(f"/api/v1/patients/{p.id}/logs", headers=headers, json=entry)
        _check(response, 201, "single log")

    def batch(self, p: BenchPatient, count: int) -> list[dict]:
        entries = _new_entries(p, count, self.rng)
        self.send_batch(p, entries, "created")
        return entries

    def send_batch(self, p: BenchPatient, entries: list[dict], expect: str) -> None:
        url = f"/api/v1/patients/{p.id}/logs/batch"
        response = self.client.post(url, headers=_auth(p.token), json={"entries": entries})
        _check(response, 200, "batch")
        statuses = {r["status"] for r in response.json["results"]}
        if statuses != {expect}:
            raise RuntimeError(f"batch of {len(entries)}: answered {statuses}, expected {expect}")


# --- 1. write amplification -----------------------------------------------------------------


@dataclass
class Row:
    title: str
    tallies: list[Tally]


def amplification(app, counter: SqlCounter, patients: list[BenchPatient], physio: str, reps: int) -> list[Row]:
    """Each request type `reps` times (for different patients where it matters), counted one by one."""
    client = app.test_client()
    calls = Requests(client, physio, random.Random(5))
    for p in patients:  # the steady state: each patient's routine version is in the per-process cache
        calls.today(p)
        calls.routine(p)
    for query in SEARCHES:
        calls.search(patients[0], query)
    cycle = [patients[n % len(patients)] for n in range(reps)]

    def each(title: str, run: Callable[[BenchPatient], object]) -> Row:
        return Row(title, [counter.measure(lambda p=p: run(p))[0] for p in cycle])

    rows = [
        each("GET /patients/{id}/today (today's plan)", calls.today),
        each("GET /patients/{id}/routine", calls.routine),
        each("GET /exercises?q=...&condition=... (library search)", calls.search),
        each("POST /patients/{id}/logs (one entry, Idempotency-Key)", calls.single),
    ]
    for size in (1, 10, 50):
        sent: list[tuple[BenchPatient, list[dict]]] = []

        def first(p: BenchPatient, size=size, sent=sent) -> None:
            sent.append((p, calls.batch(p, size)))

        rows.append(each(f"POST /patients/{{id}}/logs/batch, {size} new", first))
        if size == 50:
            resent = iter(sent)

            def again(_p: BenchPatient, resent=resent) -> None:
                p, entries = next(resent)
                calls.send_batch(p, entries, "duplicate")

            rows.append(each("the same batch of 50 resent (all duplicate)", again))
    return rows


def reminder_patient(app, patients: list[BenchPatient], physio_id: int) -> tuple[BenchPatient, str]:
    """Set up one patient (no logs today, in a zone where it is now inside the default text window)
    with consent and an own reminder time a minute ago, and nothing planned yet; (patient, zone)."""
    from hep.accounts.models import Patient, User
    from hep.extensions import db
    from hep.reminders import consent
    from hep.reminders import service as reminders
    from hep.reminders.models import Reminder

    zones = ("UTC", "Europe/London", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland")
    zones += ("America/Vancouver", "America/Toronto", "America/Sao_Paulo", "Pacific/Honolulu")
    now = datetime.now(UTC)
    zone = next(z for z in zones if (8, 10) <= now.astimezone(ZoneInfo(z)).timetuple()[3:5] <= (20, 30))
    patient = [p for p in patients if p.item_ids][-1]  # exercises due today: a reminder is wanted
    with app.app_context():
        physio = db.session.get(User, physio_id)
        db.session.execute(sa.text("DELETE FROM adherence_logs WHERE patient_id = :p"), {"p": patient.id})
        db.session.execute(sa.update(Patient).where(Patient.user_id == patient.id).values(timezone=zone))
        db.session.execute(sa.update(User).where(User.id == patient.id).values(phone="+447400999001"))
        db.session.commit()
        consent.grant(physio, patient.id, "verbal", now=now)
        local = (now - timedelta(minutes=1)).astimezone(ZoneInfo(zone))
        reminders.set_times(physio, patient.id, [f"{local:%H:%M}"], now=now)
        # The consent confirmation went out long ago, and nothing is planned: the plan is measured.
        db.session.execute(sa.update(Reminder).where(Reminder.kind == "consent").values(status="sent"))
        db.session.execute(sa.delete(Reminder).where(Reminder.patient_id == patient.id, Reminder.kind != "consent"))
        db.session.commit()
    return patient, zone


def reminder_round_trip(app, counter: SqlCounter, patient: BenchPatient) -> tuple[list[Row], dict]:
    """One exercise text end to end: plan it, claim and send it through the dispatcher and TwilioBackend
    to the fake Twilio, then Twilio's signed 'delivered' callback to POST /webhooks/twilio/status."""
    from hep.extensions import db
    from hep.reminders.dispatch import Dispatcher
    from hep.reminders.models import Reminder
    from hep.reminders.planner import plan
    from hep.reminders.sms import TwilioBackend

    client = app.test_client()

    def transport(url, params, headers):
        response = client.post(url.removeprefix("http://localhost"), data=dict(params), headers=dict(headers))
        return response.status_code, response.get_data(as_text=True)

    rows = []
    with app.app_context(), TimedFakeTwilio(SID, TOKEN, transport=transport) as fake:
        backend = TwilioBackend(SID, TOKEN, from_number=FROM, base_url=fake.base_url, timeout=5)
        dispatcher = Dispatcher(backend=backend, owner="bench-footprint", status_callback=STATUS_URL)
        try:
            planned, changed = counter.measure(lambda: plan(datetime.now(UTC), patient_ids=[patient.id]))
            rows.append(Row("reminder: plan one patient (planner.plan)", [planned]))
            sent, outcome = counter.measure(dispatcher.run_once)
            rows.append(Row("reminder: claim + send (Dispatcher.run_once, TwilioBackend)", [sent]))
            if outcome.get("sent") != 1:
                raise RuntimeError(f"the reminder was not sent: {dict(outcome)} ({changed} rows planned)")
            [message] = [m for m in fake.messages if m.get("direction") != "inbound"]
            delivered, result = counter.measure(lambda: fake.deliver(message["sid"], "delivered"))
            if result is None or result.status != 204:
                raise RuntimeError(f"the status callback was answered {result}")
            rows.append(Row("reminder: POST /webhooks/twilio/status (delivered, signed)", [delivered]))
        finally:
            dispatcher.close()
            backend.close()
        total = Tally()
        for row in rows:
            total.add(row.tallies[0])
        rows.append(Row("reminder: one exercise text end to end (the 3 above)", [total]))
        db.session.expire_all()
        reminder = db.session.scalars(sa.select(Reminder).where(Reminder.provider_sid == message["sid"])).one()
        if reminder.status != "delivered":
            raise RuntimeError(f"the reminder ended {reminder.status}")
        shape = {c.name: getattr(reminder, c.key) for c in Reminder.__table__.columns if c.name != "id"}
        db.session.remove()
    return rows, shape


def amplification_table(rows: list[Row]) -> list[str]:
    lines = [
        "| request | SELECT | INSERT | UPDATE | DELETE | statements | round trips | commits"
        " | rows written (by table) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def figure(values: list[float]) -> str:
        return show(values, digits=0 if all(v == int(v) for v in values) else 1)

    for row in rows:
        kinds = [figure([t.kinds[k] for t in row.tallies]) for k in KINDS]
        total = figure([sum(t.kinds.values()) for t in row.tallies])
        calls = figure([t.calls for t in row.tallies])
        commits = figure([t.commits for t in row.tallies])
        tables = sorted({name for t in row.tallies for name in t.written})
        written = ", ".join(f"{name} {figure([t.written[name] for t in row.tallies])}" for name in tables) or "-"
        lines.append(f"| {row.title} | {' | '.join(kinds)} | {total} | {calls} | {commits} | {written} |")
    return lines


# --- 2. bytes -------------------------------------------------------------------------------


def populate(engine: sa.Engine, patients: list[BenchPatient], days: int, shape: dict, now: datetime) -> dict:
    """Bring the sized tables to volume: `days` of delivered exercise texts per patient (copies of the one
    sent end to end), audit rows, idempotency records and tokens copied from the real ones."""
    meta = sa.MetaData()
    reminders = sa.Table("reminders", meta, autoload_with=engine)
    rows = []
    with engine.connect() as conn:
        clinic = conn.execute(sa.text("SELECT clinic_id FROM users WHERE id = :p"), {"p": patients[0].id}).scalar()
    for p in patients:
        for back in range(1, days + 1):
            due = shape["due_at"] - timedelta(days=back)
            row = reminder_row(
                (p.id, clinic, p.timezone), f"{due:%Y-%m-%dT%H:%M}", due, due + timedelta(hours=3), now, "exercise"
            )
            row.update({k: shape[k] for k in ("status", "channel", "to_phone", "body", "attempts", "provider_status")})
            row.update(provider_sid="SM" + uuid.uuid4().hex, sent_at=due, lookups=0, reason=None)
            rows.append(row)
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(reminders.insert(), rows[start : start + 5000])
    wanted = len(patients) * days
    targets = {"audit_events": wanted * 5, "idempotency_records": wanted, "auth_tokens": len(patients) * 2 * 30}
    unique = {"idempotency_records": {"key": "md5(random()::text)"}, "auth_tokens": {"token_hash": _hex64()}}
    with engine.begin() as conn:
        for table, target in targets.items():
            _pad(conn, sa.Table(table, meta, autoload_with=engine), target, unique.get(table, {}))
    return targets


def _hex64() -> str:
    return "md5(random()::text) || md5(random()::text)"


def _pad(conn: sa.Connection, table: sa.Table, target: int, overrides: dict[str, str]) -> None:
    """Copy a table's own rows (unique columns made fresh) until it holds at least `target` rows."""
    columns = [c.name for c in table.columns if c.name != "id"]
    chosen = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(overrides.get(c, f'"{c}"') for c in columns)
    while (have := conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()) < target:
        if have == 0:
            raise RuntimeError(f"{table.name} is empty: nothing to copy")
        limit = min(have, target - have)
        conn.execute(
            sa.text(f'INSERT INTO "{table.name}" ({chosen}) SELECT {values} FROM "{table.name}" LIMIT {limit}')
        )


def sizes(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    """(rows, pg_total_relation_size) of each sized table, after VACUUM ANALYZE."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        found = {}
        for table in SIZED:
            conn.execute(sa.text(f'VACUUM ANALYZE "{table}"'))
            count = conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar()
            total = conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": table}).scalar()
            found[table] = (count, total)
    return found


def planned_per_day(app, patients: list[BenchPatient], physio_id: int) -> dict:
    """Consent for every patient (a phone each), one plan run over everyone: exercise rows per patient-day."""
    from hep.accounts.models import User
    from hep.extensions import db
    from hep.reminders import consent
    from hep.reminders.planner import plan
    from hep.reminders.policy import HORIZON, Rules

    now = datetime.now(UTC)
    with app.app_context():
        physio = db.session.get(User, physio_id)
        for n, p in enumerate(patients):
            db.session.execute(sa.update(User).where(User.id == p.id).values(phone=f"+44740011{n:04d}"))
        db.session.commit()
        for p in patients:
            consent.grant(physio, p.id, "verbal", now=now)
        plan(now)
        found = db.session.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT (patient_id, local_date)) FROM reminders"
                " WHERE kind = 'exercise' AND status = 'planned' AND patient_id = ANY(:ids)"
            ),
            {"ids": [p.id for p in patients]},
        ).one()
        db.session.remove()
    rules = Rules()
    return {
        "rows": found[0],
        "patient_days": found[1],
        "horizon_days": HORIZON.total_seconds() / 86400,
        "cap_per_day": min(rules.max_per_day * len(rules.exercise_times), rules.max_per_week / 7),
        "patients": len(patients),
    }


# --- 3 and 4. cold start and memory (child processes) ----------------------------------------

CHILD = """\
import json, sys, time
started = time.perf_counter()
from hep import create_app
imported = time.perf_counter()
payload = json.loads(open(sys.argv[1]).read())
app = create_app(payload["config"])
created = time.perf_counter()
payload["ready_at"] = time.time()
from benchmarks.footprint import child_main
child_main(app, payload, imported - started, created - imported)
"""


def _status_kb(name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def child_main(app, payload: dict, import_s: float, create_s: float) -> None:
    """In a fresh process: time the first request of a kind and the next ones; then mixed requests and RSS."""
    result = {"import_s": import_s, "create_s": create_s, "rss_created_kb": _status_kb("VmRSS")}
    result["ready_at"] = payload["ready_at"]
    patients = [BenchPatient(p["id"], p["token"], p["timezone"], tuple(p["item_ids"])) for p in payload["patients"]]
    calls = Requests(app.test_client(), payload["physio"], random.Random(7))
    kind, first = payload["first"], patients[0]
    if kind:
        run = {"today": lambda: calls.today(first), "search": lambda: calls.search(first, SEARCHES[0])}[kind]
        times = []
        for _ in range(payload["repeat"] + 1):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        result.update(first_s=times[0], next_s=times[1:], rss_first_kb=_status_kb("VmRSS"))
    if payload["mixed"]:
        mix = [calls.today] * 8 + [calls.routine] * 2 + [calls.search] * 4 + [calls.single] * 3
        mix += [lambda p: calls.batch(p, 5)] * 3
        rng = random.Random(11)
        started = time.perf_counter()
        for n in range(payload["mixed"]):
            rng.choice(mix)(patients[n % len(patients)])
        result.update(mixed_s=time.perf_counter() - started)
    result.update(rss_end_kb=_status_kb("VmRSS"), hwm_end_kb=_status_kb("VmHWM"))
    print(json.dumps(result), flush=True)


def run_child(workdir: Path, url: str, patients: list[BenchPatient], physio: str, **payload) -> dict:
    """Start a fresh interpreter that creates the app and runs `child_main`; its result with its wall time."""
    path = workdir / f"child-{time.monotonic_ns()}.json"
    shown = [{"id": p.id, "token": p.token, "timezone": p.timezone, "item_ids": list(p.item_ids)} for p in patients]
    path.write_text(json.dumps({"config": app_config(url), "patients": shown, "physio": physio, **payload}))
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"child failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["startup_s"] = result["ready_at"] - started  # interpreter start, imports and create_app
    return result


# --- the report -----------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return show([v * 1000 for v in values], "ms")


def _mb(values: list[int | None]) -> str:
    known = [v / 1024 for v in values if v is not None]
    return show(known, "MB", digits=0) if known else "n/a"


def render(args, argv, database, data, users, rows, bytes_rows, per_day, cold, mixed, other) -> str:
    lines = [
        f"## {args.label}",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; HEP {code_version()}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {memory()}",
        f"- Software: {versions(PACKAGES)}; {database.description}",
        f"- Command: `{command_line('footprint.py', argv)}`",
        f"- Data: {len(data.patients)} patients with a routine each (shipped templates) and {data.history_logs:,}"
        f" logs over 3 weeks (through the sync service), built in {data.seconds:.0f} s",
        f"- The machine is shared (another session works on it): during the timed parts {other}. Counts and bytes"
        " do not depend on load; the timings do.",
        "",
        f"### 1. Write amplification per request ({args.reps} of each, for different patients; median (min-max))",
        "",
        "Steady state: every patient's routine already read once by this process (its per-process cache is"
        " warm). `statements` counts an executemany's parameter sets one by one; `round trips` counts it once"
        " (one cursor call); `commits` are the transactions committed.",
        "",
        *amplification_table(rows),
        "",
        "### 2. Bytes per row and rows per patient per day",
        "",
        "| table | rows | total size (table + indexes + TOAST) | bytes per row | rows per patient per day |",
        "|---|---|---|---|---|",
    ]
    for table, (count, total, daily) in bytes_rows.items():
        per_row = f"{total / count:,.0f}" if count else "-"
        lines.append(f"| {table} | {count:,} | {total / 1024**2:,.1f} MB | {per_row} | {daily} |")
    lines += [
        "",
        f"Reminders: one plan run over all {per_day['patients']} patients (default clinic rules) planned"
        f" {per_day['rows']} exercise rows on {per_day['patient_days']} patient-days within the"
        f" {per_day['horizon_days'] * 24:.0f}-hour horizon; the rules cap it at"
        f" {per_day['cap_per_day']:.2f} per patient per day (3 a week). Each sent text also updates its row"
        " several times (section 1). Audit: one row per read of patient data and per write (section 1's"
        " `audit_events` column); the figure assumes 4 opens of today's plan, 1 routine view and 1 sync a day."
        " Idempotency records: one per single-entry POST with a key. Tokens: 2 rows per sign-in or refresh"
        " (access + refresh); with the default 15-minute access tokens, an app in use refreshes about every"
        " 15 minutes, so the daily figure depends on how long it stays open. Tables were brought to volume"
        " by copying real rows: reminders from the text sent end to end, audit rows, idempotency records and"
        f" tokens from those the requests wrote, to {args.days} days of {per_day['patients']} patients.",
        "",
        f"### 3. Cold start (fresh process; {args.runs} processes each; median (min-max))",
        "",
        "| figure | value |",
        "|---|---|",
        "| new process to app ready (interpreter start + import hep + create_app)"
        f" | {_ms([c['startup_s'] for c in cold])} |",
        f"| import hep | {_ms([c['import_s'] for c in cold])} |",
        f"| create_app | {_ms([c['create_s'] for c in cold])} |",
    ]
    for kind, title in (("today", "GET today"), ("search", "library search")):
        runs = [c for c in cold if c["kind"] == kind]
        nexts = [statistics.median(c["next_s"]) for c in runs]
        lines += [
            f"| {title}: first request | {_ms([c['first_s'] for c in runs])} |",
            f"| {title}: median of the next {args.repeat} | {_ms(nexts)} |",
            f"| {title}: first ÷ next | {show([c['first_s'] / n for c, n in zip(runs, nexts, strict=True)], 'x')} |",
        ]
    lines += [
        "",
        "The first request pays the first database connection, the per-process caches (compiled routine"
        " versions, statements), and Flask's and marshmallow's first-use work.",
        "",
        f"### 4. Memory of one process (VmRSS / VmHWM from /proc/self/status; {len(mixed)} processes)",
        "",
        "| when | RSS |",
        "|---|---|",
        f"| after create_app | {_mb([m['rss_created_kb'] for m in mixed])} |",
        f"| after {args.requests:,} mixed requests (RSS) | {_mb([m['rss_end_kb'] for m in mixed])} |",
        f"| after {args.requests:,} mixed requests (peak, VmHWM) | {_mb([m['hwm_end_kb'] for m in mixed])} |",
        f"| {args.requests:,} mixed requests took | {show([m['mixed_s'] for m in mixed], 's')} |",
        "",
        "The mix: 8 today's plan : 2 routine : 4 library search : 3 single entries : 3 batches of 5, over"
        f" the {len(users)} patients with exercises due today.",
        "",
        PLAN_SECTION,
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = arguments(__doc__, "RESULTS-footprint.md", database_default=DEFAULT_PG)
    parser.add_argument("--patients", type=int, default=200, help="patients with a routine and 3 weeks of logs")
    parser.add_argument("--days", type=int, default=30, help="days of reminders and audit rows to size tables at")
    parser.add_argument("--reps", type=int, default=20, help="times each request type is counted")
    parser.add_argument("--repeat", type=int, default=50, help="requests after the first, for cold start")
    parser.add_argument("--requests", type=int, default=2000, help="mixed requests before the memory figure")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per cold-start figure")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run: under a minute")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.days, args.reps, args.repeat, args.requests, args.runs = 12, 5, 3, 10, 100, 1
    args.label = args.label or ("PostgreSQL, --quick (a dry run)" if args.quick else "PostgreSQL")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from hep import create_app
    from hep.extensions import db

    name = f"hep_foot_{os.getpid()}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_database(args.database_url, name, say, keep=args.keep) as database,
    ):
        workdir = Path(tmp)
        say(f"building {args.patients} patients with 3 weeks of logs")
        data = build_dataset(database.url, args.patients, token_ttl=6 * 3600)
        patients = data.patients
        app = create_app(app_config(database.url))
        with app.app_context():
            physio_id = db.session.execute(sa.text("SELECT id FROM users WHERE role = 'physiotherapist'")).scalar()
            engine = db.engine
        counter = SqlCounter(engine)
        meter = CpuMeter(lambda: set(), name)  # ours: this process, its children, our database's backends
        busy_before, children_before = meter.sample(), _children_ticks()
        say("1. counting statements per request")
        texted, zone = reminder_patient(app, patients, physio_id)
        # The app logs only against exercises due today; a patient with none today (a rest day) sends nothing.
        users = [p for p in patients if p.item_ids and p != texted]
        others = [p for p in patients if p != texted]
        rows = amplification(app, counter, users, data.physio_token, args.reps)
        say(f"   one exercise text end to end (patient in {zone})")
        reminder_rows, shape = reminder_round_trip(app, counter, texted)
        rows += reminder_rows
        say("2. rows per patient per day and bytes per row")
        per_day = planned_per_day(app, others, physio_id)
        with engine.connect() as conn:
            logs, log_days = conn.execute(
                sa.text("SELECT count(*), count(DISTINCT (patient_id, local_date)) FROM adherence_logs")
            ).one()
        # 3. cold start and 4. memory: fresh processes, the data as it stands
        say("3. cold start, 4. memory: fresh processes")
        cold, mixed = [], []
        for run in range(args.runs):
            for kind in ("today", "search"):
                result = run_child(
                    workdir,
                    database.url,
                    users,
                    data.physio_token,
                    first=kind,
                    repeat=args.repeat,
                    mixed=args.requests if kind == "today" else 0,
                )
                result["kind"] = kind
                cold.append(result)
                if result.get("mixed_s") is not None:
                    mixed.append(result)
                say(f"   run {run + 1} {kind}: first {result['first_s'] * 1000:.0f} ms")
        busy_after, children_after = meter.sample(), _children_ticks()
        say("   sizing tables")
        targets = populate(engine, others, args.days, shape, datetime.now(UTC))
        measured = sizes(engine)
        audit = _audit_per_day(rows)
        daily = {
            "adherence_logs": f"{logs / log_days:.1f} per patient-day with logs"
            f" ({logs:,} logs, {log_days:,} patient-days)",
            "reminders": f"{per_day['cap_per_day']:.2f} exercise texts (the default cap, 3 a week);"
            f" {per_day['rows'] / max(1, per_day['patient_days']):.2f} row per planned patient-day",
            "audit_events": f"{audit:.0f} (assumed use, see below)",
            "idempotency_records": "1 per single-entry POST",
            "auth_tokens": "2 per sign-in or refresh",
        }
        bytes_rows = {t: (*measured[t], daily[t]) for t in SIZED}
        say(f"   padded to {targets}")
        other = _other(busy_before, busy_after, children_after - children_before)
        app_engine_dispose(app)
        text = render(args, argv, database, data, users, rows, bytes_rows, per_day, cold, mixed, other)
    write_section(args.out, args.label, text, HEADER)
    print(text)
    say(f"written to {args.out}")
    return 0


def _audit_per_day(rows: list[Row]) -> float:
    """Audit rows a patient adds a day under the assumed use: 4 opens of today, 1 routine view, 1 sync of 10."""
    per = {r.title: statistics.median(t.written["audit_events"] for t in r.tallies) for r in rows}
    return (
        4 * per["GET /patients/{id}/today (today's plan)"]
        + per["GET /patients/{id}/routine"]
        + per["POST /patients/{id}/logs/batch, 10 new"]
    )


def _children_ticks() -> int:
    """Clock ticks used by this process's children that have ended (the child processes)."""
    times = os.times()
    return round((times.children_user + times.children_system) * os.sysconf("SC_CLK_TCK"))


def _other(before, after, children: int) -> str:
    """The machine's CPU use during the timed parts, and the share of it that was not this benchmark's.

    The child processes have ended by the second sample, so their ticks come from os.times(); the database
    backends that served them have gone too and count as other work (a small overstatement)."""
    machine, other = CpuMeter.usage(before, after)
    if machine is None or other is None:
        return "the machine's CPU use is unknown (no /proc/stat)"
    other = max(0.0, other - 100 * children / (after.total - before.total))
    return f"the machine was {machine:.0f} % busy, {other:.0f} % of all cores by other work"


def app_engine_dispose(app) -> None:
    from hep.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
