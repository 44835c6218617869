"""The streak: days in a row on which nothing the prescription required was missed (README "Streak").

A day breaks the streak only when it missed something it required: a fixed-day item not done its
times, or an N-days-a-week item on a day its week had no day to spare. Days that required something
or have an entry count; other days neither break nor count; today never breaks it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from hep.adherence.metrics import DayLogs, streak
from hep.extensions import db
from hep.programs import schedule
from hep.programs.models import Routine
from tests.factories import item, routine_body
from tests.test_schedule import FIRST, Item, Phase, Version, credits, routines
from tests.test_schedule import Routine as PlainRoutine

MONDAY = date(2026, 11, 16)
BOTH = "both"


def plain(*items: Item, start: date = FIRST) -> list[PlainRoutine]:
    """One routine of one version and one phase, from `start` on."""
    return [PlainRoutine(1, (Version(1, start, start, None, (Phase(start, tuple(items)),)),))]


def fixed(exercise_id: int, *weekdays: str, times: int = 1) -> Item:
    return Item(exercise_id, exercise_id, BOTH, times, None, tuple(weekdays) if weekdays else None)


def flexible(exercise_id: int, days: int) -> Item:
    return Item(exercise_id, exercise_id, BOTH, 1, days, None)


def logs_on(entries: dict[date, list[int]]) -> dict[date, DayLogs]:
    """A day's logs as the metrics read them: one full occurrence of each exercise listed."""
    return {day: DayLogs(credit={(e, BOTH): 1.0 for e in ids}) for day, ids in entries.items()}


def day(n: int) -> date:
    return FIRST + timedelta(days=n)  # FIRST is a Monday


# --- one behaviour each ----------------------------------------------------------------------------


def test_a_day_without_a_flexible_item_does_not_break_the_streak_while_its_week_can_still_be_met():
    prescription = plain(fixed(1), flexible(2, 3))
    done = logs_on({day(0): [1, 2], day(1): [1], day(2): [1, 2], day(3): [1]})  # Mon to Thu
    assert streak(day(3), prescription, done, 120) == 4


def test_the_day_a_week_can_no_longer_make_its_n_days_breaks_the_streak():
    prescription = plain(fixed(1), flexible(2, 3))
    done = logs_on({day(n): [1] for n in range(6)})  # the daily item Mon to Sat, the 3-day item never
    assert streak(day(3), prescription, done, 120) == 4  # Thursday: Fri, Sat and Sun can still make 3
    assert streak(day(4), prescription, done, 120) == 4  # Friday needs it, but today is still under way
    assert streak(day(5), prescription, done, 120) == 0  # Saturday: Friday had no day to spare and missed it


def test_a_fixed_day_item_not_done_breaks_the_streak():
    prescription = plain(fixed(1, "mon", "wed", "fri"))
    done = logs_on({day(0): [1], day(4): [1]})  # Monday and Friday, not Wednesday
    assert streak(day(4), prescription, done, 120) == 1


def test_a_fixed_day_item_done_fewer_than_its_times_breaks_the_streak():
    prescription = plain(fixed(1, times=2))
    done = {day(0): DayLogs(credit={(1, BOTH): 2.0}), day(1): DayLogs(credit={(1, BOTH): 1.0})}
    assert streak(day(2), prescription, done, 120) == 0


def test_only_days_with_an_entry_count_for_a_flexible_only_routine():
    prescription = plain(flexible(1, 3))
    done = logs_on({day(0): [1], day(2): [1], day(4): [1]})  # Mon, Wed, Fri
    assert streak(day(6), prescription, done, 120) == 3  # Sunday: rest days neither break nor count


def test_a_week_met_on_its_last_days_keeps_the_streak():
    prescription = plain(flexible(1, 3))
    done = logs_on({day(4): [1], day(5): [1], day(6): [1]})  # Fri, Sat, Sun
    assert streak(day(6), prescription, done, 120) == 3


def test_today_counts_once_done_and_never_breaks_the_streak():
    prescription = plain(fixed(1))
    done = logs_on({day(0): [1], day(1): [1]})
    assert streak(day(2), prescription, done, 120) == 2  # Wednesday, not done yet
    assert streak(day(2), prescription, {**done, **logs_on({day(2): [1]})}, 120) == 3


def test_an_entry_on_a_day_a_fixed_item_is_not_due_counts_nothing():
    prescription = plain(fixed(1, "mon"))
    done = logs_on({day(0): [1], day(1): [1]})  # Monday, and an extra go on Tuesday
    assert streak(day(2), prescription, done, 120) == 1


