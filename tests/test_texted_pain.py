"""Pain scores texted in (an SMS reply of 0-10) reach the physiotherapist, marked as texted: in the
adherence figures, the risk rules and the patient page's pain chart; never outside the clinic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from hep.accounts.models import User
from hep.extensions import db
from hep.programs.models import Routine
from hep.reminders import consent, inbound
from tests.factories import item, routine_body, web_sign_in

MONDAY = date(2026, 11, 16)
LONDON = ZoneInfo("Europe/London")
_sids = count(1)


@pytest.fixture
def patient(make):
    make.exercise(slug="daily")
    physio = make.physio()
    patient = make.patient(physio.clinic, physio, timezone="Europe/London", phone="+447400123456", name="Tess")
    make.routine(
        patient, routine_body(MONDAY - timedelta(days=21), items=[item("daily")]), now=datetime(2026, 10, 1, tzinfo=UTC)
    )
    consent.grant(physio, patient.id, "verbal", now=datetime(2026, 10, 1, 12, tzinfo=UTC))
    return patient


def text(patient: User, body: str, day: date, hour: int = 19) -> str | None:
    """The patient replies to a reminder, through the inbound handler the webhook calls."""
    at = datetime.combine(day, time(hour), LONDON)
    return inbound.handle_text(f"SM{next(_sids):032d}", patient.phone, body, now=at)


def physio_of(patient: User) -> User:
    return db.session.get(User, patient.patient.physiotherapist_id)


def adherence(client, make, reader: User, patient: User, today: date, days: int = 7):
    with time_machine.travel(datetime.combine(today, time(12), LONDON), tick=False):
        return client.get(f"/api/v1/patients/{patient.id}/adherence?days={days}", headers=make.headers(reader))


def test_a_texted_score_shows_in_the_days_figures_as_texted_not_as_a_log(client, make, patient):
    text(patient, "7", MONDAY)
    response = adherence(client, make, physio_of(patient), patient, MONDAY + timedelta(days=1))
    day = next(d for d in response.json["days"] if d["date"] == MONDAY.isoformat())
    assert (day["pain_texted"], day["pain_before"], day["pain_after"], day["entries"]) == (7.0, None, None, 0)


def test_two_texts_on_a_day_show_their_mean_and_the_week_its_mean(client, make, patient):
    text(patient, "4", MONDAY, 9)
    text(patient, "7", MONDAY, 19)
    text(patient, "10", MONDAY + timedelta(days=2))
    view = adherence(client, make, physio_of(patient), patient, MONDAY + timedelta(days=3)).json
    day = next(d for d in view["days"] if d["date"] == MONDAY.isoformat())
    week = next(w for w in view["weeks"] if w["week_start"] == MONDAY.isoformat())
    assert (day["pain_texted"], week["pain_texted"]) == (5.5, 7.0)


def test_a_texted_score_is_not_exercise_and_changes_no_adherence(client, make, patient):
    text(patient, "3", MONDAY)
    view = adherence(client, make, physio_of(patient), patient, MONDAY + timedelta(days=1)).json
    assert view["last_activity"] is None and view["streak"] == 0
    assert next(d for d in view["days"] if d["date"] == MONDAY.isoformat())["done"] == 0


def test_texted_pain_rising_is_a_risk_reason_that_says_it_was_texted(client, make, patient):
    today = MONDAY + timedelta(days=14)
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
    daily = routine.current.phases[0].items[0].id
    for back in range(1, 15):  # exercising every day, no pain scores in the logs
        make.log(patient, daily, datetime.combine(today - timedelta(days=back), time(8), LONDON))
    for back, score in ((12, "2"), (10, "3"), (5, "6"), (2, "7")):
        text(patient, score, today - timedelta(days=back))
    with time_machine.travel(datetime.combine(today, time(12), LONDON), tick=False):
        [row] = client.get("/api/v1/risk", headers=make.headers(physio_of(patient))).json["items"]
    assert row["reasons"] == [{"code": "pain_rising", "detail": "texted pain rose from 2.5 to 6.5 (mean, 0-10)"}]
    assert (row["pain_texted_7d"], row["pain_texted_prev_7d"], row["pain_before_7d"]) == (6.5, 2.5, None)


def test_the_patient_page_charts_and_lists_texted_pain(client, make, patient):
    text(patient, "8", MONDAY)
    with time_machine.travel(datetime.combine(MONDAY + timedelta(days=1), time(12), LONDON), tick=False):
        web_sign_in(client, physio_of(patient))
        page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "<title>16 Nov: pain texted in 8</title>" in page
    assert "Texted in: 8.0 over the first scored week" in page
    assert '<th scope="col">Pain texted in</th>' in page and "<td>8.0</td>" in page


def test_the_risk_list_page_shows_texted_pain(client, make, patient):
    text(patient, "6", MONDAY)
    with time_machine.travel(datetime.combine(MONDAY + timedelta(days=1), time(12), LONDON), tick=False):
        web_sign_in(client, physio_of(patient))
        page = client.get("/patients").get_data(as_text=True)
    assert "texted in: 6.0" in page


def test_another_clinics_physiotherapist_sees_no_texted_pain(client, make, patient):
    text(patient, "9", MONDAY)
    stranger = make.physio()
    other = make.patient(stranger.clinic, stranger, timezone="Europe/London")
    assert adherence(client, make, stranger, patient, MONDAY + timedelta(days=1)).status_code == 404
    with time_machine.travel(datetime.combine(MONDAY + timedelta(days=1), time(12), LONDON), tick=False):
        rows = client.get("/api/v1/risk", headers=make.headers(stranger)).json["items"]
        web_sign_in(client, stranger)
        page = client.get(f"/patients/{patient.id}")
    assert [r["patient_id"] for r in rows] == [other.id] and rows[0]["pain_texted_7d"] is None
    assert page.status_code == 404 and "texted in 9" not in page.get_data(as_text=True)


def test_the_patient_sees_their_own_texted_scores(client, make, patient):
    text(patient, "5", MONDAY)
    view = adherence(client, make, patient, patient, MONDAY + timedelta(days=1)).json
    assert next(d for d in view["days"] if d["date"] == MONDAY.isoformat())["pain_texted"] == 5.0
