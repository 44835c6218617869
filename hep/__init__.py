"""HEP: home exercise programs between needling sessions."""

from __future__ import annotations

import os

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from hep import config as settings
from hep import db_connections, inputs, openapi, unique
from hep.audit import service as audit
from hep.dbtypes import render_migration_item, utcnow
from hep.errors import DomainError, Forbidden, NotFound, domain_error_response
from hep.extensions import api, db, limiter, migrate
from hep.fields import IdConverter


def create_app(config: dict | None = None) -> Flask:
    """Build the HEP app; `config` overrides settings read from the environment."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(settings.load(app.instance_path))
    if config:
        app.config.update(config)
    if app.config["TRUST_PROXY_HOPS"]:
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    app.url_map.converters["id"] = IdConverter
    inputs.init_app(app)
    db.init_app(app)
    with app.app_context():
        _configure_engine(app)
    migrate.init_app(
        app,
        db,
        directory=str(settings.PROJECT_ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
    )
    limiter.init_app(app)
    api.init_app(app, spec_kwargs=openapi.spec_kwargs())
    _register_blueprints(app)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(IntegrityError, unique.integrity_error)
    app.register_error_handler(OperationalError, db_connections.database_unavailable)
    app.after_request(_api_headers)

    from hep import api_docs, patient_app, web

    web.init_app(app)
    patient_app.init_app(app)
    api_docs.init_app(app)

    from hep.cli import register

    register(app)
    return app


def _domain_error(error: DomainError):
    """A domain error as problem details; a signed-in caller's refusal (403, or 404 for an id that is
    not theirs to see) is recorded in the audit log first."""
    if isinstance(error, NotFound | Forbidden) and g.get("principal") is not None:
        audit.refused(g.principal, request.endpoint or request.path, request.view_args or {}, now=utcnow())
    return domain_error_response(error)


def _api_headers(response):
    """API answers are never sniffed; a signed-in caller's answers (health data) are never stored by a
    cache, except the exercise library's, which may be kept privately: revalidated with its ETag, or as
    a figure says (a versioned figure URL never changes)."""
    if request.path.startswith(("/api/", "/calendar/")):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/api/") and g.get("principal") is not None:
        library = request.blueprint == "library"
        if not library:
            response.headers["Cache-Control"] = "no-store"
        elif not response.headers.get("Cache-Control", "").startswith("private"):
            response.headers["Cache-Control"] = "private, no-cache"
    return response


def _register_blueprints(app: Flask) -> None:
    from hep import health
    from hep.accounts import models as _accounts  # noqa: F401  (models register with metadata)
    from hep.accounts.routes import accounts_blp, auth_blp
    from hep.adherence import models as _adherence  # noqa: F401
    from hep.adherence.routes import blp as adherence_blp
    from hep.audit import models as _audit  # noqa: F401
    from hep.audit.routes import blp as audit_blp
    from hep.idempotency import models as _idempotency  # noqa: F401
    from hep.library.routes import blp as library_blp
    from hep.programs import models as _programs  # noqa: F401
    from hep.programs.routes import blp as programs_blp
    from hep.push import models as _push  # noqa: F401
    from hep.push.routes import blp as push_blp
    from hep.reminders import messages as _messages  # noqa: F401
    from hep.reminders import models as _reminders  # noqa: F401
    from hep.reminders import subscriptions, webhooks
    from hep.reminders.routes import blp as reminders_blp
    from hep.sessions import models as _sessions  # noqa: F401
    from hep.sessions.routes import blp as sessions_blp
    from hep.sessions.routes import feed_bp

    subscriptions.connect()
    app.register_blueprint(health.bp)
    app.register_blueprint(feed_bp)
    app.register_blueprint(webhooks.bp)
    for blueprint in (
        auth_blp,
        accounts_blp,
        library_blp,
        programs_blp,
        adherence_blp,
        sessions_blp,
        reminders_blp,
        push_blp,
        audit_blp,
    ):
        api.register_blueprint(blueprint)


def _configure_engine(app: Flask) -> None:
    engine = db.engine
    if engine.dialect.name != "sqlite":
        # A SQLite file cannot drop a connection; a server can (restart, failover, idle timeout).
        db_connections.ping_when_idle(engine, app.config["DB_PING_AFTER_IDLE_SECONDS"])
        return
    busy_ms = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
