"""Today's plan in the patient's time zone, and adherence by the README's definitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from hep.accounts.models import User
from hep.adherence import metrics
from hep.extensions import db
from hep.library.models import Exercise
from hep.library.service import apply_content
from hep.programs import service as programs
from hep.programs.models import Routine
from hep.programs.schemas import RoutineInSchema
from hep.programs.service import routines_for
from tests.factories import item, routine_body

MONDAY = date(2026, 11, 16)


def items_of(patient) -> dict[str, int]:
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
    return {i.slug: i.id for i in routine.current.phases[0].items}


def at(patient, day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(patient.patient.timezone))


def view(patient, today: date, days: int = 7) -> dict:
    return metrics.patient_view(patient.id, routines_for([patient.id])[patient.id], today=today, days=days)


@pytest.fixture
def setup(make):
    for slug in ("daily", "twice", "mon-fri", "flex"):
        make.exercise(slug=slug)

    def patient_with(*items, tz="Europe/London", start=MONDAY - timedelta(days=14)):
        patient = make.patient(timezone=tz)
        make.routine(patient, routine_body(start, items=list(items)), now=datetime(2026, 11, 1, tzinfo=UTC))
        return patient

    return patient_with


# --- today's plan ----------------------------------------------------------------------------


def test_plan_follows_the_patients_local_day_not_utc(client, make, setup):
    patient = setup(item("mon-fri", weekdays=["mon"]), tz="Pacific/Tongatapu")
    # Sunday 11:00 UTC is already Monday 00:00 in Tonga (UTC+13).
    with time_machine.travel(datetime(2026, 11, 15, 11, 0, tzinfo=UTC), tick=False):
        plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=make.headers(patient)).json
    assert plan["date"] == "2026-11-16"
    assert [i["exercise"]["slug"] for i in plan["items"]] == ["mon-fri"]


def test_plan_in_utc_minus_10_is_still_yesterday(client, make, setup):
    patient = setup(item("mon-fri", weekdays=["mon"]), tz="Pacific/Honolulu")
    # Tuesday 09:59 UTC is still Monday 23:59 in Honolulu.
    with time_machine.travel(datetime(2026, 11, 17, 9, 59, tzinfo=UTC), tick=False):
        plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=make.headers(patient)).json
    assert plan["date"] == "2026-11-16" and len(plan["items"]) == 1


def test_plan_shows_times_due_and_what_is_done_today(client, make, setup):
    patient = setup(item("twice", times_per_day=2))
    with time_machine.travel(at(patient, MONDAY, 20), tick=False):
        make.log(patient, items_of(patient)["twice"], at(patient, MONDAY, 8))
        plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=make.headers(patient)).json
    [entry] = plan["items"]
    assert (entry["times_due"], entry["done_today"], entry["flexible"]) == (2, 1.0, False)
    assert plan["next_session"] is None


def test_flexible_item_leaves_the_plan_once_this_weeks_days_are_done(client, make, setup):
    patient = setup(item("flex", days_per_week=2))
    flex = items_of(patient)["flex"]
    with time_machine.travel(at(patient, MONDAY + timedelta(days=2), 20), tick=False):
        make.log(patient, flex, at(patient, MONDAY))
        make.log(patient, flex, at(patient, MONDAY + timedelta(days=1)))
        plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=make.headers(patient)).json
    assert plan["items"] == []


def test_plan_and_routine_have_strong_etags_that_change_with_the_data(client, make, setup):
    patient = setup(item("daily"))
    headers = make.headers(patient)
    for path in ("today", "routine"):
        first = client.get(f"/api/v1/patients/{patient.id}/{path}", headers=headers)
        cached = client.get(
            f"/api/v1/patients/{patient.id}/{path}", headers={**headers, "If-None-Match": first.headers["ETag"]}
        )
        assert cached.status_code == 304
    etag = client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).headers["ETag"]
    make.log(patient, items_of(patient)["daily"], datetime.now(UTC) - timedelta(minutes=1))
    fresh = client.get(f"/api/v1/patients/{patient.id}/today", headers={**headers, "If-None-Match": etag})
    assert fresh.status_code == 200


def test_plan_follows_a_new_routine_version_at_once(client, make, setup):
    patient = setup(item("daily"))
    headers = make.headers(patient)
    with time_machine.travel(at(patient, MONDAY, 9), tick=False):
        assert [
            i["exercise"]["slug"]
            for i in client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).json["items"]
        ] == ["daily"]
        routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
        physio = db.session.get(User, patient.patient.physiotherapist_id)
        body = routine_body(MONDAY - timedelta(days=14), items=[item("twice")])
        programs.revise_routine(physio, routine.id, RoutineInSchema().load(body), now=at(patient, MONDAY, 9))
        db.session.commit()
        plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).json
    assert [i["exercise"]["slug"] for i in plan["items"]] == ["twice"]


def test_plan_shows_an_exercises_new_name_and_archiving_at_once(client, make, setup):
    patient = setup(item("daily"))
    headers = make.headers(patient)
    with time_machine.travel(at(patient, MONDAY, 9), tick=False):
        client.get(f"/api/v1/patients/{patient.id}/today", headers=headers)
        exercise = db.session.scalar(sa.select(Exercise).where(Exercise.slug == "daily"))
        exercise.name, exercise.updated_at = "Renamed", at(patient, MONDAY, 9)
        db.session.commit()
        renamed = client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).json["items"][0]["exercise"]
        exercise.archived_at = at(patient, MONDAY, 9)
        db.session.commit()
        archived = client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).json["items"][0]["exercise"]
    assert (renamed["name"], renamed["archived"], archived["archived"]) == ("Renamed", False, True)


def test_plan_shows_an_exercises_new_safety_blocks_at_once(client, make, setup):
    patient = setup(item("daily"))
    headers = make.headers(patient)
    with time_machine.travel(at(patient, MONDAY, 9), tick=False):
        before = client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).json["items"][0]["safety"]
        exercise = db.session.scalar(sa.select(Exercise).where(Exercise.slug == "daily"))
        apply_content(exercise, {"safety": ["new-numbness"]}, now=at(patient, MONDAY, 9))
        db.session.commit()
        after = client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).json["items"][0]["safety"]
    assert (before, after) == ([], ["new-numbness"])


def test_plan_drops_an_archived_routine_at_once(client, make, setup):
    patient = setup(item("daily"))
    headers = make.headers(patient)
    with time_machine.travel(at(patient, MONDAY, 9), tick=False):
        client.get(f"/api/v1/patients/{patient.id}/today", headers=headers)
        routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
        physio = db.session.get(User, patient.patient.physiotherapist_id)
        programs.archive_routine(physio, routine.id, now=at(patient, MONDAY, 9))
        db.session.commit()
        plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=headers).json
    assert plan["items"] == []


def test_current_routine_carries_each_exercises_instructions(client, make, setup):
    patient = setup(item("daily"))
    body = client.get(f"/api/v1/patients/{patient.id}/routine", headers=make.headers(patient)).json
    [routine] = body["routines"]
    instructions = routine["items"][0]["instructions"]
    assert instructions["steps"][0] == "Sit tall." and instructions["precautions"]


# --- adherence definitions -------------------------------------------------------------------


def test_an_occurrence_is_one_entry_and_extra_entries_do_not_count(make, setup):
    patient = setup(item("twice", times_per_day=2))
    twice = items_of(patient)["twice"]
    for hour in (8, 12, 18):
        make.log(patient, twice, at(patient, MONDAY, hour))
    day = view(patient, MONDAY, days=1)["days"][0]
    assert (day["due"], day["done"], day["adherence"]) == (2.0, 2.0, 1.0)


def test_partial_sets_count_in_part(make, setup):
    patient = setup(item("daily", sets=3))
    make.log(patient, items_of(patient)["daily"], at(patient, MONDAY), sets_done=1)
    assert view(patient, MONDAY, days=1)["days"][0]["adherence"] == pytest.approx(0.333, abs=0.001)


def test_fixed_day_items_count_only_on_their_days(make, setup):
    patient = setup(item("mon-fri", weekdays=["mon", "fri"]))
    make.log(patient, items_of(patient)["mon-fri"], at(patient, MONDAY + timedelta(days=1)))  # Tuesday
    days = {d["date"]: d for d in view(patient, MONDAY + timedelta(days=6))["days"]}
    assert days[date(2026, 11, 17)]["due"] == 0 and days[date(2026, 11, 17)]["adherence"] is None
    assert days[date(2026, 11, 16)]["adherence"] == 0.0


def test_flexible_item_week_is_met_on_any_n_days(make, setup):
    patient = setup(item("flex", days_per_week=3))
    flex = items_of(patient)["flex"]
    for offset in (1, 3, 6):  # Tue, Thu, Sun
        make.log(patient, flex, at(patient, MONDAY + timedelta(days=offset)))
    week = next(w for w in view(patient, MONDAY + timedelta(days=6), days=7)["weeks"] if w["week_start"] == MONDAY)
    assert (week["due"], week["done"], week["adherence"]) == (3.0, 3.0, 1.0)


def test_weekly_adherence_this_and_last_week(make, setup):
    patient = setup(item("daily"))
    daily = items_of(patient)["daily"]
    for offset in range(-7, 0):  # every day last week
        make.log(patient, daily, at(patient, MONDAY + timedelta(days=offset)))
    make.log(patient, daily, at(patient, MONDAY))  # Monday this week, then nothing
    result = view(patient, MONDAY + timedelta(days=3))
    assert result["adherence_last_week"] == 1.0
    assert result["adherence_this_week"] == 0.25


def test_adherence_per_routine_counts_from_its_start(make, setup):
    patient = setup(item("daily"), start=MONDAY)
    make.log(patient, items_of(patient)["daily"], at(patient, MONDAY))
    [routine] = view(patient, MONDAY + timedelta(days=3))["routines"]
    assert (routine["since"], routine["due"], routine["done"], routine["adherence"]) == (MONDAY, 4.0, 1.0, 0.25)


def test_streak_skips_rest_days_and_waits_for_today(make, setup):
    patient = setup(item("mon-fri", weekdays=["mon", "tue", "wed", "thu", "fri"]))
    weekday = items_of(patient)["mon-fri"]
    for offset in (-3, 0, 1, 2):  # Fri, (weekend rest), Mon, Tue, Wed
        make.log(patient, weekday, at(patient, MONDAY + timedelta(days=offset)))
    # Thursday morning, nothing logged yet today: the streak still stands at 4.
    assert view(patient, MONDAY + timedelta(days=3))["streak"] == 4


def test_dst_change_week_counts_each_local_day_once(make, setup):
    # America/Vancouver leaves daylight time on Sunday 2026-11-01 (a 25-hour day).
    patient = setup(item("daily"), tz="America/Vancouver", start=date(2026, 10, 26))
    daily = items_of(patient)["daily"]
    for offset in range(7):
        day = date(2026, 10, 29) + timedelta(days=offset)
        make.log(patient, daily, at(patient, day, 7, 30))
        make.log(patient, daily, at(patient, day, 23, 45))  # late second go: same local day
    result = view(patient, date(2026, 11, 4), days=7)
    assert [d["done"] for d in result["days"]] == [1.0] * 7
    assert result["streak"] == 7


def test_pain_trend_is_the_daily_mean(make, setup):
    patient = setup(item("twice", times_per_day=2))
    twice = items_of(patient)["twice"]
    make.log(patient, twice, at(patient, MONDAY, 8), pain_before=6, pain_after=4)
    make.log(patient, twice, at(patient, MONDAY, 18), pain_before=4, pain_after=2)
    day = view(patient, MONDAY, days=1)["days"][0]
    assert (day["pain_before"], day["pain_after"], day["entries"]) == (5.0, 3.0, 2)


def test_patient_sees_their_own_progress(client, make, setup):
    patient = setup(item("daily"))
    response = client.get(f"/api/v1/patients/{patient.id}/adherence?days=14", headers=make.headers(patient))
    assert response.status_code == 200 and len(response.json["days"]) == 14


# --- the risk list ---------------------------------------------------------------------------


def _risk(client, make, physio):
    return {r["name"]: r for r in client.get("/api/v1/risk", headers=make.headers(physio)).json["items"]}


@pytest.fixture
def clinic_patients(make):
    for slug in ("daily",):
        make.exercise(slug=slug)
    physio = make.physio()

    def patient(name, tz="Europe/London"):
        p = make.patient(physio.clinic, physio, name=name, timezone=tz)
        make.routine(
            p, routine_body(MONDAY - timedelta(days=21), items=[item("daily")]), now=datetime(2026, 10, 1, tzinfo=UTC)
        )
        return p

    return physio, patient


def _log_days(make, patient, today, days_back, **done):
    daily = items_of(patient)["daily"]
    for back in days_back:
        make.log(patient, daily, at(patient, today - timedelta(days=back)), **done)


def test_risk_reasons_and_order(client, make, clinic_patients):
    physio, patient = clinic_patients
    today = MONDAY + timedelta(days=7)
    steady, lapsed, dropping, hurting = (patient(n) for n in ("Steady", "Lapsed", "Dropping", "Hurting"))
    _log_days(make, steady, today, range(1, 15), pain_before=3, pain_after=2)
    _log_days(make, lapsed, today, range(5, 15))
    _log_days(make, dropping, today, [*range(8, 15), 1, 3, 5], pain_before=3)
    _log_days(make, hurting, today, range(8, 15), pain_before=3, pain_after=3)
    _log_days(make, hurting, today, range(1, 8), pain_before=6, pain_after=8)
    with time_machine.travel(at(steady, today, 12), tick=False):
        rows = client.get("/api/v1/risk", headers=make.headers(physio)).json["items"]
    reasons = {r["name"]: sorted(x["code"] for x in r["reasons"]) for r in rows}
    assert reasons == {
        "Steady": [],
        "Lapsed": ["adherence_drop", "inactive"],
        "Dropping": ["adherence_drop"],
        "Hurting": ["pain_after_high", "pain_rising"],
    }
    assert [r["name"] for r in rows][-1] == "Steady"
    assert rows[0]["name"] in ("Lapsed", "Hurting")


def test_risk_thresholds_are_per_clinic(client, make, clinic_patients):
    physio, patient = clinic_patients
    today = MONDAY + timedelta(days=7)
    lapsed = patient("Lapsed")
    _log_days(make, lapsed, today, range(2, 15))
    admin = make.headers(make.admin(physio.clinic))
    with time_machine.travel(at(lapsed, today, 12), tick=False):
        assert _risk(client, make, physio)["Lapsed"]["reasons"] == []
        client.patch("/api/v1/clinic", headers=admin, json={"risk_inactive_days": 2})
        assert [r["code"] for r in _risk(client, make, physio)["Lapsed"]["reasons"]] == ["inactive"]


def test_admin_names_whose_risk_list(client, make, clinic_patients):
    physio, patient = clinic_patients
    patient("Someone")
    admin = make.headers(make.admin(physio.clinic))
    assert client.get("/api/v1/risk", headers=admin).status_code == 422
    rows = client.get(f"/api/v1/risk?physiotherapist_id={physio.id}", headers=admin).json["items"]
    assert [r["name"] for r in rows] == ["Someone"]


def test_risk_list_skips_deactivated_patients(client, make, clinic_patients):
    physio, patient = clinic_patients
    gone = patient("Gone")
    db.session.get(User, gone.id).is_active = False
    db.session.commit()
    assert client.get("/api/v1/risk", headers=make.headers(physio)).json["items"] == []
