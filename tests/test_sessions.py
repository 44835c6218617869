"""Needling sessions: scheduling, rescheduling, cancelling, lists, the next one, the calendar feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def physio(make):
    return make.physio()


@pytest.fixture
def headers(make, physio):
    return make.headers(physio, now=NOW)


@pytest.fixture
def patient(make, physio):
    return make.patient(physio.clinic, physio)


def book(client, headers, patient, when=NOW + timedelta(days=2), **body):
    return client.post(
        f"/api/v1/patients/{patient.id}/sessions", headers=headers, json={"starts_at": when.isoformat(), **body}
    )


def test_schedule_a_session_with_the_patients_physio_by_default(client, headers, patient, physio):
    response = book(client, headers, patient, duration_minutes=45, notes="Lumbar multifidus")
    assert response.status_code == 201
    assert (response.json["physiotherapist_id"], response.json["status"]) == (physio.id, "scheduled")
    assert response.json["ends_at"] == (NOW + timedelta(days=2, minutes=45)).isoformat()


def test_booking_the_same_start_twice_books_once(client, headers, patient):
    first, again = book(client, headers, patient).json, book(client, headers, patient).json
    assert first["id"] == again["id"]


def test_a_session_in_the_past_is_rejected(client, headers, patient):
    response = book(client, headers, patient, when=NOW - timedelta(hours=1))
    assert response.status_code == 422 and response.json["invalid_params"][0]["name"] == "starts_at"


def test_reschedule_and_cancel(client, headers, patient):
    session = book(client, headers, patient).json
    later = (NOW + timedelta(days=4)).isoformat()
    moved = client.patch(f"/api/v1/sessions/{session['id']}", headers=headers, json={"starts_at": later})
    assert moved.json["starts_at"] == later
    cancelled = client.patch(f"/api/v1/sessions/{session['id']}", headers=headers, json={"status": "cancelled"})
    assert cancelled.json["status"] == "cancelled"
    again = client.patch(f"/api/v1/sessions/{session['id']}", headers=headers, json={"status": "cancelled"})
    assert again.status_code == 200
    revived = client.patch(f"/api/v1/sessions/{session['id']}", headers=headers, json={"status": "scheduled"})
    assert revived.status_code == 422


def test_upcoming_lists_skip_past_and_cancelled(client, make, headers, patient, physio):
    soon, later = book(client, headers, patient).json, book(client, headers, patient, NOW + timedelta(days=9)).json
    gone = book(client, headers, patient, NOW + timedelta(days=5)).json
    client.patch(f"/api/v1/sessions/{gone['id']}", headers=headers, json={"status": "cancelled"})
    mine = client.get(f"/api/v1/patients/{patient.id}/sessions", headers=make.headers(patient, now=NOW)).json
    assert [s["id"] for s in mine["items"]] == [soon["id"], later["id"]]
    everything = client.get("/api/v1/sessions?upcoming=false", headers=headers).json
    assert len(everything["items"]) == 3


def test_todays_plan_shows_the_next_session(client, make, headers, patient):
    session = book(client, headers, patient).json
    plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=make.headers(patient, now=NOW)).json
    assert plan["next_session"] == {
        "id": session["id"],
        "starts_at": session["starts_at"],
        "duration_minutes": 30,
        "patient_note": None,
    }


def test_calendar_feed_lists_sessions_without_health_details(client, make, headers, patient):
    book(client, headers, patient, notes="Dry needling of the left gluteus medius")
    url = client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=make.headers(patient, now=NOW)).json[
        "url"
    ]
    response = client.get(url.removeprefix("http://localhost"))
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    assert "BEGIN:VEVENT" in body and "DTSTART:20261125T180000Z" in body
    assert "needling" not in body.lower() and "gluteus" not in body.lower()


def test_a_new_calendar_link_voids_the_old_one(client, make, patient):
    patient_headers = make.headers(patient, now=NOW)
    old = client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=patient_headers).json["url"]
    client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=patient_headers)
    assert client.get(old.removeprefix("http://localhost")).status_code == 404
    assert client.get("/calendar/guessed-token.ics").status_code == 404
