"""What a patient's routines ask of each day of a span, worked out once per stretch and weekday.

For bulk readers (the clinic report, the risk list, the kept day summaries): `schedule.expected_on` per day
gives the same, at a cost per day and item.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

from hep.adherence.metrics import DayPlan
from hep.programs.compiled import LiveRoutine
from hep.programs.schedule import Expected, expected_of, items_on

T = TypeVar("T")


def _boundaries(routines: list[LiveRoutine]) -> set[date]:
    """Days on which what is in effect may change: a version takes over, a routine starts or ends, a phase starts."""
    days = set()
    for routine in routines:
        for version in routine.versions:
            days.add(version.effective_from)
            days.add(version.start_date)
            if version.end_date is not None:
                days.add(version.end_date + timedelta(days=1))
            days.update(phase.start_date for phase in version.phases)
    return days


def _schedule_of(in_effect: tuple) -> tuple:
    """What of a (routine, item) in effect decides what it asks of a day (all that schedule.expected_of reads)."""
    item = in_effect[1]
    return (item.exercise_id, item.side, item.times_per_day, item.days_per_week, item.weekdays)


def _over(
    routines: list[LiveRoutine], span: list[date], make: Callable[[list[Expected]], T], shared: dict | None = None
) -> dict[date, T]:
    """make(`schedule.expected_on(routines, day)`) for each day of a span of consecutive days.

    What is in effect only changes on a boundary day and what is due only with the weekday, so each
    (stretch between boundaries, weekday) is worked out once and shared by its days. With `shared` (a dict
    kept across patients, or across the days of one call), stretches whose items
    that ask the same (_schedule_of) share the work too: what is due depends on nothing else.
    """
    boundaries = _boundaries(routines)
    result: dict[date, T] = {}
    in_effect: list = []
    by_weekday: dict[int, T] = {}
    for n, day in enumerate(span):
        if n == 0 or day in boundaries:
            in_effect = items_on(routines, day)
            by_weekday = {} if shared is None else shared.setdefault(tuple(map(_schedule_of, in_effect)), {})
        weekday = day.weekday()
        if weekday not in by_weekday:
            by_weekday[weekday] = make(expected_of(in_effect, day))
        result[day] = by_weekday[weekday]
    return result


def expected_over(routines: list[LiveRoutine], span: list[date]) -> dict[date, list[Expected]]:
    """`schedule.expected_on(routines, day)` for each day of a span of consecutive days."""
    return _over(routines, span, list)


def plans_over(routines: list[LiveRoutine], span: list[date], shared: dict | None = None) -> dict[date, DayPlan]:
    """expected_over's lists as DayPlans, for `metrics.tally_parts` (`shared`: see _over)."""
    return _over(routines, span, DayPlan.of, shared)
