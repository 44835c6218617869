"""Routine versions as plain frozen values, cached per process, for the patient app's hot reads.

A routine version never changes once written (an edit adds a version), so its phases and items can
be read from the database once per process and reused for every request after that. What can change
(which version governs today, whether the routine is archived, the exercises' names and tags) is
read fresh on every request, with narrow column queries rather than ORM objects.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import NamedTuple

from sqlalchemy import Select, Text, cast, select

from hep.dbtypes import among, plain_rows
from hep.extensions import db
from hep.library.models import Exercise
from hep.programs.models import Routine, RoutineItem, RoutinePhase, RoutineVersion
from hep.programs.schedule import WeeklySchedule, version_on

# Versions kept per process (HEP_VERSION_CACHE_SIZE): size it to the routines of the patients who open the app
# in a day, or most of an evening's requests compile their versions again (benchmarks/RESULTS-rush.md).
CACHE_SIZE = int(os.environ.get("HEP_VERSION_CACHE_SIZE", 20_000))


@dataclass(frozen=True, slots=True)
class Item(WeeklySchedule):
    id: int
    exercise_id: int
    sets: int
    reps: int | None
    hold_seconds: int | None
    rest_seconds: int
    side: str
    load: str | None
    times_per_day: int
    days_per_week: int | None
    weekdays: tuple[str, ...] | None
    notes: str | None
    rep_max: int | None = None
    progression: str | None = None


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    start_date: date
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Version:
    id: int
    routine_id: int
    effective_from: date
    start_date: date
    end_date: date | None
    phases: tuple[Phase, ...]


class _Versions:
    """A bounded, thread-safe LRU of compiled versions, by (id, content hash): the hash guards against a
    restored database that reuses an id for other content."""

    def __init__(self, size: int) -> None:
        self.size, self._lock, self._data = size, threading.Lock(), OrderedDict()

    def get_many(self, keys: list[tuple[int, str]]) -> dict[int, Version]:
        with self._lock:
            found = {k: self._data[k] for k in keys if k in self._data}
            for k in found:
                self._data.move_to_end(k)
            return {k[0]: v for k, v in found.items()}

    def put_many(self, versions: list[Version], hashes: dict[int, str]) -> None:
        with self._lock:
            for version in versions:
                self._data[(version.id, hashes[version.id])] = version
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


versions_cache = _Versions(CACHE_SIZE)


@cache
def _load_statements(dialect_name: str) -> tuple[Select, Select, Select]:
    items = (
        select(
            RoutineItem.phase_id,
            RoutineItem.id,
            RoutineItem.exercise_id,
            RoutineItem.sets,
            RoutineItem.reps,
            RoutineItem.hold_seconds,
            RoutineItem.rest_seconds,
            RoutineItem.side,
            RoutineItem.load,
            RoutineItem.times_per_day,
            RoutineItem.days_per_week,
            RoutineItem.weekdays,
            RoutineItem.notes,
            RoutineItem.rep_max,
            RoutineItem.progression,
        )
        .join(RoutinePhase, RoutinePhase.id == RoutineItem.phase_id)
        .where(among(RoutinePhase.version_id, "ids", dialect_name))
        .order_by(RoutineItem.phase_id, RoutineItem.position)
    )
    phases = (
        select(RoutinePhase.version_id, RoutinePhase.id, RoutinePhase.name, RoutinePhase.start_date)
        .where(among(RoutinePhase.version_id, "ids", dialect_name))
        .order_by(RoutinePhase.version_id, RoutinePhase.position)
    )
    versions = select(
        RoutineVersion.id,
        RoutineVersion.routine_id,
        RoutineVersion.effective_from,
        RoutineVersion.start_date,
        RoutineVersion.end_date,
    ).where(among(RoutineVersion.id, "ids", dialect_name))
    return items, phases, versions


def _load(ids: list[int]) -> list[Version]:
    """Compile versions from the database: three narrow queries, whatever their size."""
    items_query, phases_query, versions_query = _load_statements(db.engine.dialect.name)
    params = {"ids": list(ids)}
    items: dict[int, list[Item]] = {}
    for phase_id, *fields in db.session.execute(items_query, params):
        weekdays = tuple(fields[10]) if fields[10] is not None else None
        items.setdefault(phase_id, []).append(Item(*fields[:10], weekdays, *fields[11:]))
    phases: dict[int, list[Phase]] = {}
    for version_id, phase_id, name, start in db.session.execute(phases_query, params):
        phases.setdefault(version_id, []).append(Phase(name, start, tuple(items.get(phase_id, ()))))
    return [
        Version(vid, routine_id, effective, start, end, tuple(phases.get(vid, ())))
        for vid, routine_id, effective, start, end in db.session.execute(versions_query, params)
    ]


@dataclass(frozen=True, slots=True)
class LiveRoutine:
    """A routine that is not archived, with the versions that can govern from some day on (oldest first);
    what governs which day is hep/programs/schedule.py's."""

    id: int
    versions: tuple[Version, ...]


