"""Each patient-day's tally, kept so the risk list and the clinic report read a row a day, not logs and routines.

A row (AdherenceDay) holds what `metrics.tally_parts` adds up for one day: what the items in effect asked
(fixed-day times, and each N-days-a-week item's share), what the logs did of it (capped per day as tally_parts
caps it), the entry count and the pain sums. Readers sum rows (`tally_days`), which gives tally_parts' figures.

When a row is used:
- it is not `stale` and its `plan_key` is the fingerprint of the patient's live routine versions now. Routine
  changes need no hook: a new version, an archived routine or moved dates (a new content hash) change it.
- Every write of a log or a texted pain score calls `touch(patient, days)` in its own transaction: it bumps the
  day's `gen` and marks it stale, inserting a stale row where there is none.
- A reader works out the days it lacks from logs and routines, then stores them: an UPDATE only where `gen` is
  still what it read, an INSERT only where there is still no row. A reader that read the logs before a write
  committed therefore never stores its figures as fresh: the write's bump makes its UPDATE match nothing, or
  its row makes the INSERT do nothing, and the next reader works the day out again.

Only patients with a routine running in their span are kept: for the others nothing is due and their few
logs are read directly. The rows are written in the reader's transaction, committed with its audit record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache, lru_cache

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hep.adherence.metrics import (
    NO_PLAN,
    DayLogs,
    DayPlan,
    Tally,
    add_texted_pain_by_patient,
    day_logs_by_patient,
    tally_of,
)
from hep.adherence.models import AdherenceDay
from hep.adherence.spans import plans_over
from hep.dbtypes import among, plain_rows
from hep.extensions import db
from hep.programs.compiled import live_schedules
from hep.programs.models import Routine, RoutineVersion
from hep.programs.schedule import Key

# A kept day is a tuple in the order of the table's columns, as _rows_statement reads it: the stored rows are used
# as the driver returns them (a report reads hundreds of thousands), and a day worked out is built the same way.
COLUMNS = (
    "patient_id",
    "local_date",
    "gen",
    "stale",
    "plan_key",
    "fixed_due",
    "fixed_done",
    "flexible",  # JSON list of [exercise id, side, share of the week's times, done up to the day's times], or ""
    "entries",
    "pain_before_sum",
    "pain_before_n",
    "pain_after_sum",
    "pain_after_n",
    "pain_texted_sum",
    "pain_texted_n",
)
_GEN, _STALE, _KEY, _DUE, _DONE, _FLEX, _ENTRIES = 2, 3, 4, 5, 6, 7, 8
_VALUES = COLUMNS[_KEY:]  # what a reader stores
DaySum = tuple  # one kept day, in COLUMNS order


def day_sum(patient_id: int, day: date, plan: DayPlan, logs: DayLogs | None, *, plan_key: str = "") -> DaySum:
    """What a day's plan asked and its logs did of it, as a kept day (fresh, generation 0)."""
    flexible = plan.flexible
    if logs is None:
        flex = _flex_text(tuple((key, share, 0.0) for key, _times, share in flexible)) if flexible else ""
        return (patient_id, day, 0, False, plan_key, float(plan.fixed_due), 0.0, flex, 0, 0.0, 0, 0.0, 0, 0.0, 0)
    credit = logs.credit
    done = 0.0
    for key, times in plan.fixed:
        got = credit.get(key)
        if got:
            done += got if got <= times else times
    flex = (
        _flex_text(tuple((key, share, min(credit.get(key, 0.0), times)) for key, times, share in flexible))
        if flexible
        else ""
    )
    (pb, pb_n), (pa, pa_n), (pt, pt_n) = logs.pain_before, logs.pain_after, logs.pain_texted
    return (
        patient_id,
        day,
        0,
        False,
        plan_key,
        float(plan.fixed_due),
        done,
        flex,
        logs.entries,
        pb,
        pb_n,
        pa,
        pa_n,
        pt,
        pt_n,
    )


def _flex_text(flexible: tuple[tuple[Key, float, float], ...]) -> str:
    return json.dumps([[key[0], key[1], share, got] for key, share, got in flexible])


@lru_cache(maxsize=8192)
def flexible_of(text: str) -> tuple[tuple[Key, float, float], ...]:
    """A kept day's flexible items: (key, share of the week's times, done up to the day's times) each."""
    return tuple(((exercise_id, side), share, got) for exercise_id, side, share, got in json.loads(text))


