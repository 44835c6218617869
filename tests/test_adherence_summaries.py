"""The kept day summaries (hep/adherence/summaries.py): the risk list and the clinic report read them, and after
every kind of write they answer what working everything out again from the logs and routines answers."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from hep.accounts.models import User
from hep.adherence import metrics, report, risk, summaries
from hep.adherence import service as adherence
from hep.adherence.models import AdherenceDay, AdherenceLog
from hep.extensions import db
from hep.programs import service as programs
from hep.programs.models import Routine
from hep.programs.schemas import RoutineInSchema
from hep.reminders import consent, inbound
from tests.factories import item, routine_body
from tests.test_adherence_report import _random_days

# Monday 30 November 2026, noon in London: the report's 14 days are Mon 16 - Sun 29 November.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WEEK1 = date(2026, 11, 16)
LONDON = ZoneInfo("Europe/London")
_sids = count(1)


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), LONDON)


def items_of(patient: User) -> dict[str, int]:
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id).order_by(Routine.id))
    return {i.slug: i.id for i in routine.current.phases[0].items}


@pytest.fixture
def world(make):
    """A physiotherapist with three patients, daily and 3-days-a-week items, two weeks of logs and texted pain."""
    for slug in ("daily", "flex", "extra"):
        make.exercise(slug=slug)
    physio = make.physio(name="Ann Physio")
    patients = []
    for n in range(3):
        p = make.patient(physio.clinic, physio, timezone="Europe/London", phone=f"+44740012345{n}")
        body = routine_body(WEEK1 - timedelta(days=14), items=[item("daily", sets=3), item("flex", days_per_week=3)])
        make.routine(p, body, now=datetime(2026, 11, 1, tzinfo=UTC))
        consent.grant(physio, p.id, "verbal", now=datetime(2026, 11, 1, tzinfo=UTC))
        ids = items_of(p)
        for back in range(1, 15):
            day = NOW.date() - timedelta(days=back)
            if (back + n) % 3:
                make.log(p, ids["daily"], at(day), sets_done=1 + back % 3, pain_before=back % 6, pain_after=n + 2)
            if back % (n + 2) == 0:
                make.log(p, ids["flex"], at(day, 18))
        patients.append(p)
    return physio, patients


def answers(physio: User) -> tuple[dict, list[dict]]:
    """The clinic report (14 days) and the risk list, as the kept days give them."""
    return (
        report.clinic_report(physio, days=14, physiotherapist_id=None, now=NOW),
        risk.risk_list(physio, None, now=NOW),
    )


def from_scratch(physio: User) -> tuple[dict, list[dict]]:
    """The same answers worked out again from the logs and routines alone (no kept day), leaving the kept days."""
    db.session.commit()
    db.session.execute(sa.delete(AdherenceDay))
    worked_out = answers(physio)
    db.session.rollback()
    return worked_out


def kept_rows() -> dict[tuple[int, date], AdherenceDay]:
    db.session.expire_all()
    return {(row.patient_id, row.local_date): row for row in db.session.scalars(sa.select(AdherenceDay))}


def read_and_keep(physio: User) -> tuple[dict, list[dict]]:
    result = answers(physio)
    db.session.commit()
    return result


def test_reading_keeps_a_fresh_row_for_every_day_of_a_patient_with_a_routine_running(make, world):
    physio, patients = world
    read_and_keep(physio)
    rows = kept_rows()
    days = metrics.days_between(WEEK1, NOW.date() - timedelta(days=1))
    assert set(rows) == {(p.id, day) for p in patients for day in days}
    assert not any(row.stale for row in rows.values())


def test_a_second_read_answers_from_the_kept_rows_the_same(make, world):
    physio, _patients = world
    first = read_and_keep(physio)
    assert answers(physio) == first == from_scratch(physio)


def test_a_patient_with_nothing_running_is_not_kept(make, world):
    physio, _patients = world
    idle = make.patient(physio.clinic, physio, timezone="Europe/London")
    read_and_keep(physio)
    assert not any(pid == idle.id for pid, _day in kept_rows())


def _log_a_past_day(make, patients):
    make.log(patients[0], items_of(patients[0])["daily"], at(WEEK1 + timedelta(days=2), 20), sets_done=3)


def _resend_a_log(make, patients):
    p = patients[0]
    entry_id = db.session.scalar(sa.select(AdherenceLog.id).where(AdherenceLog.patient_id == p.id).limit(1))
    log = db.session.get(AdherenceLog, entry_id)
    answer = make.log(p, log.routine_item_id, log.performed_at, id=log.id, sets_done=log.sets_done)
    assert answer["status"] in ("duplicate", "conflict")


def _first_log(patient: User) -> AdherenceLog:
    return db.session.scalar(
        sa.select(AdherenceLog)
        .where(AdherenceLog.patient_id == patient.id, AdherenceLog.deleted_at.is_(None))
        .order_by(AdherenceLog.local_date)
        .limit(1)
    )


def _move_a_log_to_another_day(make, patients):
    p = patients[1]
    log = _first_log(p)
    moved = {"performed_at": at(log.local_date + timedelta(days=8), 21)}  # into the next week, to a day not logged
    adherence.correct(p, p.id, log.id, moved, now=NOW, rules=adherence.LogRules(max_age_days=3650))


def _correct_the_sets_of_a_log(make, patients):
    p = patients[1]
    log = _first_log(p)
    adherence.correct(p, p.id, log.id, {"sets_done": 0}, now=NOW, rules=adherence.LogRules(max_age_days=3650))


def _delete_a_log(make, patients):
    p = patients[2]
    adherence.delete(p, p.id, _first_log(p).id, now=NOW)


def _text_a_pain_score(make, patients):
    p = patients[0]
    inbound.handle_text(f"SM{next(_sids):032d}", p.phone, "9", now=at(NOW.date() - timedelta(days=2), 19))


def _text_done(make, patients):
    p = patients[2]
    inbound.handle_text(f"SM{next(_sids):032d}", p.phone, "DONE", now=at(NOW.date() - timedelta(days=1), 19))


def _revise_a_routine(make, patients):
    p = patients[0]
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == p.id))
    physio = db.session.get(User, p.patient.physiotherapist_id)
    body = routine_body(WEEK1 - timedelta(days=14), items=[item("daily", sets=3, times_per_day=2)])
    programs.revise_routine(physio, routine.id, RoutineInSchema().load(body), now=NOW)


def _archive_a_routine(make, patients):
    p = patients[1]
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == p.id))
    programs.archive_routine(db.session.get(User, p.patient.physiotherapist_id), routine.id, now=NOW)


def _prescribe_a_backdated_routine(make, patients):
    make.routine(patients[2], routine_body(WEEK1, items=[item("extra", times_per_day=2)]), now=NOW)


WRITES = {
    "a log for a past day": _log_a_past_day,
    "a resent log": _resend_a_log,
    "a log moved to another day": _move_a_log_to_another_day,
    "a log's sets corrected": _correct_the_sets_of_a_log,
    "a deleted log": _delete_a_log,
    "a texted pain score": _text_a_pain_score,
    "a texted DONE": _text_done,
    "a routine revised": _revise_a_routine,
    "a routine archived": _archive_a_routine,
    "a routine prescribed from a past day": _prescribe_a_backdated_routine,
}
UNCHANGED = {"a resent log", "a routine revised"}  # the revision governs from its own day on: the past is as it was


@pytest.mark.parametrize("write", list(WRITES))
def test_after_each_write_the_kept_days_answer_as_the_logs_and_routines_do(make, world, write):
    physio, patients = world
    before = read_and_keep(physio)
    with time_machine.travel(NOW, tick=False):
        WRITES[write](make, patients)
    db.session.commit()
    after = answers(physio)
    assert after == from_scratch(physio)
    assert (after == before) == (write in UNCHANGED)


def test_a_write_marks_its_day_stale_and_the_next_read_refreshes_it(make, world):
    physio, patients = world
    read_and_keep(physio)
    day = WEEK1 + timedelta(days=2)
    gen = kept_rows()[patients[0].id, day].gen
    _log_a_past_day(make, patients)
    row = kept_rows()[patients[0].id, day]
    assert (row.stale, row.gen) == (True, gen + 1)
    read_and_keep(physio)
    assert kept_rows()[patients[0].id, day].stale is False


def test_a_log_for_today_leaves_a_stale_row_the_report_does_not_read(make, world):
    physio, patients = world
    make.log(patients[0], items_of(patients[0])["daily"], at(NOW.date(), 8))
    assert kept_rows()[patients[0].id, NOW.date()].stale is True
    assert answers(physio) == from_scratch(physio)


def report_and_keep(physio: User) -> None:
    """Only the report reads (the risk list, reading after it, would rightly work a stale day out again)."""
    report.clinic_report(physio, days=14, physiotherapist_id=None, now=NOW)
    db.session.commit()


def _write_while_reading(monkeypatch, make, patient: User, day: date) -> None:
    """Log for `day` just after the next reader has read its logs, before it stores what it worked out."""
    original = summaries._logs

    def logs_then_a_write(ids, start, end):
        found = original(ids, start, end)
        monkeypatch.setattr(summaries, "_logs", original)
        make.log(patient, items_of(patient)["flex"], at(day, 21))
        return found

    monkeypatch.setattr(summaries, "_logs", logs_then_a_write)


def test_a_day_first_worked_out_before_a_write_committed_is_not_stored_as_fresh(make, world, monkeypatch):
    physio, patients = world
    day = WEEK1 + timedelta(days=3)
    _write_while_reading(monkeypatch, make, patients[0], day)
    report_and_keep(physio)
    assert kept_rows()[patients[0].id, day].stale is True
    assert answers(physio) == from_scratch(physio)


def test_a_stale_day_worked_out_again_before_another_write_committed_stays_stale(make, world, monkeypatch):
    physio, patients = world
    read_and_keep(physio)
    day = WEEK1 + timedelta(days=3)
    _log_a_past_day(make, patients)  # stale days to work out again, so the next read reads logs
    make.log(patients[0], items_of(patients[0])["flex"], at(day, 20))
    _write_while_reading(monkeypatch, make, patients[0], day)
    report_and_keep(physio)
    assert kept_rows()[patients[0].id, day].stale is True
    assert answers(physio) == from_scratch(physio)


def test_a_routine_changed_after_a_day_was_kept_makes_the_row_unused(make, world):
    physio, patients = world
    read_and_keep(physio)
    key = kept_rows()[patients[1].id, WEEK1].plan_key
    _prescribe_a_backdated_routine(make, [patients[1]] * 3)
    read_and_keep(physio)
    assert kept_rows()[patients[1].id, WEEK1].plan_key != key


@pytest.mark.parametrize("seed", range(40))
def test_day_sums_tally_as_tally_parts_does(seed):
    rng = random.Random(seed)
    days = metrics.days_between(WEEK1, WEEK1 + timedelta(days=rng.randint(6, 40)))
    cuts = sorted(rng.sample(range(1, len(days)), 3))
    parts = [days[a:b] for a, b in zip([0, *cuts], [*cuts, len(days)], strict=True)]
    expected, logs = _random_days(rng, days)
    plans = {day: metrics.DayPlan.of(wants) for day, wants in expected.items()}
    sums = {day: summaries.day_sum(1, day, plan, logs.get(day)) for day, plan in plans.items()}
    ours_whole, ours_each = summaries.tally_days(parts, sums)
    whole, each = metrics.tally_parts(parts, plans, logs)

    def figures(t: metrics.Tally) -> tuple:
        return (round(t.due, 9), round(t.done, 9), t.entries, t.pain_before, t.pain_after, t.pain_texted)

    assert [figures(t) for t in [ours_whole, *ours_each]] == [figures(t) for t in [whole, *each]]
