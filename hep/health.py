"""GET /healthz: is the database reachable and is its schema at the newest migration?"""

from __future__ import annotations

from functools import lru_cache

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, jsonify
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from hep.config import PROJECT_ROOT
from hep.extensions import db

bp = Blueprint("health", __name__)
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    """The head revisions of the migrations shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def check() -> tuple[bool, dict]:
    """Run the health checks; return (healthy, details)."""
    details: dict = {"database": "ok", "migrations": "current"}
    try:
        applied = set(db.session.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError as exc:
        db.session.rollback()
        message = str(exc.orig if hasattr(exc, "orig") else exc).splitlines()[0]
        if "alembic_version" in message:
            details["migrations"] = "not applied: run flask --app wsgi db upgrade"
        else:
            details["database"] = f"unreachable: {message}"
            details["migrations"] = "unknown"
        return False, details
    heads = migration_heads()
    if applied != heads:
        details["migrations"] = f"database at {sorted(applied)}, code expects {sorted(heads)}: run db upgrade"
        return False, details
    details["scheduler"] = _scheduler()
    return True, details


def _scheduler() -> dict:
    """The newest scheduler heartbeat; reported, not judged: the API works without the scheduler."""
    from hep.reminders.models import Heartbeat

    last = db.session.scalar(select(func.max(Heartbeat.beat_at)))
    processes = db.session.scalar(select(func.count()).select_from(Heartbeat))
    return {"last_heartbeat": last.isoformat() if last else None, "processes_seen": processes}


@bp.get("/livez")
def livez():
    """Liveness: the process answers. Touches nothing else (also the benchmarks' baseline)."""
    return jsonify(status="ok")


@bp.get("/healthz")
def healthz():
    healthy, details = check()
    return jsonify(status="ok" if healthy else "unhealthy", checks=details), 200 if healthy else 503
