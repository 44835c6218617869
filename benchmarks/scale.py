"""Benchmark at scale: the risk list, the clinic adherence report, and whether the app's hot paths stay flat.

Builds three PostgreSQL databases with bulk inserts (COPY), serves each with the real app under gunicorn
and measures: the physiotherapist's risk list (300 patients x 90 days of logs), the clinic adherence
report (10,000 patients, 1,000,000 logs), and today's plan and a 50-entry batch sync at 10,000 patients
against the same patients at 100. See benchmarks/README.md ("Scale") for what is measured and why.

    .venv/bin/python benchmarks/scale.py [--database-url postgresql://...] [--patients 10000]
        [--logs 1000000] [--small 100] [--risk-patients 300] [--risk-days 90] [--runs 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `hep` importable

import psycopg
import sqlalchemy as sa
from flask_migrate import upgrade

from benchmarks.common import (
    BUSY,
    DEFAULT_PG,
    PACKAGES,
    ROOT,
    TIMEZONES,
    CpuMeter,
    PgServer,
    arguments,
    command_line,
    cpu_model,
    gunicorn,
    progress,
    show,
    versions,
    write_section,
)
from hep import create_app
from hep.accounts import tokens
from hep.accounts.models import CLINIC_ADMIN, PATIENT, PHYSIOTHERAPIST, Clinic, User
from hep.adherence.service import entry_hash
from hep.content import load_shipped
from hep.extensions import db
from hep.programs import service as programs
from hep.programs import templates
from hep.programs.models import ProgramTemplate, RoutineItem
from hep.programs.schedule import WEEKDAYS, items_on

PER_PHYSIO = 400  # patients per physiotherapist in the report's clinic
BATCH_SIZE = 50  # entries per sync request, as in hot_paths.py
TARGETS = {"risk_ms": 50.0, "report_ms": 2000.0, "flat": 1.25}
QUICK = {  # --quick: a dry run in well under a minute (also the smoke test's sizes)
    "patients": 30,
    "logs": 2000,
    "small": 6,
    "risk_patients": 8,
    "risk_days": 20,
    "history_days": 28,
    "runs": 1,
    "requests": 6,
    "sync_requests": 2,
    "connections": 2,
    "risk_requests": 2,
    "report_requests": 1,
}
HEADER = """\
# Benchmark results: scale

Written by `benchmarks/scale.py` (how it works: `benchmarks/README.md`, "Scale"). Each `##` section is
one invocation; running the same label again replaces its section.

How to read it:

- Every figure is the **median of the runs, with the spread (min-max) in brackets**; each run's own
  figure is the median of its requests.
- **Server time** is the app's own `Server-Timing: app;dur=...` header (from the blueprint's
  before-request hook to its after-request hook: authentication, the service, the audit write and the
  commit, serialisation); **client time** is the same request seen by the benchmark over HTTP from a
  single connection, one request at a time (adds gunicorn, the TCP connect and the HTTP parse).
- Baselines in the same run: `GET /livez` (no database) from the same connection, a bare `SELECT 1`
  round trip, and a bare `count(*)`/`sum(credit)` over the same logs the report or list reads
  (what merely touching those rows costs in the database).
- **Flat cost** runs both databases side by side, interleaved run by run, with the same patients'
  shapes (patient n has the same template, start, time zone and habits in both): the ratio is large
  p50 ÷ small p50, run by run.
- `other work` is the share of the machine (100 % = every core) taken during the measurements by
  processes that are neither this script, its gunicorns nor the PostgreSQL backends of its databases;
  the table shows the most it took during any run of each figure. Above 10 % the machine was shared
  and the figures are inflated.