def asks(day: DaySum) -> bool:
    """Something was in effect that day."""
    return bool(day[_DUE] or day[_FLEX])


def tally_days(parts: list[list[date]], days: Mapping[date, DaySum]) -> tuple[Tally, list[Tally]]:
    """`metrics.tally_parts` from kept days: (the whole's Tally, [each part's Tally]), the same figures (up to
    the last digit of a float: the whole is the parts' sums added, not the days')."""
    w_due = w_done = w_pb = w_pa = w_pt = 0.0
    w_entries = w_pb_n = w_pa_n = w_pt_n = 0
    w_flex_due: dict[Key, float] = {}
    w_flex_done: dict[Key, float] = {}
    tallies = []
    get = days.get
    # Locals, not an object's attributes: this runs once per patient-day of a report.
    for part in parts:
        due = done = pb = pa = pt = 0.0
        entries = pb_n = pa_n = pt_n = 0
        flex_due: dict[Key, float] = {}
        flex_done: dict[Key, float] = {}
        for day in part:
            row = get(day)
            if row is None:
                continue
            due += row[5]
            done += row[6]
            if row[7]:
                for key, share, got in flexible_of(row[7]):
                    flex_due[key] = flex_due.get(key, 0.0) + share
                    if got:
                        flex_done[key] = flex_done.get(key, 0.0) + got
            if row[8] or row[14]:
                entries += row[8]
                pb, pb_n, pa, pa_n = pb + row[9], pb_n + row[10], pa + row[11], pa_n + row[12]
                pt, pt_n = pt + row[13], pt_n + row[14]
        tallies.append(tally_of(due, done, flex_due, flex_done, (pb, pb_n), (pa, pa_n), (pt, pt_n), entries))
        w_due, w_done, w_entries = w_due + due, w_done + done, w_entries + entries
        w_pb, w_pb_n, w_pa, w_pa_n, w_pt, w_pt_n = (
            w_pb + pb,
            w_pb_n + pb_n,
            w_pa + pa,
            w_pa_n + pa_n,
            w_pt + pt,
            w_pt_n + pt_n,
        )
        for key, value in flex_due.items():
            w_flex_due[key] = w_flex_due.get(key, 0.0) + value
        for key, value in flex_done.items():
            w_flex_done[key] = w_flex_done.get(key, 0.0) + value
    whole = tally_of(w_due, w_done, w_flex_due, w_flex_done, (w_pb, w_pb_n), (w_pa, w_pa_n), (w_pt, w_pt_n), w_entries)
    return whole, tallies


def _insert():
    return (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(AdherenceDay.__table__)


def touch(patient_id: int, days: Iterable[date]) -> None:
    """Mark these days of the patient as changed (their logs or texted pain), in the caller's transaction."""
    wanted = sorted(set(days))  # one order for every writer: two writers of the same days cannot deadlock
    if not wanted:
        return
    statement = _insert()
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["patient_id", "local_date"], set_={"gen": AdherenceDay.__table__.c.gen + 1, "stale": True}
        ),
        [_stale_row(patient_id, day) for day in wanted],
    )


def _stale_row(patient_id: int, day: date) -> dict:
    return dict(zip(COLUMNS, (patient_id, day, 1, True, "", 0.0, 0.0, "", 0, 0.0, 0, 0.0, 0, 0.0, 0), strict=True))


@cache
def _versions_statement(dialect_name: str) -> Select:
    return (
        select(
            Routine.patient_id,
            RoutineVersion.id,
            RoutineVersion.content_hash,
            RoutineVersion.start_date,
            RoutineVersion.end_date,
        )
        .join(Routine, Routine.id == RoutineVersion.routine_id)
        .where(among(Routine.patient_id, "patient_ids", dialect_name), Routine.archived_at.is_(None))
        .order_by(Routine.patient_id, RoutineVersion.id)
    )


@cache
def _rows_statement(dialect_name: str) -> Select:
    c = AdherenceDay.__table__.c
    return select(*(c[name] for name in COLUMNS)).where(
        among(c.patient_id, "patient_ids", dialect_name), c.local_date.between(bindparam("start"), bindparam("end"))
    )


