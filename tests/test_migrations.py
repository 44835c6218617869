"""Migrations: one head, they build the schema from nothing, and they agree with the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from hep import create_app
from hep.dbtypes import render_migration_item
from hep.extensions import db
from hep.health import migration_heads
from tests.conftest import app_settings, create_pg_database, drop_pg_database


def test_there_is_a_single_head():
    assert len(migration_heads()) == 1


@pytest.fixture
def empty_database(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = create_pg_database("hep_migrate")
    yield url
    drop_pg_database(url)


def _diff(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_item": render_migration_item})
        return compare_metadata(context, db.metadata)


def test_upgrade_from_nothing_matches_the_models(empty_database):
    app = create_app(app_settings(empty_database))
    with app.app_context():
        upgrade()
        assert _diff(app) == []
        db.engine.dispose()


def test_downgrade_to_nothing_and_up_again(empty_database):
    app = create_app(app_settings(empty_database))
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        assert _diff(app) == []
        db.engine.dispose()


def test_upgrading_past_duplicate_bookings_keeps_the_first_and_cancels_the_copies(empty_database):
    app = create_app(app_settings(empty_database))
    with app.app_context():
        upgrade(revision="0004_text_reminders")
        with db.engine.begin() as conn:
            for statement in SEED_DUPLICATE_BOOKING.split(";")[:-1]:
                conn.execute(sa.text(statement))
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, status, notes FROM needling_sessions ORDER BY id")).all()
        db.engine.dispose()
    assert [(r.id, r.status) for r in rows] == [(1, "scheduled"), (2, "cancelled"), (3, "scheduled")]
    assert rows[1].notes == "[duplicate booking cancelled by upgrade]"


# Two scheduled sessions of one patient at the same start (what a concurrent retry could store
# before 0005), and a third at another start.
SEED_DUPLICATE_BOOKING = """
INSERT INTO clinics (id, name, timezone, created_at) VALUES (1, 'C', 'UTC', '2026-11-01 00:00:00+00');
INSERT INTO users (id, clinic_id, role, name, email, is_active, created_at)
    VALUES (1, 1, 'physiotherapist', 'P', 'p@x.test', TRUE, '2026-11-01 00:00:00+00'),
           (2, 1, 'patient', 'Q', 'q@x.test', TRUE, '2026-11-01 00:00:00+00');
INSERT INTO patients (user_id, physiotherapist_id, timezone, language) VALUES (2, 1, 'UTC', 'en');
INSERT INTO needling_sessions
    (id, patient_id, physiotherapist_id, starts_at, duration_minutes, status, sequence, created_at, updated_at)
    VALUES (1, 2, 1, '2026-12-01 10:00:00+00', 30, 'scheduled', 0, '2026-11-01 00:00:00+00', '2026-11-01 00:00:00+00'),
           (2, 2, 1, '2026-12-01 10:00:00+00', 30, 'scheduled', 0, '2026-11-01 00:00:00+00', '2026-11-01 00:00:00+00'),
           (3, 2, 1, '2026-12-02 10:00:00+00', 30, 'scheduled', 0, '2026-11-01 00:00:00+00', '2026-11-01 00:00:00+00');
"""
