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


def test_upgrading_merges_duplicate_exercises_and_old_prescriptions_keep_working(empty_database):
    from datetime import UTC, datetime

    from hep.accounts.models import User
    from hep.config import PROJECT_ROOT
    from hep.content import load_shipped
    from hep.library.service import get_exercise
    from hep.programs.plan import today_plan

    app = create_app(app_settings(empty_database))
    with app.app_context():
        upgrade(revision="0006_early_provider_statuses")
        with db.engine.begin() as conn:
            for statement in SEED_DUPLICATE_EXERCISES.split(";")[:-1]:
                conn.execute(sa.text(statement))
            if conn.dialect.name == "postgresql":  # the seed chose ids itself
                conn.execute(sa.text("SELECT setval('exercises_id_seq', 3)"))
        upgrade()
        with db.engine.connect() as conn:
            items = dict(conn.execute(sa.text("SELECT id, exercise_id FROM routine_items")).all())
            logs = conn.execute(sa.text("SELECT exercise_id FROM adherence_logs")).scalars().all()
            slugs = dict(conn.execute(sa.text("SELECT id, slug FROM exercises")).all())
            aliases = dict(conn.execute(sa.text("SELECT slug, exercise_id FROM exercise_aliases")).all())
            tags = conn.execute(sa.text("SELECT count(*) FROM exercise_tags WHERE exercise_id = 1")).scalar()
        assert items == {1: 2, 2: 3} and logs == [2] and tags == 0
        assert slugs == {2: "tb-open-book", 3: "knee-wall-sit-isometric"}  # 1 merged; 3 renamed to its survivor
        assert aliases == {"trunk-open-book": 2, "lb-wall-sit": 3}

        load_shipped(PROJECT_ROOT / "exercises", now=datetime(2026, 11, 23, tzinfo=UTC))
        assert get_exercise(1, "trunk-open-book").slug == "tb-open-book"
        assert get_exercise(1, "lb-wall-sit").name == "Wall sit hold"
        plan = today_plan(db.session.get(User, 2), 2, now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
        assert [(i["exercise"]["slug"], i["done_today"]) for i in plan["items"]] == [
            ("tb-open-book", 1.0),
            ("knee-wall-sit-isometric", 0.0),
        ]
        assert [b["key"] for b in plan["safety"]] == ["after-needling", "long-holds"]
        db.session.remove()
        db.engine.dispose()


# Before 0008: two library rows for one exercise (1 and 2), a prescription and a log on the one that is
# retired, and a retired row (3) whose survivor was never loaded.
_EXERCISE_COLUMNS = (
    "id, slug, clinic_id, name, summary, category, position, difficulty, steps, cues, common_mistakes, precautions,"
    " contraindications, default_dosage, progressions, regressions, media, search_text, content_hash, created_at,"
    " updated_at"
)
_EXERCISE_VALUES = (
    "'Old name', 'An old summary.', 'mobility', 'side-lying', 2, '[]', '[]', '[]', '[]', '[]',"
    " '{\"sets\": 1, \"reps\": 10}', '[]', '[]', '[]', 'old', 'x', '2026-11-01 00:00:00+00', '2026-11-01 00:00:00+00'"
)
SEED_DUPLICATE_EXERCISES = f"""
INSERT INTO clinics (id, name, timezone, created_at) VALUES (1, 'C', 'UTC', '2026-11-01 00:00:00+00');
INSERT INTO users (id, clinic_id, role, name, email, is_active, created_at)
    VALUES (1, 1, 'physiotherapist', 'P', 'p@x.test', TRUE, '2026-11-01 00:00:00+00'),
           (2, 1, 'patient', 'Q', 'q@x.test', TRUE, '2026-11-01 00:00:00+00');
INSERT INTO patients (user_id, physiotherapist_id, timezone, language) VALUES (2, 1, 'UTC', 'en');
INSERT INTO exercises ({_EXERCISE_COLUMNS}) VALUES
    (1, 'trunk-open-book', NULL, {_EXERCISE_VALUES}),
    (2, 'tb-open-book', NULL, {_EXERCISE_VALUES}),
    (3, 'lb-wall-sit', NULL, {_EXERCISE_VALUES});
INSERT INTO exercise_tags (exercise_id, kind, value, position) VALUES (1, 'region', 'upper-back', 0);
INSERT INTO routines (id, patient_id, created_by_id, created_at) VALUES (1, 2, 1, '2026-11-01 00:00:00+00');
INSERT INTO routine_versions
    (id, routine_id, number, title, start_date, effective_from, content_hash, created_by_id, created_at)
    VALUES (1, 1, 1, 'Home program', '2026-11-16', '2026-11-16', 'h', 1, '2026-11-01 00:00:00+00');
INSERT INTO routine_phases (id, version_id, position, name, start_date) VALUES (1, 1, 0, 'Phase 1', '2026-11-16');
INSERT INTO routine_items
    (id, phase_id, position, exercise_id, sets, reps, rest_seconds, side, times_per_day, days_per_week)
    VALUES (1, 1, 0, 1, 1, 10, 0, 'both', 1, 7), (2, 1, 1, 3, 1, 10, 0, 'both', 1, 7);
INSERT INTO adherence_logs
    (id, patient_id, routine_id, routine_item_id, exercise_id, side, prescribed, performed_at, utc_offset_minutes,
     local_date, sets_done, credit, source, content_hash, created_at, updated_at)
    VALUES ('00000000000000000000000000000001', 2, 1, 1, 1, 'both', '{{"exercise": "trunk-open-book", "sets": 1}}',
            '2026-11-23 09:00:00+00', 0, '2026-11-23', 1, 1.0, 'app', 'h', '2026-11-23 09:00:00+00',
            '2026-11-23 09:00:00+00');
"""
