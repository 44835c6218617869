"""The audit log (HIPAA 164.312(b)): every read or change of a patient's data leaves one event in the
same transaction; refusals and failed sign-ins are recorded without PHI; nobody can wipe the log."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from hep import create_app
from hep.audit.models import AuditEvent
from hep.extensions import db
from tests import authz_world as w
from tests.conftest import app_settings, create_pg_database, drop_pg_database, pg_admin_url, require_postgresql
from tests.factories import PASSWORD, web_sign_in

ROOT = Path(__file__).resolve().parent.parent


# --- nobody can wipe it ----------------------------------------------------------------------


def test_truncate_is_refused_even_for_the_owner(app, make):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE FROM audit_events is refused by a trigger")
    make.clinic()
    db.session.execute(sa.insert(AuditEvent).values(at=sa.func.now(), clinic_id=1, action="read", resource="x"))
    db.session.commit()
    for statement in ("TRUNCATE audit_events", "TRUNCATE clinics CASCADE"):
        with pytest.raises(sa.exc.DatabaseError, match="TRUNCATE is refused"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1


def test_delete_is_refused_on_either_database(app, make):
    make.clinic()
    db.session.execute(sa.insert(AuditEvent).values(at=sa.func.now(), clinic_id=1, action="read", resource="x"))
    db.session.commit()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_events"))
    db.session.rollback()


@pytest.fixture
def owner_and_app_role():
    """A database migrated by its owner (MIGRATION_DATABASE_URL) for an app role of its own."""
    require_postgresql("running the app as a role that cannot alter the audit log")
    url = create_pg_database("hep_roles")
    role = f"hep_app_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    app_url = sa.make_url(url).set(username=role).render_as_string(False)
    try:
        yield url, app_url, role
    finally:
        drop_pg_database(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_the_app_can_run_as_a_role_that_cannot_alter_the_audit_log(owner_and_app_role):
    owner_url, app_url, _role = owner_and_app_role
    env = {
        **os.environ,
        "DATABASE_URL": app_url.replace("postgresql+psycopg://", "postgresql://", 1),
        "MIGRATION_DATABASE_URL": owner_url,
        "SECRET_KEY": "roles",
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]

    app = create_app(app_settings(app_url))
    with app.app_context():
        assert app.test_client().get("/healthz").status_code == 200  # the app works as that role
        from tests.factories import Factories

        physio = Factories().physio()
        headers = Factories().headers(physio)
        assert app.test_client().get("/api/v1/patients", headers=headers).status_code == 200  # and is audited
        db.session.remove()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1
        refused = [
            "UPDATE audit_events SET action = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
            "DROP TRIGGER audit_events_append_only ON audit_events",
            "DROP TABLE audit_events",
            "SET session_replication_role = replica",
        ]
        for statement in refused:
            with pytest.raises(sa.exc.DatabaseError, match=r"permission denied|must be owner"):
                db.session.execute(sa.text(statement))
            db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1
        db.session.remove()
        db.engine.dispose()


# --- every read or change of a patient's data leaves one event --------------------------------


def _new_events(after: int) -> list[tuple]:
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)).all()
    return [(e.actor_id, e.patient_id, e.action, e.resource) for e in rows]


def _last_id() -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))


P = "/api/v1/patients/{patient}"
EVENTS = [
    # (caller, method, url, body, action, resource, about the patient?)
    (w.PHYSIO, "GET", P + "/sessions", None, "read", "session_list", True),
    (w.SELF, "GET", P + "/sessions", None, "read", "session_list", True),
    (w.PHYSIO, "GET", "/api/v1/sessions", None, "read", "session_list", False),
    (w.SELF, "GET", "/api/v1/sessions/{session}", None, "read", "session", True),
    (w.PHYSIO, "GET", P + "/today", None, "read", "today", True),
    (w.SELF, "GET", P + "/today", None, "read", "today", True),
    (w.PHYSIO, "GET", P + "/routine", None, "read", "routine", True),
    (w.SELF, "GET", P + "/routine", None, "read", "routine", True),
    (w.SELF, "GET", "/api/v1/routines/{routine}", None, "read", "routine", True),
    (w.PHYSIO, "GET", "/api/v1/routines/{routine}/versions", None, "read", "routine_versions", True),
    (w.PHYSIO, "GET", "/api/v1/routines/{routine}/versions/1", None, "read", "routine_version", True),
    (w.PHYSIO, "GET", P + "/sms", None, "read", "sms_status", True),
    (w.PHYSIO, "GET", P + "/reminders", None, "read", "reminders", True),
    (w.SELF, "DELETE", P + "/sms/consent", None, "update", "sms_consent", True),
    (w.PHYSIO, "POST", P + "/sms/consent", {"method": "verbal"}, "read", "sms_consent", True),  # already given
    (w.SELF, "PUT", P + "/sms/times", {"exercise_times": ["07:30"]}, "update", "sms_times", True),
    (w.SELF, "PATCH", P + "/logs/{log}", {"pain_after": 2}, "update", "log", True),
    (w.SELF, "DELETE", P + "/logs/{log}", None, "delete", "log", True),
]


@pytest.mark.parametrize(
    ("caller", "method", "url", "body", "action", "resource", "about"),
    EVENTS,
    ids=[f"{e[1]} {e[2]} as {e[0]}" for e in EVENTS],
)
def test_each_read_or_change_leaves_one_event(client, make, caller, method, url, body, action, resource, about):
    world = w.build(make)
    url = url.format(
        patient=world.patient.id,
        session=world.extra["session"].id,
        routine=world.extra["routine"].id,
        log=world.extra["log_id"],
    )
    before = _last_id()
    response = client.open(url, method=method, headers=world.headers[caller], json=body)
    assert response.status_code < 300, response.get_json()
    actor = world.users[caller].id
    assert _new_events(before) == [(actor, world.patient.id if about else None, action, resource)]


def test_the_patients_own_log_writes_are_recorded(client, make):
    world = w.build(make)
    from tests.test_authorization_matrix import _entry

    before = _last_id()
    response = client.post(
        f"/api/v1/patients/{world.patient.id}/logs/batch",
        json={"entries": [_entry(world)]},
        headers=world.headers[w.SELF],
    )
    assert response.json["counts"]["created"] == 1
    assert _new_events(before) == [(world.patient.id, world.patient.id, "create", "logs")]


def test_the_web_apps_session_list_is_recorded(client, make):
    world = w.build(make)
    web_sign_in(client, world.physio)
    before = _last_id()
    assert client.get("/sessions").status_code == 200
    assert _new_events(before) == [(world.physio.id, None, "read", "session_list")]


def test_a_calendar_feed_read_is_recorded_without_an_actor(client, make):
    world = w.build(make)
    link = client.post(f"/api/v1/patients/{world.patient.id}/calendar-feed", headers=world.headers[w.SELF]).json
    before = _last_id()
    assert client.get(link["url"].removeprefix("http://localhost")).status_code == 200
    assert _new_events(before) == [(None, world.patient.id, "read", "calendar_feed")]


def test_another_clinics_id_is_refused_and_recorded_without_phi(client, make):
    world = w.build(make)
    outsider = world.users[w.OUT_PHYSIO]
    before = _last_id()
    response = client.get(f"/api/v1/patients/{world.patient.id}", headers=world.headers[w.OUT_PHYSIO])
    assert response.status_code == 404
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > before)).one()
    assert (event.clinic_id, event.actor_id, event.patient_id) == (outsider.clinic_id, outsider.id, None)
    assert (event.action, event.resource, event.resource_id) == (
        "refused",
        "accounts.get_patient",
        f"patient_id={world.patient.id}",
    )


def test_a_refusal_in_the_web_app_is_recorded(client, make):
    world = w.build(make)
    outsider = world.users[w.OUT_PHYSIO]
    web_sign_in(client, outsider)
    before = _last_id()
    assert client.get(f"/patients/{world.patient.id}").status_code == 404
    assert _new_events(before) == [(outsider.id, None, "refused", "web.patient")]


def test_a_failed_sign_in_is_recorded_for_the_account_without_what_was_typed(client, make):
    from hep.accounts.passwords import hash_password

    physio = make.physio()
    physio.password_hash = hash_password(PASSWORD)
    db.session.commit()
    before = _last_id()
    response = client.post("/api/v1/auth/token", json={"username": physio.email, "password": "not-the-password"})
    assert response.status_code == 401
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > before)).one()
    assert (event.clinic_id, event.actor_id, event.action, event.resource, event.resource_id) == (
        physio.clinic_id,
        None,
        "refused",
        "sign_in",
        str(physio.id),
    )
    unknown = client.post("/api/v1/auth/token", json={"username": "nobody@example.test", "password": "whatever-1"})
    assert unknown.status_code == 401
    assert _new_events(event.id) == []  # no account, no clinic: the app log notes it, the audit log does not
