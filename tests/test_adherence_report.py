"""The clinic adherence report: totals, weeks, physiotherapists and bands, by metrics.py's definitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from hep.accounts.models import User
from hep.adherence import metrics, report, spans
from hep.adherence.models import AdherenceLog
from hep.audit.models import AuditEvent
from hep.extensions import db
from hep.programs import compiled, schedule
from hep.programs import service as programs
from hep.programs.models import Routine
from hep.programs.schemas import RoutineInSchema
from hep.programs.service import routines_for
from tests.factories import item, routine_body

# Monday 30 November 2026, noon in London (UTC in winter): with days=14 the window is the two whole weeks
# Mon 16 - Sun 29 November; with days=7 it is Mon 23 - Sun 29.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WEEK1, WEEK2 = date(2026, 11, 16), date(2026, 11, 23)
URL = "/api/v1/clinic/adherence-report"


def at(patient: User, day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), ZoneInfo(patient.patient.timezone))


def items_of(patient: User) -> dict[str, int]:
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
    return {i.slug: i.id for i in routine.current.phases[0].items}


def log_days(make, patient: User, slug: str, days, per_day: int = 1, **done) -> None:
    item_id = items_of(patient)[slug]
    for day in days:
        for k in range(per_day):
            make.log(patient, item_id, at(patient, day, 8 + 4 * k), **done)


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


@pytest.fixture
def clinic(make):
    for slug in ("daily", "twice", "mon-fri", "flex"):
        make.exercise(slug=slug)
    home = make.clinic(name="Home")
    physio = make.physio(home, name="Ann Physio")

    def patient(*items, physio=physio, tz="Europe/London", start=WEEK1 - timedelta(days=14), name=None):
        p = make.patient(home, physio, timezone=tz, **({"name": name} if name else {}))
        if items:
            make.routine(p, routine_body(start, items=list(items)), now=datetime(2026, 11, 1, tzinfo=UTC))
        return p

    return home, physio, patient


def get_report(client, make, user: User, query: str = "") -> dict:
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"{URL}{query}", headers=make.headers(user, now=NOW))
    assert response.status_code == 200, response.get_json()
    return response.json


@pytest.fixture
def two_patients(make, clinic):
    """Daily: 10 of 14 days. Twice a day: both on the first 7 days, nothing after."""
    _home, physio, patient = clinic
    daily, twice = patient(item("daily")), patient(item("twice", times_per_day=2))
    log_days(make, daily, "daily", days_from(WEEK1, 10))
    log_days(make, twice, "twice", days_from(WEEK1, 7), per_day=2)
    return physio, daily, twice


def test_totals_are_credited_occurrences_over_occurrences_due(client, make, two_patients):
    physio, _daily, _twice = two_patients
    body = get_report(client, make, physio, "?days=14")
    figures = {k: body[k] for k in ("patients", "active_patients", "logging_patients", "due", "done", "entries")}
    assert figures == {
        "patients": 2,
        "active_patients": 2,
        "logging_patients": 2,
        "due": 42.0,
        "done": 24.0,
        "entries": 24,
    }
    assert (body["adherence"], body["mean_patient_adherence"]) == (0.571, 0.607)  # 24/42; (10/14 + 14/28) / 2


def test_weeks_are_monday_to_sunday_sums(client, make, two_patients):
    physio, _daily, _twice = two_patients
    weeks = get_report(client, make, physio, "?days=14")["weeks"]
    assert [(w["week_start"], w["due"], w["done"], w["adherence"]) for w in weeks] == [
        ("2026-11-16", 21.0, 21.0, 1.0),
        ("2026-11-23", 21.0, 3.0, 0.143),
    ]


def test_window_is_whole_days_up_to_yesterday(client, make, clinic):
    _home, physio, patient = clinic
    steady = patient(item("daily"))
    log_days(make, steady, "daily", [WEEK2 + timedelta(days=6), NOW.date()])  # Sunday, and today
    body = get_report(client, make, physio, "?days=7")
    assert (body["first_day"], body["last_day"]) == ("2026-11-23", "2026-11-29")
    assert (body["due"], body["done"], body["entries"]) == (7.0, 1.0, 1)


def test_default_window_is_28_days(client, make, two_patients):
    physio, _daily, _twice = two_patients
    body = get_report(client, make, physio)
    assert (body["days"], body["first_day"], body["last_day"]) == (28, "2026-11-02", "2026-11-29")


def test_each_patient_counts_their_own_days_in_their_time_zone(client, make, clinic):
    _home, physio, patient = clinic
    london, tonga = patient(item("daily")), patient(item("daily"), tz="Pacific/Tongatapu")
    # Monday noon UTC is already Tuesday 01:00 in Tonga: Monday is a whole day there, not in London.
    log_days(make, tonga, "daily", days_from(WEEK2 + timedelta(days=1), 7))
    log_days(make, london, "daily", [NOW.date()])
    body = get_report(client, make, physio, "?days=7")
    assert (body["first_day"], body["last_day"]) == ("2026-11-23", "2026-11-30")
    assert (body["due"], body["done"], body["entries"]) == (14.0, 7.0, 7)


def test_distribution_bands_include_their_lower_edge(client, make, clinic):
    _home, physio, patient = clinic
    full, edge80 = patient(item("daily")), patient(item("mon-fri", weekdays=["mon", "tue", "wed", "thu", "fri"]))
    half, low = patient(item("twice", times_per_day=2)), patient(item("daily"))
    patient()  # no routine
    log_days(make, full, "daily", days_from(WEEK2, 7))  # 7/7
    log_days(make, edge80, "mon-fri", days_from(WEEK2, 4))  # 4/5 = 0.8
    log_days(make, half, "twice", days_from(WEEK2, 7))  # 7/14 = 0.5
    log_days(make, low, "daily", [WEEK2])  # 1/7
    body = get_report(client, make, physio, "?days=7")
    assert body["distribution"] == {"at_least_80": 2, "from_50_to_80": 1, "below_50": 1, "nothing_due": 1}
    assert (body["patients"], body["active_patients"]) == (5, 4)


def test_pain_means_are_over_entries_not_patients(client, make, clinic):
    _home, physio, patient = clinic
    one, other = patient(item("twice", times_per_day=2)), patient(item("daily"))
    twice = items_of(one)["twice"]
    make.log(one, twice, at(one, WEEK2, 8), pain_before=2, pain_after=1)
    make.log(one, twice, at(one, WEEK2, 18), pain_before=4)
    make.log(other, items_of(other)["daily"], at(other, WEEK2), pain_before=6, pain_after=3)
    body = get_report(client, make, physio, "?days=7")
    assert (body["pain_before"], body["pain_after"]) == (4.0, 2.0)


def test_one_row_per_physiotherapist_by_name(client, make, clinic):
    home, physio, patient = clinic
    bob = make.physio(home, name="Bob Physio")
    ann_patient, bob_patient = patient(item("daily")), patient(item("daily"), physio=bob)
    log_days(make, ann_patient, "daily", days_from(WEEK2, 7))
    log_days(make, bob_patient, "daily", days_from(WEEK2, 2))
    rows = get_report(client, make, make.admin(home), "?days=7")["physiotherapists"]
    assert [(r["name"], r["physiotherapist_id"], r["patients"], r["done"], r["adherence"]) for r in rows] == [
        ("Ann Physio", physio.id, 1, 7.0, 1.0),
        ("Bob Physio", bob.id, 1, 2.0, 0.286),
    ]


def test_physiotherapist_id_narrows_to_their_patients(client, make, clinic):
    home, physio, patient = clinic
    bob = make.physio(home, name="Bob Physio")
    patient(item("daily"))
    log_days(make, patient(item("daily"), physio=bob), "daily", [WEEK2])
    body = get_report(client, make, physio, f"?days=7&physiotherapist_id={bob.id}")
    assert (body["physiotherapist_id"], body["patients"], body["done"]) == (bob.id, 1, 1.0)
    assert [r["name"] for r in body["physiotherapists"]] == ["Bob Physio"]


@pytest.mark.parametrize("who", ["other clinic's physiotherapist", "clinic admin", "unknown id"])
def test_physiotherapist_id_must_be_a_physiotherapist_of_the_clinic(client, make, clinic, who):
    home, physio, _patient = clinic
    other = {
        "other clinic's physiotherapist": lambda: make.physio(make.clinic()).id,
        "clinic admin": lambda: make.admin(home).id,
        "unknown id": lambda: 999_999,
    }[who]()
    response = client.get(f"{URL}?physiotherapist_id={other}", headers=make.headers(physio))
    assert response.status_code == 422
    assert response.json["invalid_params"] == [
        {"name": "physiotherapist_id", "location": "query", "reason": "is not a physiotherapist of your clinic"}
    ]


@pytest.mark.parametrize("days", [6, 91])
def test_days_outside_7_to_90_is_refused(client, make, clinic, days):
    _home, physio, _patient = clinic
    response = client.get(f"{URL}?days={days}", headers=make.headers(physio))
    assert response.status_code == 422 and response.json["invalid_params"][0]["name"] == "days"


def test_patients_may_not_see_it(client, make, clinic):
    _home, _physio, patient = clinic
    someone = patient(item("daily"))
    assert client.get(URL, headers=make.headers(someone)).status_code == 403


def test_other_clinics_patients_are_not_counted(client, make, clinic):
    _home, physio, patient = clinic
    patient(item("daily"))
    outsider = make.patient(make.clinic(), timezone="Europe/London")
    make.routine(outsider, routine_body(WEEK1, items=[item("daily")]), now=datetime(2026, 11, 1, tzinfo=UTC))
    log_days(make, outsider, "daily", days_from(WEEK2, 7))
    body = get_report(client, make, physio, "?days=7")
    assert (body["patients"], body["done"]) == (1, 0.0)


def test_deactivated_patients_are_left_out(client, make, clinic):
    _home, physio, patient = clinic
    gone = patient(item("daily"))
    log_days(make, gone, "daily", [WEEK2])
    patient(item("daily"))
    db.session.get(User, gone.id).is_active = False
    db.session.commit()
    body = get_report(client, make, physio, "?days=7")
    assert (body["patients"], body["entries"]) == (1, 0)


def test_reading_it_is_audited(client, make, clinic):
    _home, physio, _patient = clinic
    get_report(client, make, physio)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.resource == "adherence_report"))
    assert (event.actor_id, event.action, event.patient_id) == (physio.id, "read", None)


def test_answer_says_how_long_the_server_took(client, make, clinic):
    _home, physio, _patient = clinic
    response = client.get(URL, headers=make.headers(physio))
    assert response.headers["Server-Timing"].startswith("app;dur=")
    assert float(response.headers["Server-Timing"].removeprefix("app;dur=")) >= 0


def test_empty_clinic_has_no_adherence(client, make, clinic):
    _home, physio, _patient = clinic
    body = get_report(client, make, physio, "?days=7")
    assert (body["patients"], body["adherence"], body["weeks"], body["physiotherapists"]) == (0, None, [], [])
    assert (body["first_day"], body["last_day"]) == ("2026-11-23", "2026-11-29")


# --- the same numbers as the patient's own view ------------------------------------------------


@pytest.fixture
def revised_patient(make, clinic):
    """Daily, flexible (3 days a week) and Mon/Thu items, with partial sets; revised on Wed 25 November."""
    home, _physio, patient = clinic
    solo = make.physio(home, name="Solo Physio")
    p = patient(
        item("daily", sets=3),
        item("flex", days_per_week=3),
        item("mon-fri", weekdays=["mon", "thu"]),
        physio=solo,
    )
    ids = items_of(p)
    for day in days_from(WEEK1, 14):
        if day.day % 3:
            make.log(p, ids["daily"], at(p, day), sets_done=1 + day.day % 3, pain_before=day.day % 5)
    for day in [*days_from(WEEK1, 5), WEEK2 + timedelta(days=4)]:  # five days in week 1 (capped at 3), one in week 2
        make.log(p, ids["flex"], at(p, day, 18))
    for day in (WEEK1, WEEK1 + timedelta(days=3), WEEK2 + timedelta(days=7 + 3)):
        make.log(p, ids["mon-fri"], at(p, day, 12))
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == p.id))
    revised = routine_body(
        WEEK1 - timedelta(days=14),
        items=[item("daily", sets=3, times_per_day=2), item("flex", days_per_week=3)],
    )
    programs.revise_routine(solo, routine.id, RoutineInSchema().load(revised), now=at(p, WEEK2 + timedelta(days=2)))
    db.session.commit()
    return solo, p


def test_weeks_match_the_patients_own_adherence_view(client, make, revised_patient):
    solo, p = revised_patient
    body = get_report(client, make, solo, "?days=14")
    view = metrics.patient_view(p.id, routines_for([p.id])[p.id], today=NOW.date(), days=15)
    theirs = {w["week_start"].isoformat(): (w["due"], w["done"], w["adherence"]) for w in view["weeks"]}
    ours = {w["week_start"]: (w["due"], w["done"], w["adherence"]) for w in body["weeks"]}
    assert ours == {k: theirs[k] for k in ("2026-11-16", "2026-11-23")}


def test_total_matches_a_tally_of_the_window_with_the_orm_routines(client, make, revised_patient):
    solo, p = revised_patient
    body = get_report(client, make, solo, "?days=14")
    window = metrics.days_between(WEEK1, WEEK2 + timedelta(days=6))
    routines = routines_for([p.id])[p.id]
    logs = {day: v for (_pid, day), v in metrics.day_logs([p.id], WEEK1, window[-1]).items()}
    expected = metrics.tally(window, {d: schedule.expected_on(routines, d) for d in window}, logs)
    assert (body["due"], body["done"], body["adherence"]) == (
        round(expected.due, 3),
        round(expected.done, 3),
        expected.adherence,
    )
    assert (body["entries"], body["pain_before"]) == (expected.entries, expected.mean_pain_before)


def test_expected_over_a_span_equals_day_by_day(make, revised_patient):
    _solo, p = revised_patient
    span = metrics.days_between(WEEK1 - timedelta(days=20), WEEK2 + timedelta(days=40))
    live = compiled.live_routines([p.id], span[0])[p.id]
    orm = routines_for([p.id])[p.id]
    assert spans.expected_over(live, span) == {d: schedule.expected_on(orm, d) for d in span}


def test_batches_add_up_to_the_same_report(make, clinic, monkeypatch):
    home, physio, patient = clinic
    bob = make.physio(home, name="Bob Physio")
    for n in range(5):
        p = patient(item("daily"), item("flex", days_per_week=2), physio=bob if n % 2 else physio)
        log_days(make, p, "daily", days_from(WEEK1, 3 * n))
        log_days(make, p, "flex", days_from(WEEK2, n))
    whole = report.clinic_report(physio, days=14, physiotherapist_id=None, now=NOW)
    monkeypatch.setattr(report, "BATCH", 2)
    assert report.clinic_report(physio, days=14, physiotherapist_id=None, now=NOW) == whole


def test_day_logs_by_patient_are_metrics_day_logs(make, revised_patient, clinic):
    _solo, p = revised_patient
    _home, _physio, patient = clinic
    other = patient(item("daily"))
    log_days(make, other, "daily", days_from(WEEK1, 3), pain_after=2)
    ids = [p.id, other.id]
    ours = metrics.day_logs_by_patient(ids, WEEK1, NOW.date())
    theirs = metrics.day_logs(ids, WEEK1, NOW.date())
    assert {(pid, day): v for pid, days in ours.items() for day, v in days.items()} == theirs


def test_schedules_for_bulk_readers_ask_what_the_orm_routines_ask(make, revised_patient):
    _solo, p = revised_patient
    span = metrics.days_between(WEEK1 - timedelta(days=20), WEEK2 + timedelta(days=40))
    live = compiled.live_schedules([p.id], span[0])[p.id]
    orm = routines_for([p.id])[p.id]
    assert spans.expected_over(live, span) == {d: schedule.expected_on(orm, d) for d in span}


def test_schedules_for_bulk_readers_leave_the_patient_apps_cache_alone(make, revised_patient):
    _solo, p = revised_patient
    compiled.clear_caches()
    compiled.live_schedules([p.id], WEEK1)
    assert len(compiled.versions_cache) == 0


def test_plans_shared_between_patients_are_each_days_expected_list(make, revised_patient, clinic):
    _solo, p = revised_patient
    _home, _physio, patient = clinic
    other = patient(item("daily", sets=3), item("flex", days_per_week=3), item("mon-fri", weekdays=["mon", "thu"]))
    span = metrics.days_between(WEEK1 - timedelta(days=20), WEEK2 + timedelta(days=40))
    shared: dict = {}
    for pid in (p.id, other.id, p.id):
        live = compiled.live_schedules([pid], span[0])[pid]
        orm = routines_for([pid])[pid]
        plans = spans.plans_over(live, span, shared)
        assert plans == {d: metrics.DayPlan.of(schedule.expected_on(orm, d)) for d in span}


def _random_days(rng, days):
    keys = [(exercise, side) for exercise in (1, 2, 3) for side in ("both", "left")]
    expected, logs = {}, {}
    for day in days:
        wants = []
        for key in rng.sample(keys, rng.randint(0, 5)):
            times = rng.randint(1, 3)
            wants.append(schedule.Expected(key, times, rng.choice([None, None, 2, 3, 5])))
        if rng.random() < 0.2 and wants:
            wants.append(wants[0])  # the same exercise and side twice in effect
        expected[day] = wants
        if rng.random() < 0.6:
            credit = {key: rng.choice([0.0, 1 / 3, 0.5, 2 / 3, 1.0, 1.5, 2.0, 3.7]) for key in rng.sample(keys, 3)}
            pain = (float(rng.randint(0, 30)), rng.randint(0, 4))
            logs[day] = metrics.DayLogs(credit, rng.randint(1, 9), pain, pain[::-1], (float(rng.randint(0, 9)), 1))
    return expected, logs


@pytest.mark.parametrize("seed", range(40))
def test_tally_parts_is_tally_of_the_whole_and_of_each_part(seed):
    import random

    rng = random.Random(seed)
    days = metrics.days_between(WEEK1, WEEK1 + timedelta(days=rng.randint(6, 40)))
    cuts = sorted(rng.sample(range(1, len(days)), 3))
    parts = [days[a:b] for a, b in zip([0, *cuts], [*cuts, len(days)], strict=True)]
    expected, logs = _random_days(rng, days)
    plans = {day: metrics.DayPlan.of(wants) for day, wants in expected.items()}
    whole, each = metrics.tally_parts(parts, plans, logs)
    assert whole == metrics.tally(days, expected, logs)
    assert each == [metrics.tally(part, expected, logs) for part in parts]


def test_last_activity_is_the_latest_day_of_an_entry_not_deleted(make, clinic):
    _home, _physio, patient = clinic
    p, idle = patient(item("daily")), patient(item("daily"))
    log_days(make, p, "daily", [WEEK1, WEEK1 + timedelta(days=2), WEEK2])
    latest = db.session.scalar(
        sa.select(AdherenceLog).where(AdherenceLog.patient_id == p.id, AdherenceLog.local_date == WEEK2)
    )
    latest.deleted_at = NOW
    db.session.commit()
    assert metrics.last_activity([p.id, idle.id]) == {p.id: WEEK1 + timedelta(days=2)}
