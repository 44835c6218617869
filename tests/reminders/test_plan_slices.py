"""The periodic plan is cut into slices of patients that scheduler processes share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hep.extensions import db
from hep.reminders.models import PlanSlice, Reminder
from hep.reminders.planner import plan
from hep.reminders.slices import claim_slice, ensure_slices, finish_slice, plan_share

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
CUT = {"slices": 4, "fresh_seconds": 300, "lease_seconds": 60}


def planned() -> set[tuple[int, str, str]]:
    return set(
        db.session.execute(
            sa.select(Reminder.patient_id, Reminder.kind, Reminder.slot).where(
                Reminder.status == "planned", Reminder.kind != "consent"
            )
        ).all()
    )


def some_patients(texted, count=6):
    patients = [texted(phone=f"+4474001239{n:02d}") for n in range(count)]
    ensure_slices(4)
    db.session.commit()
    return patients


def test_a_part_plans_only_its_patients(texted):
    patients = some_patients(texted)
    plan(NOW, part=(1, 4))
    assert {pid for pid, _kind, _slot in planned()} == {p.id for p in patients if p.id % 4 == 1}


def test_one_process_plans_every_slice_and_the_table_matches_a_full_plan(texted):
    some_patients(texted)
    share = plan_share("one", lambda: NOW, **CUT)
    by_slices = planned()
    db.session.execute(sa.delete(Reminder).where(Reminder.kind != "consent"))
    db.session.commit()
    plan(NOW)
    assert share.slices == 4 and share.changed == len(by_slices) and by_slices == planned()


def test_a_second_process_finds_the_slices_fresh_and_plans_nothing(texted):
    some_patients(texted)
    plan_share("one", lambda: NOW, **CUT)
    assert plan_share("two", lambda: NOW + timedelta(seconds=60), **CUT).slices == 0


def test_two_processes_at_once_each_plan_a_share_and_no_slice_twice(texted):
    patients = some_patients(texted)
    first = claim_slice("one", NOW, slices=4, fresh_seconds=300, lease_seconds=60)  # "one" is planning slice 0
    share = plan_share("two", lambda: NOW, **CUT)
    plan(NOW, part=(first, 4))
    finish_slice("one", NOW, slices=4, number=first)
    by = dict(db.session.execute(sa.select(PlanSlice.slice, PlanSlice.planned_by).where(PlanSlice.slices == 4)).all())
    assert share.slices == 3 and by == {0: "one", 1: "two", 2: "two", 3: "two"}
    assert {pid for pid, _kind, _slot in planned()} == {p.id for p in patients}


def test_a_slice_whose_planner_died_is_planned_once_its_lease_runs_out(texted):
    some_patients(texted)
    dead = claim_slice("dead", NOW, slices=4, fresh_seconds=300, lease_seconds=60)
    assert plan_share("alive", lambda: NOW + timedelta(seconds=30), **CUT).slices == 3  # still held
    later = plan_share("alive", lambda: NOW + timedelta(seconds=61), **CUT)
    holder = db.session.get(PlanSlice, (4, dead))
    assert later.slices == 1 and holder.planned_by == "alive" and holder.lease_owner is None


def test_the_plan_is_due_again_once_it_is_no_longer_fresh(texted):
    some_patients(texted)
    plan_share("one", lambda: NOW, **CUT)
    assert plan_share("one", lambda: NOW + timedelta(seconds=301), **CUT).slices == 4


def test_a_late_finish_by_a_process_that_lost_its_lease_changes_nothing(texted):
    some_patients(texted)
    number = claim_slice("slow", NOW, slices=4, fresh_seconds=300, lease_seconds=60)
    retaken = claim_slice("fast", NOW + timedelta(seconds=61), slices=4, fresh_seconds=300, lease_seconds=60)
    finish_slice("slow", NOW + timedelta(seconds=62), slices=4, number=number)
    holder = db.session.get(PlanSlice, (4, number))
    assert retaken == number and holder.lease_owner == "fast" and holder.planned_at is None