@cache
def _store_statement() -> object:
    d = AdherenceDay.__table__.c
    return (
        update(AdherenceDay.__table__)
        .where(
            and_(
                d.patient_id == bindparam("b_patient"), d.local_date == bindparam("b_day"), d.gen == bindparam("b_gen")
            )
        )
        .values(
            stale=False,
            **{name: bindparam(f"v_{name}") for name in _VALUES},
        )
    )


def _fingerprint(pairs: list[tuple[int, str]]) -> str:
    """A stable 16-character digest of a patient's live routine versions (id and content hash of each)."""
    return hashlib.blake2b(";".join(f"{vid}:{h}" for vid, h in pairs).encode(), digest_size=8).hexdigest()


def closed_days(spans: Mapping[int, list[date]]) -> dict[int, dict[date, DaySum]]:
    """Each patient's kept days over their span (consecutive days): every day for a patient with a routine running
    in it, the days with logs or texted pain for the others. Days it lacks are worked out and stored."""
    if not spans:
        return {}
    dialect_name = db.engine.dialect.name
    ids = list(spans)
    start = min(span[0] for span in spans.values())
    end = max(span[-1] for span in spans.values())
    versions: dict[int, list[tuple[int, str]]] = {}
    running: set[int] = set()
    for pid, vid, content_hash, first, last in plain_rows(_versions_statement(dialect_name), {"patient_ids": ids}):
        versions.setdefault(pid, []).append((vid, content_hash))
        span = spans[pid]
        if first <= span[-1] and (last is None or last >= span[0]):
            running.add(pid)
    result: dict[int, dict[date, DaySum]] = {pid: {} for pid in ids}
    if running:
        params = {"patient_ids": sorted(running), "start": start, "end": end}
        for row in plain_rows(_rows_statement(dialect_name), params):
            result[row[0]][row[1]] = row
    keys = {pid: _fingerprint(versions[pid]) for pid in running}
    lacking: dict[int, list[tuple[date, int | None]]] = {}  # patient: (day, gen read, or None: no row)
    for pid in running:
        mine, key = result[pid], keys[pid]
        for day in spans[pid]:
            row = mine.get(day)
            if row is None or row[_STALE] or row[_KEY] != key:
                lacking.setdefault(pid, []).append((day, None if row is None else row[_GEN]))
    if lacking:
        _work_out(lacking, spans, keys, result)
    others = [pid for pid in ids if pid not in running]
    if others:
        for pid, days in _logs(others, start, end).items():
            first, last = spans[pid][0], spans[pid][-1]
            result[pid] = {
                day: day_sum(pid, day, NO_PLAN, found) for day, found in days.items() if first <= day <= last
            }
    return result


def _logs(ids: list[int], start: date, end: date) -> dict[int, dict[date, DayLogs]]:
    logs = day_logs_by_patient(ids, start, end)
    add_texted_pain_by_patient(logs, ids, start, end)
    return logs


def _work_out(
    lacking: dict[int, list[tuple[date, int | None]]],
    spans: Mapping[int, list[date]],
    keys: dict[int, str],
    result: dict[int, dict[date, DaySum]],
) -> None:
    """Work out the lacking days from logs and routines, into `result`, and store them (see the module's doc)."""
    ids = sorted(lacking)
    start = min(days[0][0] for days in lacking.values())
    end = max(days[-1][0] for days in lacking.values())
    routines = live_schedules(ids, start)
    logs = _logs(ids, start, end)
    shared: dict = {}
    updates, inserts = [], []
    for pid in ids:
        wanted = lacking[pid]
        span = [day for day in spans[pid] if wanted[0][0] <= day <= wanted[-1][0]]
        plans = plans_over(routines.get(pid, []), span, shared)
        own = logs.get(pid, {})
        for day, gen in wanted:
            found = result[pid][day] = day_sum(pid, day, plans[day], own.get(day), plan_key=keys[pid])
            if gen is None:
                inserts.append(dict(zip(COLUMNS, found, strict=True)))
            else:
                updates.append(
                    {"b_patient": pid, "b_day": day, "b_gen": gen}
                    | {f"v_{name}": value for name, value in zip(_VALUES, found[_KEY:], strict=True)}
                )
    if updates:
        db.session.execute(_store_statement(), updates)
    if inserts:
        db.session.execute(_insert().on_conflict_do_nothing(index_elements=["patient_id", "local_date"]), inserts)