@cache
def _versions_statement(dialect_name: str) -> Select:
    return (
        select(
            Routine.patient_id,
            RoutineVersion.routine_id,
            RoutineVersion.id,
            RoutineVersion.content_hash,
            RoutineVersion.effective_from,
        )
        .join(Routine, Routine.id == RoutineVersion.routine_id)
        .where(among(Routine.patient_id, "patient_ids", dialect_name), Routine.archived_at.is_(None))
        .order_by(Routine.patient_id, RoutineVersion.routine_id, RoutineVersion.number)
    )


def _wanted(rows, patient_ids: list[int], since: date) -> dict[int, dict[int, list[tuple[date, int, str]]]]:
    """Per patient and live routine, (effective_from, version id, content hash) of each version that governs
    some day from `since` on, from _versions_statement's rows."""
    wanted: dict[int, dict[int, list[tuple[date, int, str]]]] = {pid: {} for pid in patient_ids}
    for patient_id, routine_id, version_id, content_hash, effective_from in rows:
        versions = wanted[patient_id].setdefault(routine_id, [])
        if versions and versions[-1][0] <= since and effective_from <= since:
            versions.pop()  # superseded before `since`: it never governs a day we look at
        versions.append((effective_from, version_id, content_hash))
    return wanted


def live_routines(patient_ids: list[int], since: date, *, remember: bool = True) -> dict[int, list[LiveRoutine]]:
    """Each patient's live routines, with every version that governs some day from `since` on.

    Bulk readers (the planner) pass remember=False: they use what is cached but do not fill the cache with
    thousands of versions, which would evict the ones the patients' apps read all day.
    """
    wanted = _wanted(
        db.session.execute(_versions_statement(db.engine.dialect.name), {"patient_ids": list(patient_ids)}),
        patient_ids,
        since,
    )
    keys = [(vid, h) for routines in wanted.values() for versions in routines.values() for _e, vid, h in versions]
    found = versions_cache.get_many(keys)
    missing = [k for k in keys if k[0] not in found]
    if missing:
        loaded = _load([k[0] for k in missing])
        if remember:
            versions_cache.put_many(loaded, dict(missing))
        found.update((v.id, v) for v in loaded)
    return {
        pid: [LiveRoutine(rid, tuple(found[vid] for _e, vid, _h in versions)) for rid, versions in routines.items()]
        for pid, routines in wanted.items()
    }


class _ScheduleFields(NamedTuple):
    exercise_id: int
    side: str
    times_per_day: int
    days_per_week: int | None
    weekdays: tuple[str, ...] | None


class ScheduleItem(_ScheduleFields, WeeklySchedule):
    """An item with only what says when it is due and how logs match it (hep/programs/schedule.py's fields)."""

    __slots__ = ()


@cache
def _schedule_statements(dialect_name: str) -> tuple[Select, Select]:
    items = (
        select(
            RoutineItem.phase_id,
            RoutineItem.exercise_id,
            RoutineItem.side,
            RoutineItem.times_per_day,
            RoutineItem.days_per_week,
            cast(RoutineItem.weekdays, Text),  # as written: the few distinct lists are parsed once each
        )
        .join(RoutinePhase, RoutinePhase.id == RoutineItem.phase_id)
        .where(among(RoutinePhase.version_id, "ids", dialect_name))
        .order_by(RoutineItem.phase_id, RoutineItem.position)
    )
    return items, _load_statements(dialect_name)[1]


