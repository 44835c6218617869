"""Inviting and editing patients: contact validation, duplicates, who may change what, audit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hep.audit.models import AuditEvent
from hep.extensions import db


@pytest.fixture
def physio(make):
    return make.physio()


@pytest.fixture
def headers(make, physio):
    return make.headers(physio)


def invite(client, headers, **body):
    return client.post("/api/v1/patients", headers=headers, json={"name": "Pat", "timezone": "Pacific/Chatham", **body})


def test_phone_is_stored_as_e164(client, headers):
    response = invite(client, headers, phone="+1 (604) 555-0199")
    assert response.status_code == 201
    assert response.json["patient"]["phone"] == "+16045550199"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "+1 604 555 01"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b.test", "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"email": "a@b.test", "language": "english"}, "language"),
        ({"email": "a@b.test", "name": ""}, "name"),
    ],
)
def test_bad_contact_details_are_rejected_naming_the_field(client, headers, body, field):
    response = invite(client, headers, **body)
    assert response.status_code == 422
    assert [p["name"] for p in response.json["invalid_params"]] == [field]


def test_email_or_phone_is_required(client, headers):
    response = invite(client, headers)
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "email"


def test_duplicate_email_is_a_conflict_and_nothing_is_written(client, headers):
    assert invite(client, headers, email="dup@example.test").status_code == 201
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    response = invite(client, headers, email="DUP@example.test", name="Other")
    assert response.status_code == 409
    assert response.json["invalid_params"][0]["name"] == "email"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before


def test_duplicate_phone_is_a_conflict(client, headers):
    invite(client, headers, phone="+16045550111")
    response = invite(client, headers, phone="+1 604 555 0111")
    assert response.status_code == 409
    assert response.json["invalid_params"][0]["name"] == "phone"


def test_physio_invite_defaults_to_themself_as_physiotherapist(client, headers, physio):
    assert invite(client, headers, email="mine@example.test").json["patient"]["physiotherapist_id"] == physio.id


def test_admin_invite_names_a_physiotherapist_of_the_clinic(client, make, physio):
    admin = make.headers(make.admin(physio.clinic))
    missing = invite(client, admin, email="a@example.test")
    assert missing.status_code == 422 and missing.json["invalid_params"][0]["name"] == "physiotherapist_id"
    foreign = invite(client, admin, email="a@example.test", physiotherapist_id=make.physio().id)
    assert foreign.status_code == 422
    ok = invite(client, admin, email="a@example.test", physiotherapist_id=physio.id)
    assert ok.status_code == 201


def test_patient_may_change_own_time_zone_and_language_only(client, make):
    patient = make.patient(timezone="Europe/London")
    headers = make.headers(patient)
    ok = client.patch(
        f"/api/v1/patients/{patient.id}", headers=headers, json={"timezone": "Australia/Sydney", "language": "fr"}
    )
    assert ok.status_code == 200 and ok.json["timezone"] == "Australia/Sydney"
    denied = client.patch(f"/api/v1/patients/{patient.id}", headers=headers, json={"name": "Someone else"})
    assert denied.status_code == 403


def test_deactivating_a_patient_ends_their_sign_ins(client, make, physio, headers):
    patient = make.patient(physio.clinic, physio)
    patient_headers = make.headers(patient)
    client.patch(f"/api/v1/patients/{patient.id}", headers=headers, json={"is_active": False})
    assert client.get("/api/v1/me", headers=patient_headers).status_code == 401


def test_removing_the_last_contact_is_rejected(client, make, physio, headers):
    patient = make.patient(physio.clinic, physio, phone=None)
    response = client.patch(f"/api/v1/patients/{patient.id}", headers=headers, json={"email": None})
    assert response.status_code == 422


def test_patient_list_searches_by_name_and_pages(client, make, physio, headers):
    for name in ("Ann Able", "Bob Baker", "Ann Other"):
        make.patient(physio.clinic, physio, name=name)
    page = client.get("/api/v1/patients?q=ann&limit=1", headers=headers).json
    assert [p["name"] for p in page["items"]] == ["Ann Able"]
    rest = client.get(f"/api/v1/patients?q=ann&cursor={page['next_cursor']}", headers=headers).json
    assert [p["name"] for p in rest["items"]] == ["Ann Other"] and rest["next_cursor"] is None


def test_reads_and_changes_of_patient_data_are_audited(client, make, physio, headers):
    patient = make.patient(physio.clinic, physio)
    client.get(f"/api/v1/patients/{patient.id}", headers=headers)
    client.patch(f"/api/v1/patients/{patient.id}", headers=headers, json={"language": "es"})
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.actor_id, e.patient_id, e.action, e.resource) for e in events] == [
        (physio.id, patient.id, "read", "patient"),
        (physio.id, patient.id, "update", "patient"),
    ]


def test_audit_log_is_append_only_in_the_database(make, physio, client, headers):
    patient = make.patient(physio.clinic, physio)
    client.get(f"/api/v1/patients/{patient.id}", headers=headers)
    for statement in ("UPDATE audit_events SET action = 'tampered'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert db.session.scalar(sa.select(AuditEvent.action)) == "read"


def test_clinic_admin_reads_the_audit_log_for_one_patient(client, make, physio, headers):
    patient, other = make.patient(physio.clinic, physio), make.patient(physio.clinic, physio)
    client.get(f"/api/v1/patients/{patient.id}", headers=headers)
    client.get(f"/api/v1/patients/{other.id}", headers=headers)
    admin = make.headers(make.admin(physio.clinic))
    page = client.get(f"/api/v1/audit-events?patient_id={patient.id}", headers=admin).json
    assert [(e["patient_id"], e["action"]) for e in page["items"]] == [(patient.id, "read")]


def test_staff_management_is_for_clinic_admins(client, make, physio, headers):
    admin = make.admin(physio.clinic)
    body = {"name": "New Physio", "email": "newp@example.test", "role": "physiotherapist"}
    assert client.post("/api/v1/staff", headers=headers, json=body).status_code == 403
    created = client.post("/api/v1/staff", headers=make.headers(admin), json=body)
    assert created.status_code == 201
    code = created.json["activation"]["code"]
    assert client.post("/api/v1/auth/activate", json={"code": code, "password": "new-physio-pw"}).status_code == 200


def test_admin_cannot_demote_themself(client, make):
    admin = make.admin()
    response = client.patch(f"/api/v1/staff/{admin.id}", headers=make.headers(admin), json={"role": "physiotherapist"})
    assert response.status_code == 422


def test_deactivated_staff_lose_access(client, make, physio, headers):
    admin = make.headers(make.admin(physio.clinic))
    assert client.patch(f"/api/v1/staff/{physio.id}", headers=admin, json={"is_active": False}).status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize(("q", "expected"), [("%", ["100% Pat"]), ("_", ["Under_Score"]), ("a_b", [])])
def test_patient_search_matches_percent_and_underscore_literally(client, make, physio, headers, q, expected):
    for name in ("100% Pat", "Under_Score", "Axb Plain"):
        make.patient(physio.clinic, physio, name=name)
    found = client.get("/api/v1/patients", query_string={"q": q}, headers=headers).json["items"]
    assert [p["name"] for p in found] == expected


# --- each clinic's accounts are its own -------------------------------------------------------


def test_inviting_an_address_registered_at_another_clinic_reveals_nothing(client, make, physio, headers):
    elsewhere = make.patient(make.clinic(name="Other clinic"), email="shared@example.test", phone="+16045550199")
    fresh = invite(client, headers, email="fresh@example.test", phone="+16045550198")
    taken = invite(client, headers, email="shared@example.test", phone="+16045550199")
    assert fresh.status_code == taken.status_code == 201  # the same answer as for an address no one has
    assert set(fresh.json["patient"]) == set(taken.json["patient"])
    assert taken.json["patient"]["id"] != elsewhere.id
    assert invite(client, headers, email="shared@example.test").status_code == 409  # but once per clinic


def test_one_login_name_at_two_clinics_signs_in_to_the_account_its_password_opens(client, make):
    from tests.factories import PASSWORD

    here = make.physio(email="same@example.test", password=PASSWORD)
    there = make.physio(email="same@example.test", password="another-long-passphrase")
    for password, user in ((PASSWORD, here), ("another-long-passphrase", there)):
        pair = client.post("/api/v1/auth/token", json={"username": "Same@example.test", "password": password}).json
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).json
        assert (me["id"], me["clinic"]["id"]) == (user.id, user.clinic_id)


def test_a_password_that_opens_two_clinics_accounts_asks_which(client, make):
    from tests.factories import PASSWORD

    make.physio(email="twice@example.test", password=PASSWORD)
    there = make.physio(email="twice@example.test", password=PASSWORD)
    both = client.post("/api/v1/auth/token", json={"username": "twice@example.test", "password": PASSWORD})
    assert both.status_code == 409 and both.json["invalid_params"][0]["name"] == "clinic_id"
    chosen = client.post(
        "/api/v1/auth/token",
        json={"username": "twice@example.test", "password": PASSWORD, "clinic_id": there.clinic_id},
    )
    assert chosen.status_code == 200
