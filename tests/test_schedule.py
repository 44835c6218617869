"""What is due on a day (hep/programs/schedule.py), against a brute-force reading of the prescription.

The brute force reads the rules as the README states them, day by day and without shortcuts: the
newest version saved by that day governs it (the first version governs earlier days); inside the
routine's dates, the latest phase that has begun is in effect; a fixed-day item is due on its
weekdays (or every day); an item set to N days a week is due until N days of its Monday-to-Sunday
week have an entry, and stays due on a day that has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hep.programs import schedule

FIRST = date(2026, 1, 5)  # a Monday
DAYS = 42


@dataclass(frozen=True)
class Item(schedule.WeeklySchedule):
    id: int
    exercise_id: int
    side: str
    times_per_day: int
    days_per_week: int | None
    weekdays: tuple[str, ...] | None


@dataclass(frozen=True)
class Phase:
    start_date: date
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Version:
    number: int
    effective_from: date
    start_date: date
    end_date: date | None
    phases: tuple[Phase, ...]


@dataclass(frozen=True)
class Routine:
    id: int
    versions: tuple[Version, ...]


def day_in_range(n: int) -> date:
    return FIRST + timedelta(days=n)


@st.composite
def items(draw, ids):
    fixed_days = draw(st.booleans())
    weekdays = None
    days_per_week = None
    if fixed_days:
        weekdays = tuple(d for d in schedule.WEEKDAYS if draw(st.booleans())) or ("mon",)
    else:
        days_per_week = draw(st.integers(1, 7))
    return Item(
        id=draw(ids),
        exercise_id=draw(st.integers(1, 4)),
        side=draw(st.sampled_from(["left", "right", "both"])),
        times_per_day=draw(st.integers(1, 3)),
        days_per_week=days_per_week,
        weekdays=weekdays,
    )


@st.composite
def routines(draw):
    counter = iter(range(1, 10_000))
    ids = st.builds(lambda: next(counter))
    result = []
    for routine_id in range(1, draw(st.integers(1, 3)) + 1):
        versions = []
        effective = day_in_range(draw(st.integers(0, DAYS)))
        for number in range(1, draw(st.integers(1, 3)) + 1):
            start = day_in_range(draw(st.integers(0, DAYS)))
            end = start + timedelta(days=draw(st.integers(0, DAYS))) if draw(st.booleans()) else None
            offsets = sorted(draw(st.lists(st.integers(0, 20), min_size=1, max_size=3)))
            phases = tuple(
                Phase(start + timedelta(days=o), tuple(draw(st.lists(items(ids), min_size=0, max_size=3))))
                for o in offsets
            )
            versions.append(Version(number, effective, start, end, phases))
            effective += timedelta(days=draw(st.integers(0, 10)))  # later versions are saved later
        result.append(Routine(routine_id, tuple(versions)))
    return result


@st.composite
def credits(draw):
    """Logged credit per day: some days have entries for some (exercise, side) keys."""
    found = {}
    for n in range(DAYS + 7):
        if draw(st.integers(0, 3)) == 0:
            keys = draw(st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["left", "right", "both"])), max_size=3))
            found[day_in_range(n)] = {key: float(draw(st.integers(1, 3))) for key in keys}
    return found


# --- the brute force -----------------------------------------------------------------------------


def brute_version(routine: Routine, day: date) -> Version:
    saved = [v for v in routine.versions if v.effective_from <= day]
    return max(saved, key=lambda v: v.number) if saved else min(routine.versions, key=lambda v: v.number)


def brute_phase(version: Version, day: date) -> Phase | None:
    if not (version.start_date <= day and (version.end_date is None or day <= version.end_date)):
        return None
    begun = [(p.start_date, n, p) for n, p in enumerate(version.phases) if p.start_date <= day]
    return max(begun, key=lambda t: (t[0], t[1]))[2] if begun else None


def brute_in_effect(routines: list[Routine], day: date) -> list[tuple[Routine, Item]]:
    found = []
    for routine in routines:
        phase = brute_phase(brute_version(routine, day), day)
        found.extend((routine, i) for i in (phase.items if phase else ()))
    return found


def brute_due(routines: list[Routine], day: date, credit: dict) -> list[tuple[Routine, Item]]:
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
    monday = day - timedelta(days=day.weekday())
    week = [monday + timedelta(days=n) for n in range((day - monday).days + 1)]
    due = []
    for routine, i in brute_in_effect(routines, day):
        key = (i.exercise_id, i.side)
        if i.weekdays is not None:
            if weekday in i.weekdays:
                due.append((routine, i))
        elif (i.days_per_week or 7) == 7:
            due.append((routine, i))
        else:
            days_with_entries = {d for d in week if credit.get(d, {}).get(key, 0) > 0}
            if day in days_with_entries or len(days_with_entries) < i.days_per_week:
                due.append((routine, i))
    return due


# --- the properties ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(routines(), st.integers(0, DAYS + 7))
def test_items_in_effect_match_a_day_by_day_reading(routines, n):
    day = day_in_range(n)
    assert schedule.items_on(routines, day) == brute_in_effect(routines, day)


@settings(max_examples=60, deadline=None)
@given(routines(), credits(), st.integers(0, DAYS + 7))
def test_what_is_due_matches_a_day_by_day_reading(routines, credit, n):
    day = day_in_range(n)
    assert schedule.due_on(routines, day, credit) == brute_due(routines, day, credit)


@settings(max_examples=40, deadline=None)
@given(routines(), st.integers(0, DAYS + 7))
def test_expected_is_every_fixed_item_on_its_days_and_every_flexible_item_at_its_share(routines, n):
    day = day_in_range(n)
    expected = schedule.expected_on(routines, day)
    fixed = [(i.exercise_id, i.side) for _r, i in brute_due(routines, day, {}) if not i.flexible]
    assert [e.key for e in expected if e.flexible_days is None] == fixed
    flexible = [(i.exercise_id, i.side, i.days_per_week) for _r, i in brute_in_effect(routines, day) if i.flexible]
    assert [(*e.key, e.flexible_days) for e in expected if e.flexible_days is not None] == flexible


@settings(max_examples=40, deadline=None)
@given(routines(), credits(), st.integers(0, DAYS + 7))
def test_a_day_is_all_done_exactly_when_every_due_item_has_its_times(routines, credit, n):
    day = day_in_range(n)
    due = schedule.due_on(routines, day, credit)
    today = credit.get(day, {})
    assert schedule.all_done(due, today) == all(
        today.get((i.exercise_id, i.side), 0) >= i.times_per_day for _r, i in due
    )


def test_a_flexible_item_is_due_until_its_days_are_done_and_on_a_day_already_begun():
    item = Item(1, 1, "both", 1, 3, None)
    routine = [Routine(1, (Version(1, FIRST, FIRST, None, (Phase(FIRST, (item,)),)),))]
    done = {FIRST + timedelta(days=n): {(1, "both"): 1.0} for n in range(3)}  # Monday to Wednesday
    assert schedule.due_on(routine, FIRST + timedelta(days=2), done) == [(routine[0], item)]  # Wednesday: begun
    assert schedule.due_on(routine, FIRST + timedelta(days=3), done) == []  # Thursday: the week's 3 are done
    assert schedule.due_on(routine, FIRST + timedelta(days=7), done) == [(routine[0], item)]  # a new week