@lru_cache(maxsize=1024)
def _weekdays(text: str | None) -> tuple[str, ...] | None:
    """A weekdays column's JSON text as the compiled item holds it."""
    found = json.loads(text) if text is not None else None
    return tuple(found) if found is not None else None


def live_schedules(patient_ids: list[int], since: date) -> dict[int, list[LiveRoutine]]:
    """`live_routines` for bulk readers that only ask what is due (the clinic report): versions whose items are
    ScheduleItems, read in four narrow queries and kept nowhere.

    Neither reads nor fills the per-process cache: a clinic's thousands of versions would not fit it and would
    evict the ones the patients' apps read all day; and only the scheduling columns are read.
    """
    dialect_name = db.engine.dialect.name
    wanted = _wanted(
        plain_rows(_versions_statement(dialect_name), {"patient_ids": list(patient_ids)}), patient_ids, since
    )
    ids = [vid for routines in wanted.values() for versions in routines.values() for _e, vid, _h in versions]
    items_query, phases_query = _schedule_statements(dialect_name)
    versions_query = _load_statements(dialect_name)[2]
    params = {"ids": ids}
    items: dict[int, list[ScheduleItem]] = {}
    for phase_id, exercise_id, side, times, days_per_week, weekdays in plain_rows(items_query, params):
        items.setdefault(phase_id, []).append(
            ScheduleItem(exercise_id, side, times, days_per_week, _weekdays(weekdays))
        )
    phases: dict[int, list[Phase]] = {}
    for version_id, phase_id, name, start in plain_rows(phases_query, params):
        phases.setdefault(version_id, []).append(Phase(name, start, tuple(items.get(phase_id, ()))))
    found = {
        vid: Version(vid, routine_id, effective, start, end, tuple(phases.get(vid, ())))
        for vid, routine_id, effective, start, end in plain_rows(versions_query, params)
    }
    return {
        pid: [LiveRoutine(rid, tuple(found[vid] for _e, vid, _h in versions)) for rid, versions in routines.items()]
        for pid, routines in wanted.items()
    }


def governing_versions(patient_id: int, day: date) -> list[Version]:
    """The version of each of the patient's live routines that governs `day`, in routine order."""
    return [version_on(routine, day) for routine in live_routines([patient_id], day)[patient_id]]


@cache
def _stamps_statement(dialect_name: str) -> Select:
    return select(Exercise.id, Exercise.updated_at, Exercise.archived_at).where(among(Exercise.id, "ids", dialect_name))


@dataclass(frozen=True, slots=True)
class _Stamp:
    updated_at: datetime
    archived_at: datetime | None


class Card(NamedTuple):
    """What the plan shows of an exercise: its summary as the API shows it, and its safety blocks' keys."""

    summary: dict
    safety: tuple[str, ...]


_cards: dict[tuple[int, _Stamp], Card] = {}
_cards_lock = threading.Lock()
_SUMMARY_FIELDS = (
    "slug",
    "name",
    "summary",
    "body_regions",
    "conditions",
    "category",
    "equipment",
    "position",
    "difficulty",
    "owner",
    "archived",
)


def exercise_cards(ids: set[int]) -> dict[int, Card]:
    """These exercises' summaries and safety keys; re-read only when an exercise changed (every content edit,
    safety included, moves updated_at)."""
    stamps = {
        i: _Stamp(updated, archived)
        for i, updated, archived in db.session.execute(_stamps_statement(db.engine.dialect.name), {"ids": list(ids)})
    }
    with _cards_lock:
        found = {i: _cards[(i, s)] for i, s in stamps.items() if (i, s) in _cards}
    missing = [i for i in stamps if i not in found]
    if missing:
        loaded = {
            exercise.id: Card({key: getattr(exercise, key) for key in _SUMMARY_FIELDS}, tuple(exercise.safety or ()))
            for exercise in db.session.scalars(select(Exercise).where(Exercise.id.in_(missing)))
        }
        with _cards_lock:
            if len(_cards) > CACHE_SIZE:
                _cards.clear()  # stale stamps pile up only as exercises are edited: rare
            for i, card in loaded.items():
                _cards[(i, stamps[i])] = card
        found.update(loaded)
    return found


def clear_caches() -> None:
    """Forget every compiled version and exercise summary (tests restore databases under a live app)."""
    versions_cache.clear()
    with _cards_lock:
        _cards.clear()
