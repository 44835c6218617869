"""Web pages: the at-risk list, search, inviting, the patient page, consent and sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from hep.accounts.models import ActivationCode, User
from hep.extensions import db
from hep.reminders import consent
from hep.reminders.models import ConsentEvent, Reminder
from hep.reminders.states import Kind
from hep.sessions.models import CANCELLED, NeedlingSession
from tests.factories import item, routine_body, web_sign_in


@pytest.fixture
def clinic(make):
    """A clinic with a physiotherapist, a library exercise and two patients with routines: one keeps
    going, one stopped logging a week ago (at risk)."""
    home = make.clinic(timezone="America/Vancouver")
    physio = make.physio(home, name="Priya Physio")
    make.exercise(slug="chin-tuck", name="Chin tuck")
    now = datetime.now(UTC)
    start = (now - timedelta(days=20)).date()
    patients = {}
    for name, stop in (("Vera Steady", 0), ("Liam Stopped", 7)):
        patient = make.patient(home, physio, name=name, timezone="America/Vancouver")
        routine = make.routine(patient, routine_body(start, items=[item("chin-tuck", sets=1)]), now=now)
        item_id = routine.current.phases[0].items[0].id
        for back in range(stop + 1, 15):
            at = (now - timedelta(days=back)).astimezone(ZoneInfo("America/Vancouver"))
            make.log(patient, item_id, at, now=now, sets_done=1, pain_before=4, pain_after=3, note=f"day {back}")
        patients[name] = patient
    return {"home": home, "physio": physio, "patients": patients}


def test_patients_are_listed_most_at_risk_first_with_reasons(client, clinic):
    web_sign_in(client, clinic["physio"])
    page = client.get("/patients").get_data(as_text=True)
    assert page.index("Liam Stopped") < page.index("Vera Steady")
    assert "no exercise logged for" in page
    assert "Inactive" in page


def test_search_finds_patients_by_name_across_the_clinic_only(client, make, clinic):
    make.patient(make.clinic(), name="Liam Elsewhere")
    web_sign_in(client, clinic["physio"])
    page = client.get("/patients?q=liam").get_data(as_text=True)
    assert "Liam Stopped" in page and "Liam Elsewhere" not in page and "Vera Steady" not in page


def test_clinic_admin_chooses_whose_patients(client, make, clinic):
    admin = make.admin(clinic["home"])
    web_sign_in(client, admin)
    page = client.get("/patients").get_data(as_text=True)
    assert "Liam Stopped" in page  # the clinic's first physiotherapist by default
    assert 'name="physiotherapist_id"' in page


def test_inviting_shows_the_code_once_with_a_qr_code(client, clinic):
    csrf = web_sign_in(client, clinic["physio"])
    form = {"csrf_token": csrf, "name": "Nora New", "phone": "+1 604 555 0199", "timezone": "America/Vancouver"}
    response = client.post("/patients/new", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    code = re.search(r'class="code"[^>]*>([0-9A-Z]{5}-[0-9A-Z]{5})<', page).group(1)
    assert "<svg" in page and "QR code" in page
    user = db.session.scalar(select(User).where(User.name == "Nora New"))
    assert user.phone == "+16045550199" and user.patient.physiotherapist_id == clinic["physio"].id
    assert db.session.scalar(select(ActivationCode).where(ActivationCode.user_id == user.id)) is not None
    # The code in the page is the one that activates the app.
    activated = client.post("/api/v1/auth/activate", json={"code": code, "password": "a-long-password"})
    assert activated.status_code == 200


def test_invite_form_shows_each_problem_next_to_its_field(client, clinic):
    csrf = web_sign_in(client, clinic["physio"])
    response = client.post("/patients/new", data={"csrf_token": csrf, "name": "", "timezone": "Mars/Olympus"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="f-timezone-error"' in page and "is not an IANA time zone" in page
    assert 'id="f-name-error"' in page
    taken = client.post(
        "/patients/new",
        data={"csrf_token": csrf, "name": "Copy", "email": clinic["patients"]["Vera Steady"].email, "timezone": "UTC"},
    )
    assert taken.status_code == 422 and "already in use" in taken.get_data(as_text=True)


def test_patient_page_shows_routine_charts_logs_sessions_and_texts(client, clinic):
    physio, patient = clinic["physio"], clinic["patients"]["Vera Steady"]
    now = datetime.now(UTC)
    db.session.add(
        NeedlingSession(
            patient_id=patient.id, physiotherapist_id=physio.id, starts_at=now - timedelta(days=6),
            duration_minutes=30, status="completed", created_at=now, updated_at=now,
        )
    )  # fmt: skip
    db.session.commit()
    web_sign_in(client, physio)
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Home program" in page and "Chin tuck" in page
    # Heat map and pain chart: SVG with a title and a description, and the numbers as a table.
    assert '<title id="heatmap-title">' in page and '<desc id="heatmap-desc">' in page
    assert '<title id="pain-title">Pain before and after exercise</title>' in page
    assert 'class="session"' in page  # the needling session is marked on the pain chart
    assert "<caption>Daily adherence and mean pain" in page
    assert "day 2" in page  # log notes
    assert "No consent" in page and "Record consent" in page


def test_patient_page_reads_are_audited(client, clinic):
    from hep.audit.models import AuditEvent

    patient = clinic["patients"]["Vera Steady"]
    web_sign_in(client, clinic["physio"])
    client.get(f"/patients/{patient.id}")
    read = set(
        db.session.scalars(
            select(AuditEvent.resource).where(AuditEvent.patient_id == patient.id, AuditEvent.action == "read")
        )
    )
    assert {"patient", "routine_list", "adherence", "logs"} <= read


def test_consent_is_recorded_and_withdrawn(client, make, clinic):
    patient = clinic["patients"]["Vera Steady"]
    patient.phone = "+16045550142"
    db.session.commit()
    csrf = web_sign_in(client, clinic["physio"])
    url = f"/patients/{patient.id}/consent"
    assert client.post(url, data={"csrf_token": csrf, "action": "grant", "method": "verbal"}).status_code == 302
    assert "Active" in client.get(f"/patients/{patient.id}").get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf, "action": "withdraw"})
    events = db.session.scalars(select(ConsentEvent.event).where(ConsentEvent.patient_id == patient.id)).all()
    assert events == ["granted", "opted_out"]


def test_sessions_are_booked_rescheduled_and_cancelled_in_clinic_time(client, clinic):
    patient = clinic["patients"]["Vera Steady"]
    csrf = web_sign_in(client, clinic["physio"])
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    booked = client.post(
        f"/patients/{patient.id}/sessions",
        data={"csrf_token": csrf, "date": day.isoformat(), "time": "09:30", "duration_minutes": "45", "notes": "L4"},
    )
    assert booked.status_code == 302
    session = db.session.scalar(select(NeedlingSession).where(NeedlingSession.patient_id == patient.id))
    assert session.starts_at == datetime.combine(day, datetime.min.time(), ZoneInfo("America/Vancouver")).replace(
        hour=9, minute=30
    )
    assert session.duration_minutes == 45
    assert "Reschedule or cancel" in client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Vera Steady" in client.get("/sessions").get_data(as_text=True)
    moved = client.post(
        f"/sessions/{session.id}",
        data={"csrf_token": csrf, "action": "reschedule", "date": day.isoformat(), "time": "11:00",
              "duration_minutes": "30"},
    )  # fmt: skip
    assert moved.status_code == 302
    db.session.refresh(session)
    assert session.starts_at.astimezone(ZoneInfo("America/Vancouver")).hour == 11
    client.post(f"/sessions/{session.id}", data={"csrf_token": csrf, "action": "cancelled"})
    db.session.refresh(session)
    assert session.status == CANCELLED
    again = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "finished" in again and "Move session" not in again


def test_a_session_in_the_past_is_not_booked_and_says_why(client, clinic):
    patient = clinic["patients"]["Vera Steady"]
    csrf = web_sign_in(client, clinic["physio"])
    response = client.post(
        f"/patients/{patient.id}/sessions",
        data={"csrf_token": csrf, "date": "2020-01-01", "time": "09:00", "duration_minutes": "30"},
        follow_redirects=True,
    )
    assert "Session not booked: starts_at: is in the past" in response.get_data(as_text=True)
    assert db.session.scalar(select(NeedlingSession.id).where(NeedlingSession.patient_id == patient.id)) is None


def test_reminders_follow_sessions_booked_and_cancelled_on_the_web(client, clinic):
    patient, physio = clinic["patients"]["Vera Steady"], clinic["physio"]
    morning = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 08:00 in Vancouver
    with time_machine.travel(morning, tick=False):
        patient.phone = "+16045550142"
        db.session.commit()
        consent.grant(physio, patient.id, "verbal", now=morning)
        csrf = web_sign_in(client, physio, now=morning)
        client.post(
            f"/patients/{patient.id}/sessions",
            data={"csrf_token": csrf, "date": "2026-11-25", "time": "10:00", "duration_minutes": "30"},
        )
        session = db.session.scalar(select(NeedlingSession).where(NeedlingSession.patient_id == patient.id))
        reminder = db.session.scalar(
            select(Reminder).where(Reminder.patient_id == patient.id, Reminder.kind == Kind.PRE_SESSION)
        )
        assert reminder is not None and reminder.status == "planned"
        client.post(f"/sessions/{session.id}", data={"csrf_token": csrf, "action": "cancelled"})
        db.session.refresh(reminder)
        assert reminder.status == "withdrawn"
        assert "Withdrawn" in client.get(f"/patients/{patient.id}").get_data(as_text=True)