- A target is judged only at the sizes it is set for; `--quick` sections never are.
"""


say = progress("bench")


# --- the data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Habit:
    """How a patient keeps to their routine."""

    name: str
    day: float  # chance they exercise on a given day
    each: float  # chance they do each occurrence due on such a day
    short: float = 0.0  # chance an occurrence is done with fewer sets than prescribed
    stops: bool = False  # stopped a few days ago


# Twenty slots: patient n has HABITS[n % 20]. Steady 45 %, patchy 25 %, rarely 10 %, stopped 10 %, never 10 %.
HABITS = (
    *[Habit("steady", 0.92, 0.95, 0.05)] * 9,
    *[Habit("patchy", 0.7, 0.75, 0.2)] * 5,
    *[Habit("rarely", 0.35, 0.7, 0.2)] * 2,
    *[Habit("stopped", 0.9, 0.9, 0.05, stops=True)] * 2,
    *[Habit("never", 0.0, 0.0)] * 2,
)


@dataclass(frozen=True)
class Shape:
    """What a dataset holds.

    Patient n is the same in every dataset (template, start, time zone, habit, what they did): the first
    `current` patients started their routine 7-35 days ago (still running: the flat-cost patients), the
    others a whole number of weeks ago, up to `history_days` (a clinic's past: most routines are over).
    """

    name: str  # also part of the database name
    patients: int
    current: int
    history_days: int
    logs: int | None  # the others drop out early enough to make exactly this many entries (None: they never do)
    physios: int
    fixed_start: bool = False  # every routine started history_days ago and runs past today (the risk list)
    tokens: int = 0  # patients (from the first) to sign in for the flat-cost requests
    zones: tuple[str, ...] = TIMEZONES  # patient n lives in zones[n % len(zones)]

    def zone(self, n: int) -> str:
        """Patient n's time zone."""
        return self.zones[n % len(self.zones)]


@dataclass
class Built:
    shape: Shape
    url: str
    db_name: str
    patients: int = 0
    logs: int = 0
    candidates: int = 0
    dropout: float | None = None  # share of their habit's entries the older patients logged before dropping out
    routine_items: int = 0
    seconds: float = 0.0
    staff_token: str = ""
    staff_id: int = 0
    patient_tokens: list[tuple[int, str, str, tuple[int, ...]]] = field(default_factory=list)  # id, token, tz, items
    habits: Counter = field(default_factory=Counter)


def copy_rows(conn: psycopg.Connection, table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples, in `columns` order) into a table; returns how many."""
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


@contextmanager
def bare_table(conn: psycopg.Connection, table: str) -> Iterator[None]:
    """Drop a table's keys, indexes and foreign keys for a bulk load; put them back, as they were, after it.

    Building an index once over a million rows is much faster than updating it a million times, and adding a
    foreign key back checks every row in one join rather than one lookup per row.
    """
    constraints = conn.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'f') ORDER BY contype DESC, conname",
        (table,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        (table, table),
    ).fetchall()
    for name, _kind, _definition in reversed(constraints):
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    yield
    for name, kind, definition in constraints:
        if kind == "p":
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in indexes:
        conn.execute(definition)
    for name, kind, definition in constraints:
        if kind == "f":
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    conn.commit()


def _next_id(conn: psycopg.Connection, table: str, column: str = "id") -> int:
    return conn.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}").fetchone()[0]


def _reset_sequence(conn: psycopg.Connection, table: str) -> None:
    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _start_offset(shape: Shape, n: int) -> int:
    """Days before today (UTC) patient n's routine started; the same n gets the same in every dataset."""
    if shape.fixed_start:
        return shape.history_days
    if n < shape.current:
        return 7 + (n * 7919) % 29  # 7..35 days: every shipped template (6+ weeks) is still running
    return 7 * (1 + (n * 7919) % max(1, shape.history_days // 7))  # whole weeks: few distinct routines to make


def _people(conn: psycopg.Connection, shape: Shape, clinic_id: int, now: datetime) -> tuple[list[int], list[int]]:
    """Physiotherapists, a clinic admin and the patients, COPYed; returns (physio ids, patient ids)."""
    first = _next_id(conn, "users")
    physio_ids = list(range(first, first + shape.physios))
    admin_id = first + shape.physios
    patient_ids = list(range(admin_id + 1, admin_id + 1 + shape.patients))
    staff = [
        (i, clinic_id, PHYSIOTHERAPIST, f"Physio {k + 1:03d}", f"physio{k + 1}@scale.hep.test", True, now)
        for k, i in enumerate(physio_ids)
    ]
    staff.append((admin_id, clinic_id, CLINIC_ADMIN, "Scale Admin", "admin@scale.hep.test", True, now))
    users = [
        (i, clinic_id, PATIENT, f"Patient {n:05d}", f"patient{n}@scale.hep.test", True, now)
        for n, i in enumerate(patient_ids)
    ]
    columns = ["id", "clinic_id", "role", "name", "email", "is_active", "created_at"]
    copy_rows(conn, "users", columns, staff + users)
    copy_rows(
        conn,
        "patients",
        ["user_id", "physiotherapist_id", "timezone", "language", "activated_at"],
        ((pid, physio_ids[n % shape.physios], shape.zone(n), "en", now) for n, pid in enumerate(patient_ids)),
    )
    _reset_sequence(conn, "users")
    conn.commit()
    return physio_ids, patient_ids


@dataclass(frozen=True, slots=True)
class Dose:
    """A prototype's routine item as plain values (ORM attributes are too slow for a million log entries)."""

    id: int
    exercise_id: int
    side: str
    sets: int
    reps: int | None
    hold_seconds: int | None
    times_per_day: int
    days_per_week: int | None
    flexible: bool
    weekdays: frozenset[int] | None  # date.weekday() numbers, for items on named days
    prescription: str  # JSON, as stored next to each log (RoutineItem.prescription())

    @classmethod
    def of(cls, item: RoutineItem) -> Dose:
        named = frozenset(WEEKDAYS.index(d) for d in item.weekdays) if item.weekdays is not None else None
        return cls(
            item.id,
            item.exercise_id,
            item.side,
            item.sets,
            item.reps,
            item.hold_seconds,
            item.times_per_day,
            item.days_per_week,
            item.flexible,
            named,
            json.dumps(item.prescription()),
        )

    def fixed_on(self, day: date) -> bool:
        """As RoutineItem.fixed_on."""
        if self.weekdays is not None:
            return day.weekday() in self.weekdays
        return (self.days_per_week or 7) == 7


@dataclass
class Prototype:
    """A routine made through the service for the first patient of a group, cloned for the rest."""

    routine_id: int
    patient_id: int
    routine_rows: dict  # table: rows of the prototype, as read back
    item_order: list[int]  # the prototype's item ids in clone order
    schedule: dict[date, tuple[Dose, ...]]  # day: items in effect


def _local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def _routine_body(shape: Shape, template: ProgramTemplate, start: date, today: date) -> dict:
    body = templates.draft(template, start)
    if shape.fixed_start:  # the risk list wants 90 days of history: the physiotherapist extended the program
        body["end_date"] = max(body["end_date"], today + timedelta(days=30))
    return body


def _read_back(conn: sa.Connection, routine_id: int) -> dict:
    """The prototype's rows in routine_versions, routine_phases and routine_items."""
    versions = conn.execute(sa.text("SELECT * FROM routine_versions WHERE routine_id = :r"), {"r": routine_id})
    versions = [dict(r._mapping) for r in versions]
    version_ids = [v["id"] for v in versions]
    phases = [
        dict(r._mapping)
        for r in conn.execute(
            sa.text("SELECT * FROM routine_phases WHERE version_id = ANY(:v) ORDER BY id"), {"v": version_ids}
        )
    ]
    items = [
        dict(r._mapping)
        for r in conn.execute(
            sa.text("SELECT * FROM routine_items WHERE phase_id = ANY(:p) ORDER BY id"),
            {"p": [p["id"] for p in phases]},
        )
    ]
    return {"routine_versions": versions, "routine_phases": phases, "routine_items": items}


def _prototypes(shape: Shape, physio_ids: list[int], patient_ids: list[int], now: datetime):
    """One routine per (template, start) made through the service: ({patient: key}, {key: Prototype})."""
    keys = list(db.session.scalars(sa.select(ProgramTemplate.key).order_by(ProgramTemplate.key)))
    physio = db.session.get(User, physio_ids[0])
    shipped = {key: templates.get_template(physio, key) for key in keys}
    group_of: dict[int, tuple[str, date]] = {}
    prototypes: dict[tuple[str, date], Prototype] = {}
    utc_today = now.date()
    last = utc_today + timedelta(days=1)  # the latest local date anywhere (UTC+14)
    for n, pid in enumerate(patient_ids):
        key = (keys[n % len(keys)], utc_today - timedelta(days=_start_offset(shape, n)))
        group_of[pid] = key
        if key in prototypes:
            continue
        owner = db.session.get(User, physio_ids[n % shape.physios])
        routine = programs.create_routine(owner, pid, _routine_body(shape, shipped[key[0]], key[1], last), now=now)
        rows = _read_back(db.session.connection(), routine.id)
        doses, schedule, day = {}, {}, key[1]
        while day <= last:
            in_effect = [item for _routine, item in items_on([routine], day)]
            for item in in_effect:
                if item.id not in doses:
                    doses[item.id] = Dose.of(item)
            schedule[day] = tuple(doses[item.id] for item in in_effect)
            day += timedelta(days=1)
        prototypes[key] = Prototype(routine.id, pid, rows, [i["id"] for i in rows["routine_items"]], schedule)
    db.session.commit()
    return group_of, prototypes


VERSION_COLUMNS = ["id", "routine_id", "number", "title", "start_date", "end_date", "effective_from", "notes"]
VERSION_COLUMNS += ["template_key", "content_hash", "created_by_id", "created_at"]
PHASE_COLUMNS = ["id", "version_id", "position", "name", "start_date"]
ITEM_COLUMNS = ["id", "phase_id", "position", "exercise_id", "sets", "reps", "hold_seconds", "rest_seconds", "side"]
ITEM_COLUMNS += ["load", "times_per_day", "days_per_week", "weekdays", "notes"]


def _clone(conn: psycopg.Connection, group_of: dict, prototypes: dict, physio_of: dict, now: datetime):
    """Copy every prototype's rows for the other patients of its group; returns {patient: (routine id, item ids)}."""
    owners = {proto.patient_id for proto in prototypes.values()}
    ids = {t: _next_id(conn, t) for t in ("routines", "routine_versions", "routine_phases", "routine_items")}
    rows: dict[str, list[tuple]] = {t: [] for t in ids}

    def new_id(table: str) -> int:
        ids[table] += 1
        return ids[table] - 1

    made: dict[int, tuple[int, list[int]]] = {}
    for pid, key in group_of.items():
        proto = prototypes[key]
        if pid in owners:
            made[pid] = (proto.routine_id, proto.item_order)
            continue
        routine_id = new_id("routines")
        rows["routines"].append((routine_id, pid, physio_of[pid], now))
        versions, phases, item_ids = {}, {}, []
        for v in proto.routine_rows["routine_versions"]:
            versions[v["id"]] = new_id("routine_versions")
            row = v | {"id": versions[v["id"]], "routine_id": routine_id, "created_by_id": physio_of[pid]}
            rows["routine_versions"].append(tuple((row | {"created_at": now})[c] for c in VERSION_COLUMNS))
        for ph in proto.routine_rows["routine_phases"]:
            phases[ph["id"]] = new_id("routine_phases")
            row = ph | {"id": phases[ph["id"]], "version_id": versions[ph["version_id"]]}
            rows["routine_phases"].append(tuple(row[c] for c in PHASE_COLUMNS))
        for it in proto.routine_rows["routine_items"]:
            item_ids.append(new_id("routine_items"))
            weekdays = json.dumps(it["weekdays"]) if it["weekdays"] is not None else None
            row = it | {"id": item_ids[-1], "phase_id": phases[it["phase_id"]], "weekdays": weekdays}
            rows["routine_items"].append(tuple(row[c] for c in ITEM_COLUMNS))
        made[pid] = (routine_id, item_ids)
    copy_rows(conn, "routines", ["id", "patient_id", "created_by_id", "created_at"], rows["routines"])
    copy_rows(conn, "routine_versions", VERSION_COLUMNS, rows["routine_versions"])
    copy_rows(conn, "routine_phases", PHASE_COLUMNS, rows["routine_phases"])
    copy_rows(conn, "routine_items", ITEM_COLUMNS, rows["routine_items"])
    for table in ids:
        _reset_sequence(conn, table)
    conn.commit()
    return made


def occurrences(
    n: int, proto: Prototype, now: datetime, seed: int, zones: tuple[str, ...] = TIMEZONES
) -> Iterator[tuple]:
    """What patient n did, day by day from their routine's start to now, by their habit (deterministic):
    (dose, local day, hour, minute, sets done, pain before, pain after, difficulty)."""
    rng = random.Random(seed * 1_000_003 + n)
    draw = rng.random
    habit = HABITS[n % len(HABITS)]
    zone = ZoneInfo(zones[n % len(zones)])
    today = now.astimezone(zone).date()
    stopped = today - timedelta(days=3 + int(draw() * 10)) if habit.stops else None
    base_pain, rising = 2 + int(draw() * 5), draw() < 0.1
    for day, in_effect in proto.schedule.items():
        if day > today:
            break
        if (stopped and day >= stopped) or draw() >= habit.day:
            continue
        pain = min(10, max(0, base_pain + (3 if rising and (today - day).days < 7 else 0) + int(draw() * 3) - 1))
        for dose in in_effect:
            if dose.flexible:
                times = dose.times_per_day if draw() < dose.days_per_week / 7 else 0
            else:
                times = dose.times_per_day if dose.fixed_on(day) else 0
            for k in range(times):
                if draw() >= habit.each:
                    continue
                hour, minute = 7 + 5 * k, int(draw() * 60)
                if day == today and datetime.combine(day, clock(hour, minute), zone) > now:
                    continue
                sets = dose.sets if draw() >= habit.short else 1 + int(draw() * dose.sets)
                yield dose, day, hour, minute, sets, pain, max(0, pain - int(draw() * 3)), 2 + int(draw() * 6)


def _log_rows(
    patients: list[tuple[int, int]],
    group_of: dict,
    prototypes: dict,
    made: dict,
    now: datetime,
    seed: int,
    quotas: list[int],
    zones: tuple[str, ...] = TIMEZONES,
) -> Iterator[tuple]:
    """adherence_logs rows as the sync service writes them (_new_log): each patient's first quotas[n] occurrences."""
    for n, pid in patients:
        proto = prototypes[group_of[pid]]
        routine_id, item_ids = made[pid]
        clone_item = dict(zip(proto.item_order, item_ids, strict=True))
        zone = ZoneInfo(zones[n % len(zones)])
        for count, (dose, day, hour, minute, sets, before, after, difficulty) in enumerate(
            occurrences(n, proto, now, seed, zones)
        ):
            if count >= quotas[n]:
                break  # dropped out
            performed = datetime.combine(day, clock(hour, minute), zone)
            entry = {
                "id": uuid.uuid4(),
                "routine_item_id": clone_item[dose.id],
                "performed_at": performed,
                "sets_done": sets,
                "reps_done": dose.reps,
                "hold_seconds_done": dose.hold_seconds,
                "pain_before": before,
                "pain_after": after,
                "difficulty": difficulty,
                "note": None,
            }
            stored = min(now, performed + timedelta(minutes=3))
            yield (
                entry["id"],
                pid,
                routine_id,
                entry["routine_item_id"],
                dose.exercise_id,
                dose.side,
                dose.prescription,
                performed,
                int(performed.utcoffset().total_seconds() // 60),
                day,
                sets,
                dose.reps,
                dose.hold_seconds,
                before,
                after,
                difficulty,
                None,
                min(1.0, sets / dose.sets),
                "app",
                entry_hash(entry),
                stored,
                stored,
            )


LOG_COLUMNS = [
    "id",
    "patient_id",
    "routine_id",
    "routine_item_id",
    "exercise_id",
    "side",
    "prescribed",
    "performed_at",
    "utc_offset_minutes",
    "local_date",
    "sets_done",
    "reps_done",
    "hold_seconds_done",
    "pain_before",
    "pain_after",
    "difficulty",
    "note",
    "credit",
    "source",
    "content_hash",
    "created_at",
    "updated_at",
]


def _history(conn, shape: Shape, patient_ids, group_of, prototypes, made, now: datetime, built: Built) -> None:
    """Every patient's logs, COPYed; thinned uniformly to exactly shape.logs entries when it asks for a count."""
    patients = list(enumerate(patient_ids))
    seed = 1
    quotas = [sum(1 for _ in occurrences(n, prototypes[group_of[pid]], now, seed, shape.zones)) for n, pid in patients]
    fixed, others = sum(quotas[: shape.current]), sum(quotas[shape.current :])
    built.candidates = fixed + others
    if shape.logs is not None and fixed < shape.logs < fixed + others:
        # The others drop out: each keeps the same share of what their habit would have logged, the earliest.
        share = (shape.logs - fixed) / others
        full = quotas[shape.current :]
        quotas[shape.current :] = [int(q * share) for q in full]
        short = shape.logs - fixed - sum(quotas[shape.current :])  # the rounding's remainder: one more each
        for k in [k for k, q in enumerate(full) if int(q * share) < q][:short]:
            quotas[shape.current + k] += 1
        built.dropout = share
        say(f"{shape.name}: {fixed + others} entries by the habits; the older patients drop out to make {shape.logs}")
    elif shape.logs is not None and shape.logs != fixed + others:
        say(f"!!! {shape.name}: the habits give {fixed + others} entries, not --logs {shape.logs}")
    started = time.monotonic()
    rows = _log_rows(patients, group_of, prototypes, made, now, seed, quotas, shape.zones)
    with bare_table(conn, "adherence_logs"):
        built.logs = copy_rows(conn, "adherence_logs", LOG_COLUMNS, rows)
        conn.commit()
        say(f"{shape.name}: {built.logs} log entries copied in {time.monotonic() - started:.0f} s; indexing")
    say(f"{shape.name}: keys, indexes and foreign keys back after {time.monotonic() - started:.0f} s; vacuuming")
    # As a table that has lived in production would be: statistics and visibility map up to date, and no
    # autovacuum of the fresh million rows competing with the measurements.
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False


def build(url: str, db_name: str, shape: Shape, now: datetime, token_ttl: int) -> Built:
    """Fill a migrated database holding the library in bulk: clinic, staff, patients, routines, logs, tokens."""
    started = time.monotonic()
    built = Built(shape, url, db_name, patients=shape.patients)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context(), psycopg.connect(libpq_url(url)) as conn:
        db.session().expire_on_commit = False  # the prototypes' objects stay loaded: no reload per attribute
        clinic = Clinic(
            name=f"Scale clinic ({shape.name})", timezone="UTC", contact_phone="+16045550100", created_at=now
        )
        db.session.add(clinic)
        db.session.commit()
        physio_ids, patient_ids = _people(conn, shape, clinic.id, now)
        physio_of = {pid: physio_ids[n % shape.physios] for n, pid in enumerate(patient_ids)}
        say(f"{shape.name}: {shape.patients} patients; routines from the shipped templates")
        group_of, prototypes = _prototypes(shape, physio_ids, patient_ids, now)
        made = _clone(conn, group_of, prototypes, physio_of, now)
        built.routine_items = sum(len(items) for _r, items in made.values())
        say(f"{shape.name}: {len(prototypes)} routines made through the service, the rest cloned; logs")
        _history(conn, shape, patient_ids, group_of, prototypes, made, now, built)
        built.habits.update(HABITS[n % len(HABITS)].name for n in range(len(patient_ids)))
        staff = db.session.get(User, physio_ids[0] if shape.fixed_start else physio_ids[-1] + 1)
        built.staff_id = staff.id
        built.staff_token = tokens.issue(staff, now=now, access_ttl=token_ttl, refresh_ttl=token_ttl).access_token
        for n, pid in enumerate(patient_ids[: shape.tokens]):
            proto = prototypes[group_of[pid]]
            in_effect = [item.id for item in proto.schedule[_local_today(shape.zone(n), now)]]
            if not in_effect:
                continue  # routine over: the plan would be empty, and such a patient no longer logs
            clone_item = dict(zip(proto.item_order, made[pid][1], strict=True))
            user = db.session.get(User, pid)
            token = tokens.issue(user, now=now, access_ttl=token_ttl, refresh_ttl=token_ttl).access_token
            built.patient_tokens.append((pid, token, shape.zone(n), tuple(clone_item[i] for i in in_effect)))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    built.seconds = time.monotonic() - started
    return built


# --- the databases --------------------------------------------------------------------------


class Databases(PgServer):
    """The run's databases on the PostgreSQL server: hep_scale_<pid>_<name>, dropped at the end."""

    def __init__(self, server_url: str):
        super().__init__(server_url)
        self.prefix = f"hep_scale_{os.getpid()}"
        self.created: list[str] = []

    def make(self, suffix: str, template: str | None = None) -> tuple[str, str]:
        """Create hep_scale_<pid>_<suffix> (a copy of `template` when given); returns (name, SQLAlchemy URL)."""
        name = f"{self.prefix}_{suffix}"
        url = self.create(name, template)
        self.created.append(name)
        return name, url

    def drop_all(self) -> None:
        """Drop every database this run created."""
        for name in reversed(self.created):
            self.drop(name)
            say(f"dropped database {name}")
        self.created.clear()
        self.dispose()


def base_database(server: Databases, now: datetime) -> str:
    """A migrated database holding the exercise library and templates: the template of the others."""
    name, url = server.make("base")
    migrate_with_library(url, now)
    return name


def migrate_with_library(url: str, now: datetime) -> None:
    """Migrate a fresh database and load the shipped exercise library and templates into it."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        say("migrating, loading the exercise library")
        upgrade()
        load_shipped(ROOT / "exercises", now=now)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured quantity: a value per run."""

    title: str
    unit: str
    runs: list[float] = field(default_factory=list)
    target: float | None = None  # the value must be at most this
    other: list[float] = field(default_factory=list)  # other work's share of the machine while it was measured
    judged: bool = True  # measured at the sizes the target is set for

    def show_other(self) -> str:
        """The most other work took during any of this figure's runs."""
        return f"{max(self.other):.0f}" if self.other else "?"

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def show(self) -> str:
        return show(self.runs)

    def verdict(self) -> str:
        if self.target is None or not self.runs:
            return "-"
        if not self.judged:
            return "n/a: not the target's sizes"
        return "met" if self.median <= self.target else "**not met**"


@dataclass
class Measured:
    figures: dict[str, Figure] = field(default_factory=dict)
    other: list[float] = field(default_factory=list)  # other work % per measurement block
    machine: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    example: str | None = None
    notes: list[str] = field(default_factory=list)

    def figure(self, key: str, title: str, unit: str, target: float | None = None, judged: bool = True) -> Figure:
        return self.figures.setdefault(key, Figure(title, unit, target=target, judged=judged))

    def error(self, what: str, example: str) -> None:
        self.errors[what] += 1
        self.example = self.example or example


@contextmanager
def metered(meter: CpuMeter, measured: Measured, what: str, *figures: Figure) -> Iterator[None]:
    """Record the machine's and other work's CPU share over a block, also against the figures it measures."""
    before = meter.sample()
    yield
    machine, other = CpuMeter.usage(before, meter.sample())
    if other is not None:
        measured.other.append(other)
        measured.machine.append(machine)
        for figure in figures:
            figure.other.append(other)
        if other > BUSY:
            say(f"!!! other work took {other:.0f} % of the machine during {what}: its figures are skewed")


@dataclass(frozen=True)
class Answer:
    status: int
    client_ms: float
    server_ms: float | None
    body: bytes


def ask(address: tuple[str, int], method: str, path: str, headers: dict, body: bytes | None = None) -> Answer:
    """One request on a fresh connection (gunicorn's sync workers close it after each answer anyway)."""
    conn = http.client.HTTPConnection(*address, timeout=120)
    try:
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = 1000 * (time.perf_counter() - started)
    finally:
        conn.close()
    timing = response.getheader("Server-Timing") or ""
    server = float(timing.split("dur=", 1)[1].split(";")[0].split(",")[0]) if "dur=" in timing else None
    return Answer(response.status, elapsed, server, data)


def sequential(address, path: str, headers: dict, count: int, measured: Measured) -> list[Answer]:
    """`count` requests one after another; non-200 answers are recorded as errors."""
    answers = []
    for _ in range(count):
        answer = ask(address, "GET", path, headers)
        if answer.status != 200:
            measured.error(f"GET {path.split('?')[0]}: HTTP {answer.status}", f"{path}: {answer.body[:300]!r}")
        answers.append(answer)
    return answers


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg.connect takes it (no +psycopg driver suffix, password kept)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def select_one_us(url: str, count: int = 300) -> float:
    """Median round trip of a bare `SELECT 1`, in microseconds."""
    with psycopg.connect(libpq_url(url)) as conn:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - started)
    return 1e6 * statistics.median(times)


def bare_scan_ms(url: str, days: int, physio_id: int | None, now: datetime, repeat: int = 3) -> tuple[float, int]:
    """Median time of one count(*)/sum(credit) over the logs of the last `days` days (one physio's patients or all)."""
    today = now.date()
    query = (
        "SELECT count(*), sum(l.credit) FROM adherence_logs l JOIN patients p ON p.user_id = l.patient_id"
        " WHERE l.deleted_at IS NULL AND l.local_date BETWEEN %(first)s AND %(last)s"
        + (" AND p.physiotherapist_id = %(physio)s" if physio_id else "")
    )
    params = {"first": today - timedelta(days=days + 1), "last": today, "physio": physio_id}
    with psycopg.connect(libpq_url(url)) as conn:
        times, rows = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            rows = conn.execute(query, params).fetchone()[0]
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times), rows


def kept_days(url: str) -> str:
    """How many day summaries the reads kept, and what they take on disk (table and index)."""
    with psycopg.connect(libpq_url(url)) as conn:
        rows, size = conn.execute(
            "SELECT count(*), pg_total_relation_size('adherence_days') FROM adherence_days"
        ).fetchone()
    per_row = f", {size / rows:.0f} bytes a row with its index" if rows else ""
    return f"{rows:,} kept day summaries (adherence_days), {size / 2**20:.1f} MiB{per_row}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _staff_headers(built: Built) -> dict:
    return {"Authorization": f"Bearer {built.staff_token}", "Accept": "application/json"}


def measure_risk(server, built: Built, meter: CpuMeter, settings, now: datetime, measured: Measured) -> None:
    """The risk list's server and client time, with /livez and the database baselines, run by run."""
    address, headers = server.address, _staff_headers(built)
    cold = measured.figure("risk_cold", "risk list: first read after the build (every day worked out and kept)", "ms")
    warm_up = sequential(address, "/api/v1/risk", headers, 3, measured)  # warm-up: connections, caches, kept days
    cold.runs.append(warm_up[0].server_ms or float("nan"))
    judged = (settings.risk_patients, settings.risk_days) == (300, 90)
    risk = measured.figure("risk", "risk list: GET /risk, server time", "ms", TARGETS["risk_ms"], judged)
    risk_client = measured.figure("risk_client", "risk list: client time", "ms")
    livez = measured.figure("risk_livez", "baseline: GET /livez, client time", "ms")
    select1 = measured.figure("risk_select1", "baseline: bare SELECT 1 round trip", "µs")
    scan = measured.figure("risk_scan", "baseline: bare count/sum over the list's logs (15 days)", "ms")
    ratio = measured.figure("risk_ratio", "risk list server time ÷ /livez client time", "x")
    rows = 0
    for run in range(settings.runs):
        with metered(meter, measured, f"risk run {run + 1}", risk, risk_client, livez, select1, scan, ratio):
            base = _median([a.client_ms for a in sequential(address, "/livez", {}, 20, measured)])
            answers = sequential(address, "/api/v1/risk", headers, settings.risk_requests, measured)
            select1.runs.append(select_one_us(built.url))
            scan_ms, rows = bare_scan_ms(built.url, 15, built.staff_id, now)
        livez.runs.append(base)
        scan.runs.append(scan_ms)
        risk.runs.append(_median([a.server_ms for a in answers if a.server_ms is not None]))
        risk_client.runs.append(_median([a.client_ms for a in answers]))
        ratio.runs.append(risk.runs[-1] / base)
        say(f"risk run {run + 1}/{settings.runs}: server {risk.runs[-1]:.1f} ms, client {risk_client.runs[-1]:.1f} ms")
    listed = len(json.loads(sequential(address, "/api/v1/risk", headers, 1, measured)[0].body)["items"])
    measured.notes.append(f"risk list: {listed} patients listed; the bare scan reads {rows} log entries")


def measure_report(server, built: Built, meter: CpuMeter, settings, now: datetime, measured: Measured) -> None:
    """The clinic report's server time at the default 28 days and at 90 (every log in the window)."""
    address, headers = server.address, _staff_headers(built)
    for days, key, target in ((28, "report", TARGETS["report_ms"]), (90, "report90", None)):
        path = f"/api/v1/clinic/adherence-report?days={days}"
        title = f"clinic report, {days} days" + (" (default)" if days == 28 else " (the longest window)")
        cold = measured.figure(f"{key}_cold", f"{title}: first read (the days not kept yet worked out and kept)", "ms")
        first = sequential(address, path, headers, 1, measured)[0]  # warm-up: the days are kept from here on
        cold.runs.append(first.server_ms or float("nan"))
        summary = json.loads(first.body) if first.status == 200 else {}
        judged = (settings.patients, settings.logs) == (10_000, 1_000_000)
        figure = measured.figure(key, f"{title}: server time", "ms", target, judged)
        client = measured.figure(f"{key}_client", f"{title}: client time", "ms")
        scan = measured.figure(f"{key}_scan", f"baseline: bare count/sum over the clinic's logs ({days} days)", "ms")
        ratio = measured.figure(f"{key}_ratio", f"clinic report, {days} days: server time ÷ the bare count/sum", "x")
        rows = 0
        for run in range(settings.runs):
            with metered(meter, measured, f"report run {run + 1}", figure, client, scan, ratio):
                answers = sequential(address, path, headers, settings.report_requests, measured)
                scan_ms, rows = bare_scan_ms(built.url, days, None, now)
            figure.runs.append(_median([a.server_ms for a in answers if a.server_ms is not None]))
            client.runs.append(_median([a.client_ms for a in answers]))
            scan.runs.append(scan_ms)
            ratio.runs.append(figure.runs[-1] / scan_ms)
            say(f"report ({days} days) run {run + 1}/{settings.runs}: server {figure.runs[-1]:.0f} ms")
        measured.notes.append(
            f"clinic report, {days} days: {summary.get('patients')} patients, {summary.get('active_patients')} with"
            f" something due, {summary.get('entries')} entries in the window (bare scan: {rows}),"
            f" adherence {summary.get('adherence')}, distribution {summary.get('distribution')},"
            f" {len(summary.get('weeks', []))} weeks, {len(summary.get('physiotherapists', []))} physiotherapists"
        )
    measured.notes.append(f"after the reports: {kept_days(built.url)}")


def _patient_headers(token: str, json_body: bool = False) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return headers | ({"Content-Type": "application/json"} if json_body else {})


def _plan_requests(built: Built, count: int) -> list[tuple[str, str, dict, bytes | None, int]]:
    patients = built.patient_tokens
    return [
        ("GET", f"/api/v1/patients/{pid}/today", _patient_headers(token), None, 0)
        for pid, token, _tz, _items in (patients[k % len(patients)] for k in range(count))
    ]


def _sync_requests(built: Built, count: int, seed: int) -> list[tuple[str, str, dict, bytes | None, int]]:
    """Batches of BATCH_SIZE new entries done over the last half hour, as hot_paths.py sends them."""
    rng, patients, requests = random.Random(seed), built.patient_tokens, []
    for k in range(count):
        pid, token, tz, items = patients[k % len(patients)]
        moment = datetime.now(ZoneInfo(tz)).replace(microsecond=0)
        entries = [
            {
                "id": str(uuid.uuid4()),
                "routine_item_id": rng.choice(items),
                "performed_at": (moment - timedelta(seconds=30 * (i + 1))).isoformat(),
                "sets_done": rng.randint(1, 3),
                "reps_done": 10,
                "hold_seconds_done": None,
                "pain_before": rng.randint(0, 6),
                "pain_after": rng.randint(0, 5),
                "difficulty": rng.randint(2, 6),
                "note": None,
            }
            for i in range(BATCH_SIZE)
        ]
        body = json.dumps({"entries": entries}).encode()
        requests.append(("POST", f"/api/v1/patients/{pid}/logs/batch", _patient_headers(token, True), body, BATCH_SIZE))
    return requests


def drive(address, requests: list, connections: int, measured: Measured) -> list[float]:
    """Send the requests over `connections` threads, each one at a time; returns the latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(share: list) -> None:
        mine = []
        for method, path, headers, body, entries in share:
            try:
                answer = ask(address, method, path, headers, body)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    measured.error(type(exc).__name__, f"{method} {path}: {exc!r}")
                continue
            mine.append(answer.client_ms)
            problem = None if answer.status == 200 else f"HTTP {answer.status}"
            if problem is None and entries and json.loads(answer.body)["counts"].get("created") != entries:
                problem = "batch not all created"
            if problem:
                with lock:
                    measured.error(f"{method} {path.rsplit('/', 1)[-1]}: {problem}", f"{path}: {answer.body[:300]!r}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(requests[k::connections],)) for k in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def measure_flat(servers: dict, builds: dict, meter: CpuMeter, settings, measured: Measured) -> None:
    """Today's plan and the batch sync at both sizes, interleaved run by run; p50s and large ÷ small."""
    c = settings.connections
    names = list(servers)  # small, large
    judged = (settings.patients, settings.logs, settings.small) == (10_000, 1_000_000, 100)
    for name in names:  # warm-up: every token's plan once, and one batch
        drive(servers[name].address, _plan_requests(builds[name], len(builds[name].patient_tokens)), c, measured)
    figures = {
        (name, what): measured.figure(f"{what}_{name}", f"{title} at {builds[name].patients} patients", "ms")
        for name in names
        for what, title in (("livez", "GET /livez p50"), ("plan", "today's plan p50"), ("sync", "batch sync p50"))
    }
    ratios = {
        what: measured.figure(f"flat_{what}", f"flat cost: {title}", "x", TARGETS["flat"], judged)
        for what, title in (("plan", "today's plan p50, large ÷ small"), ("sync", "batch sync p50, large ÷ small"))
    }
    for what in ("plan", "sync"):  # every plan run first: the sync runs add entries to the patients' today
        for run in range(settings.runs):
            order = names if run % 2 == 0 else names[::-1]
            p50 = {}
            for name in order:
                built, address = builds[name], servers[name].address
                shown = [figures[(name, what)]] + ([figures[(name, "livez")]] if what == "plan" else [])
                with metered(meter, measured, f"{what} run {run + 1} ({name})", *shown, ratios[what]):
                    base = drive(address, [("GET", "/livez", {}, None, 0)] * settings.requests, c, measured)
                    if what == "plan":
                        latencies = drive(address, _plan_requests(built, settings.requests), c, measured)
                    else:
                        requests = _sync_requests(built, settings.sync_requests, seed=run)
                        latencies = drive(address, requests, c, measured)
                if what == "plan":
                    figures[(name, "livez")].runs.append(_median(base))
                p50[name] = _median(latencies)
                figures[(name, what)].runs.append(p50[name])
            ratios[what].runs.append(p50[names[1]] / p50[names[0]])
            say(f"{what} run {run + 1}/{settings.runs}: " + ", ".join(f"{n} p50 {p50[n]:.1f} ms" for n in names))


def profile_services(built: Built, path: Path, days: int | None) -> str:
    """Run the risk list (days None) or the report once in-process under pyinstrument; return its text."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "(pyinstrument is not installed: `.venv/bin/pip install pyinstrument`)"
    from hep.adherence import report, risk

    app = create_app({"SQLALCHEMY_DATABASE_URI": built.url, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        actor = db.session.get(User, built.staff_id)
        now = datetime.now(UTC)
        call = (
            (lambda: risk.risk_list(actor, None, now=now))
            if days is None
            else (lambda: report.clinic_report(actor, days=days, physiotherapist_id=None, now=now))
        )
        call()  # warm: the first call compiles statements
        profiler = Profiler(interval=0.001)
        profiler.start()
        call()
        profiler.stop()
        db.session.remove()
        db.engine.dispose()
    path.write_text(profiler.output_html())
    return profiler.output_text(unicode=True, color=False, show_all=False)


# --- the report -----------------------------------------------------------------------------


@dataclass
class Settings:
    patients: int
    logs: int
    small: int
    risk_patients: int
    risk_days: int
    history_days: int
    runs: int
    requests: int
    sync_requests: int
    connections: int
    risk_requests: int
    report_requests: int


def _describe(built: Built) -> str:
    shape = built.shape
    thinned = (
        f" (the other patients stop after {built.dropout:.0%} of what their habit would log, to make the count)"
        if built.dropout is not None
        else ""
    )
    if shape.fixed_start:
        start = f"every routine started {shape.history_days} days ago (extended past today)"
    elif shape.current >= shape.patients:
        start = "routines started 7-35 days ago"
    else:
        start = (
            f"patients 1-{shape.current} started their routines 7-35 days ago (as in the small clinic),"
            f" the others 1-{shape.history_days // 7} weeks ago"
            + (" (most of those routines are over)" if shape.history_days >= 180 else " (most still running)")
        )
    habits = ", ".join(f"{k} {v}" for k, v in sorted(built.habits.items()))
    return (
        f"**{shape.name}**: {built.patients} patients, {shape.physios} physiotherapist(s); {start};"
        f" {built.routine_items} routine items; {built.logs} log entries{thinned}; habits: {habits};"
        f" built in {built.seconds:.0f} s"
    )


def section(label: str, settings: Settings, builds: list[Built], measured: Measured, pg: str, argv, profiles) -> str:
    """The Markdown section for the results file."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    other = max(measured.other, default=None)
    other_text = "unknown (no /proc)" if other is None else f"at most {other:.0f} % of all cores in any measurement"
    if other is not None and other > BUSY:
        other_text += " (**the machine was shared: figures are inflated; rerun on a quiet machine**)"
    errors = sum(measured.errors.values())
    lines = [f"## {label}", ""]
    if errors:
        lines += [f"> **!!! {errors} REQUESTS FAILED: the figures below are not valid.** {dict(measured.errors)};"]
        lines += [f"> e.g. `{measured.example}`", ""]
    lines += [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cores} cores ({cpu_model()}), {platform.system()} {platform.release()};"
        " the benchmark, gunicorn and PostgreSQL share the cores",
        f"- software: {versions(PACKAGES)}; PostgreSQL {pg} (same machine)",
        f"- other work on the machine during the measurements: {other_text};"
        f" whole machine {statistics.median(measured.machine):.0f} % (median)"
        if measured.machine
        else f"- other work on the machine during the measurements: {other_text}",
        f"- command: `{command_line('scale.py', argv)}`",
        f"- runs: {settings.runs}; gunicorn -w 2 (sync workers) per database; risk list {settings.risk_requests}"
        f" and report {settings.report_requests} requests per run, one at a time; flat cost {settings.requests}"
        f" plan and {settings.sync_requests} sync requests per run and size over {settings.connections} connections",
        *(f"- data: {_describe(b)}" for b in builds),
        "",
        "| figure | median (min-max) | other work % (most) | target | |",
        "|---|---|---|---|---|",
    ]
    order = ["risk", "report", "report90", "flat_plan", "flat_sync"]
    for key in order + [k for k in measured.figures if k not in order]:
        figure = measured.figures.get(key)
        if figure is None:
            continue
        target = f"<= {figure.target:g} {figure.unit}" if figure.target is not None else ""
        cells = [figure.title, f"{figure.show()} {figure.unit}", figure.show_other(), target, figure.verdict()]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {note}" for note in measured.notes)]
    for title, text in profiles:
        lines += ["", "<details><summary>" + title + "</summary>", "", "```", text.strip("\n"), "```", "", "</details>"]
    return "\n".join(lines) + "\n"


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = arguments(__doc__, "RESULTS-scale.md", database_default=DEFAULT_PG)
    parser.add_argument("--patients", type=int, default=10_000, help="patients of the large clinic (default 10000)")
    parser.add_argument("--logs", type=int, default=1_000_000, help="log entries of the large clinic (default 1e6)")
    parser.add_argument("--small", type=int, default=100, help="patients of the flat-cost baseline (default 100)")
    parser.add_argument("--risk-patients", type=int, default=300, help="one physiotherapist's patients (default 300)")
    parser.add_argument("--risk-days", type=int, default=90, help="days of logs for the risk list (default 90)")
    parser.add_argument(
        "--history-days", type=int, default=365, help="the large clinic's other routines started 1-N weeks ago"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of every measurement (default 5)")
    parser.add_argument("--requests", type=int, default=300, help="plan requests per flat-cost run and size")
    parser.add_argument("--sync-requests", type=int, default=200, help="sync requests per flat-cost run and size")
    parser.add_argument("--connections", type=int, default=4, help="connections for the flat-cost runs (default 4)")
    parser.add_argument("--risk-requests", type=int, default=20, help="risk list requests per run (default 20)")
    parser.add_argument("--report-requests", type=int, default=3, help="report requests per run (default 3)")
    parser.add_argument("--profile", type=Path, help="also profile the risk list and report in-process into this dir")
    parser.add_argument("--quick", action="store_true", help="every size tiny, one run: checks that it still works")
    parser.add_argument("--keep", action="store_true", help="keep the databases (their names are printed)")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    args.label = args.label or (
        "PostgreSQL, --quick (tiny sizes: a dry run, not a measurement)" if args.quick else "PostgreSQL"
    )
    counts = (args.patients, args.logs, args.small, args.risk_patients, args.runs, args.requests, args.connections)
    if min(*counts, args.sync_requests, args.risk_requests, args.report_requests) < 1 or args.history_days < 8:
        parser.error("sizes, runs and request counts must be positive; --history-days at least 8")
    if args.risk_days < 15:
        parser.error("--risk-days must be at least 15 (the risk list looks at 14 whole days)")
    return args


def main(argv: list[str]) -> int:
    """Build the data, serve it, measure, report; return 1 when any request failed."""
    args = parse_args(argv)
    settings = Settings(
        args.patients,
        args.logs,
        args.small,
        args.risk_patients,
        args.risk_days,
        args.history_days,
        args.runs,
        args.requests,
        args.sync_requests,
        args.connections,
        args.risk_requests,
        args.report_requests,
    )
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)  # one key for the builders and the gunicorns
    # A report slower than gunicorn's 30 s default would be killed, not measured: give the workers longer.
    os.environ["GUNICORN_CMD_ARGS"] = "--timeout 300"
    now = datetime.now(UTC)
    token_ttl = 6 * 3600
    physios = max(1, -(-args.patients // PER_PHYSIO))
    shapes = {
        "risk": Shape("risk", args.risk_patients, 0, args.risk_days, None, 1, fixed_start=True),
        "small": Shape("small", args.small, args.small, args.history_days, None, 1, tokens=args.small),
        "large": Shape("large", args.patients, args.small, args.history_days, args.logs, physios, tokens=args.small),
    }
    measured, builds, profiles = Measured(), {}, []
    server, servers = Databases(args.database_url), set()
    meter = CpuMeter(lambda: servers, server.prefix)
    say(f"PostgreSQL {server.version} at {server.admin_url.host}; databases {server.prefix}_*")
    try:
        with tempfile.TemporaryDirectory(prefix="hep-scale-") as tmp:
            base = base_database(server, now)
            for name, shape in shapes.items():
                db_name, url = server.make(name, template=base)
                builds[name] = build(url, db_name, shape, now, token_ttl)
                say(f"data: {_describe(builds[name])}")
            with ExitStack() as stack:
                running = {}
                for name in shapes:
                    workdir = Path(tmp) / name
                    workdir.mkdir()
                    running[name] = stack.enter_context(gunicorn(builds[name].url, workdir, say))
                    servers.add(running[name].pid)
                say("measuring the risk list")
                measure_risk(running["risk"], builds["risk"], meter, settings, now, measured)
                say("measuring the clinic report")
                measure_report(running["large"], builds["large"], meter, settings, now, measured)
                say("measuring the flat cost")
                measure_flat({k: running[k] for k in ("small", "large")}, builds, meter, settings, measured)
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                say(f"profiling in-process into {args.profile}")
                for title, built, days, file in (
                    ("profile: the risk list, in-process (pyinstrument)", builds["risk"], None, "risk.html"),
                    (
                        "profile: the clinic report, 28 days, in-process (pyinstrument)",
                        builds["large"],
                        28,
                        "report.html",
                    ),
                ):
                    profiles.append((title, profile_services(built, args.profile / file, days)))
    finally:
        if args.keep:
            say("kept: " + ", ".join(server.url(name) for name in server.created))
            server.dispose()
        else:
            server.drop_all()
    text = section(args.label, settings, list(builds.values()), measured, server.version, argv, profiles)
    print(text)
    write_section(args.out, args.label, text, HEADER)
    say(f"wrote section {args.label!r} to {args.out}")
    if measured.errors:
        say(f"!!! {sum(measured.errors.values())} REQUESTS FAILED: the figures are not a valid measurement")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
