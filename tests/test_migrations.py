"""Migrations: one head, they build the schema from nothing, and they agree with the models."""

from __future__ import annotations

import pytest
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