def test_a_short_first_week_needs_every_day_it_has():
    prescription = plain(flexible(1, 3), start=day(4))  # starts on a Friday: 3 days left for 3 days a week
    assert schedule.required_on(prescription, day(4), {}) == [
        (prescription[0], prescription[0].versions[0].phases[0].items[0])
    ]
    done = logs_on({day(4): [1], day(6): [1]})  # Friday and Sunday, not Saturday
    assert streak(day(6), prescription, done, 120) == 1


# --- properties ------------------------------------------------------------------------------------


@st.composite
def met_weeks(draw):
    """One routine of distinct exercises over three weeks, and logs that meet it: every fixed item on
    each of its days, and each flexible item on any N days of each week."""
    counter = iter(range(1, 100))
    prescription = []
    for exercise_id in range(1, draw(st.integers(1, 4)) + 1):
        if draw(st.booleans()):
            weekdays = tuple(d for d in schedule.WEEKDAYS if draw(st.booleans())) or ("mon",)
            prescription.append(Item(next(counter), exercise_id, BOTH, 1, None, weekdays))
        else:
            prescription.append(Item(next(counter), exercise_id, BOTH, 1, draw(st.integers(1, 6)), None))
    found: dict[date, set[int]] = {day(n): set() for n in range(21)}
    for it in prescription:
        for week in range(3):
            days = [day(7 * week + n) for n in range(7)]
            if it.flexible:
                chosen = draw(
                    st.lists(st.sampled_from(days), min_size=it.days_per_week, max_size=it.days_per_week, unique=True)
                )
            else:
                chosen = [d for d in days if it.fixed_on(d)]
            for d in chosen:
                found[d].add(it.exercise_id)
    return plain(*prescription), {d: list(ids) for d, ids in found.items() if ids}


@settings(max_examples=80, deadline=None)
@given(met_weeks())
def test_a_prescription_met_on_any_n_days_a_week_never_misses_a_day(case):
    prescription, entries = case
    done = logs_on(entries)
    credit = {d: v.credit for d, v in done.items()}
    assert all(schedule.missed_on(prescription, day(n), credit) == [] for n in range(21))
    # Every day that required something or has an entry counts, from the first Monday on.
    counted = sum(1 for n in range(21) if day(n) in entries or schedule.required_on(prescription, day(n), credit))
    assert streak(day(20), prescription, done, 120) == counted


@settings(max_examples=60, deadline=None)
@given(routines(), credits(), st.integers(0, 48), st.integers(1, 4), st.sampled_from(["left", "right", "both"]))
def test_logging_more_never_shortens_the_streak(prescription, credit, n, exercise_id, side):
    today = day(48)
    before = {d: DayLogs(credit=dict(c)) for d, c in credit.items()}
    more = {d: DayLogs(credit=dict(c)) for d, c in credit.items()}
    extra = more.setdefault(day(n), DayLogs(credit={}))
    extra.credit[(exercise_id, side)] = extra.credit.get((exercise_id, side), 0.0) + 1.0
    assert streak(today, prescription, more, 120) >= streak(today, prescription, before, 120)


# --- through the API, on both databases ----------------------------------------------------------


@pytest.fixture
def patient(make):
    for slug in ("daily", "four-days"):
        make.exercise(slug=slug)
    patient = make.patient(timezone="Europe/London")
    body = routine_body(MONDAY - timedelta(days=7), items=[item("daily"), item("four-days", days_per_week=4)])
    make.routine(patient, body, now=datetime(2026, 11, 1, tzinfo=UTC))
    return patient


def test_a_week_at_91_percent_shows_its_streak_not_zero(client, make, patient):
    """The report that started it: 91 % this week, streak 0, from a 4-days-a-week item on a rest day."""
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
    ids = {i.slug: i.id for i in routine.current.phases[0].items}
    zone = ZoneInfo("Europe/London")
    for n in range(1, 7):  # the daily item Tuesday to Sunday (Monday missed)
        make.log(patient, ids["daily"], datetime.combine(MONDAY + timedelta(days=n), time(8), zone))
    for n in range(1, 5):  # the 4-days-a-week item Tuesday to Friday; none on Saturday or Sunday
        make.log(patient, ids["four-days"], datetime.combine(MONDAY + timedelta(days=n), time(9), zone))
    sunday_evening = datetime.combine(MONDAY + timedelta(days=6), time(20), zone)
    with time_machine.travel(sunday_evening, tick=False):
        view = client.get(f"/api/v1/patients/{patient.id}/adherence?days=7", headers=make.headers(patient)).json
    assert view["adherence_this_week"] == pytest.approx(10 / 11, abs=0.001)
    assert view["streak"] == 6  # Tuesday to Sunday; Monday missed the daily item
