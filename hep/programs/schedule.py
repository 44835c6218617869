"""What is due on a day: the one home of the rule, as pure functions on plain data.

Everything that asks "what does the prescription want of the patient on this day" calls these:
today's plan, adherence metrics, the risk list, the clinic report, the reminder planner and its
send-time checks, the DONE reply and the demo. They take routines as ORM rows or as the compiled
frozen values (hep/programs/compiled.py) alike: a routine has `id` and `versions` (oldest first,
each with `effective_from`, `start_date`, `end_date` and `phases`), a phase has `start_date` and
`items`, and an item has `exercise_id`, `side`, `times_per_day`, `days_per_week` and `weekdays`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Key = tuple[int, str]  # (exercise id, side): how a log is matched to what was due
Credit = Mapping[Key, float]  # a day's logged credit per key (see the README's "Credit")


class WeeklySchedule:
    """When an item is due, from its `weekdays` and `days_per_week`: mixed into the ORM item and the
    compiled one, so the rule is written once."""

    __slots__ = ()
    weekdays: Sequence[str] | None
    days_per_week: int | None

    @property
    def flexible(self) -> bool:
        """Done on any N days of the week, rather than on named or all days."""
        return self.weekdays is None and (self.days_per_week or 7) < 7

    def fixed_on(self, day: date) -> bool:
        """Due on this particular day (named weekdays, or every day)."""
        if self.weekdays is not None:
            return WEEKDAYS[day.weekday()] in self.weekdays
        return (self.days_per_week or 7) == 7


@dataclass(frozen=True)
class Expected:
    """What one item in effect asks of a day: `times` a day, every day or on any N days a week."""

    key: Key
    times: int
    flexible_days: int | None  # N for "any N days a week"; None when due on fixed days


def week_start(day: date) -> date:
    """The Monday of the day's week (weeks run Monday to Sunday in the patient's time zone)."""
    return day - timedelta(days=day.weekday())


def key_of(item: Any) -> Key:
    """How logs are matched to an item: its exercise and side."""
    return (item.exercise_id, item.side)


def version_on(routine: Any, day: date) -> Any:
    """The version that governs a day: the newest one effective by then (the first for earlier days)."""
    governing = routine.versions[0]
    for version in routine.versions:
        if version.effective_from <= day:
            governing = version
    return governing


def phase_on(version: Any, day: date) -> Any | None:
    """The phase in effect on a day (the last one that has started), if the version's routine runs then."""
    if day < version.start_date or (version.end_date is not None and day > version.end_date):
        return None
    current = None
    for phase in version.phases:
        if phase.start_date <= day:
            current = phase
    return current


def items_on(routines: Iterable[Any], day: date) -> list[tuple[Any, Any]]:
    """(routine, item) for every item in effect on a day (fixed or flexible) across these routines."""
    found = []
    for routine in routines:
        phase = phase_on(version_on(routine, day), day)
        if phase is not None:
            found.extend((routine, item) for item in phase.items)
    return found


def expected_of(in_effect: Iterable[tuple[Any, Any]], day: date) -> list[Expected]:
    """What these (routine, item) pairs in effect on a day ask of that day, for adherence: a fixed-day
    item only on its days; a flexible item every day, at N/7 of its times (see metrics.tally)."""
    found = []
    for _routine, item in in_effect:
        if item.flexible:
            found.append(Expected(key_of(item), item.times_per_day, item.days_per_week))
        elif item.fixed_on(day):
            found.append(Expected(key_of(item), item.times_per_day, None))
    return found


def expected_on(routines: Iterable[Any], day: date) -> list[Expected]:
    """What a patient's routines ask of them on a day, for adherence."""
    return expected_of(items_on(routines, day), day)


def due_on(routines: Iterable[Any], day: date, credit_by_day: Mapping[date, Credit]) -> list[tuple[Any, Any]]:
    """(routine, item) the patient is asked to do on `day`: what today's plan shows and reminders are for.

    A fixed-day item is due on its days. A flexible item (any N days a week) is due until N days of
    its week have an entry, and stays due on a day that already has one. `credit_by_day` holds the
    logs of the days of the week up to `day` (days without logs may be missing).
    """
    monday = week_start(day)
    week = [credit for logged, credit in credit_by_day.items() if monday <= logged <= day]
    today = credit_by_day.get(day, {})
    due = []
    for routine, item in items_on(routines, day):
        if item.flexible:
            key = key_of(item)
            if today.get(key, 0) > 0 or sum(1 for credit in week if credit.get(key, 0) > 0) < item.days_per_week:
                due.append((routine, item))
        elif item.fixed_on(day):
            due.append((routine, item))
    return due


def days_done(item: Any, day: date, credit_by_day: Mapping[date, Credit]) -> int:
    """On how many days of the item's week, up to `day`, the item has an entry."""
    monday, key = week_start(day), key_of(item)
    return sum(1 for logged, credit in credit_by_day.items() if monday <= logged <= day and credit.get(key, 0) > 0)


def required_on(routines: Iterable[Any], day: date, credit_by_day: Mapping[date, Credit]) -> list[tuple[Any, Any]]:
    """(routine, item) the day cannot do without, which is what breaks a streak when missed.

    A fixed-day item is required on its days. A flexible item (any N days a week) is required only on
    a day its week has none to spare: the days it is still in effect this week, this one included,
    are no more than the days it still needs (N less the days of the week before this one that have
    an entry). `credit_by_day` holds the logs of the days of the week before `day`.
    """
    routines = list(routines)
    monday = week_start(day)
    rest_of_week = [day + timedelta(days=n) for n in range(7 - day.weekday())]
    required = []
    for routine, item in items_on(routines, day):
        if not item.flexible:
            if item.fixed_on(day):
                required.append((routine, item))
            continue
        key = key_of(item)
        before = sum(1 for logged, credit in credit_by_day.items() if monday <= logged < day and credit.get(key, 0) > 0)
        left = sum(
            1 for later in rest_of_week if any(key_of(i) == key and i.flexible for _r, i in items_on(routines, later))
        )
        if 0 < item.days_per_week - before >= left:
            required.append((routine, item))
    return required


def missed_on(routines: Iterable[Any], day: date, credit_by_day: Mapping[date, Credit]) -> list[tuple[Any, Any]]:
    """The required items of a day (see required_on) that it did not get: a fixed-day item done fewer
    than its `times_per_day` times, or a flexible item with no entry that day."""
    today = credit_by_day.get(day, {})
    return [
        (routine, item)
        for routine, item in required_on(routines, day, credit_by_day)
        if today.get(key_of(item), 0) < (1e-9 if item.flexible else item.times_per_day - 1e-9)
    ]


def all_done(due: Iterable[tuple[Any, Any]], credit: Credit) -> bool:
    """Whether every due item has its `times_per_day` done in this day's credit."""
    return all(credit.get(key_of(item), 0) >= item.times_per_day - 1e-9 for _routine, item in due)
