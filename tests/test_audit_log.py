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
from tests.conftest import app_settings, create_pg_database, drop_pg_database, pg_admin_url, require_postgresql

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
