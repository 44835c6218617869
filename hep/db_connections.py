"""Pooled database connections: checked before use after sitting idle, and a lost one answered as a 503.

SQLAlchemy's `pool_pre_ping` sends the server a round trip before every request. A connection handed
back a moment ago is almost certainly still good, so HEP pings only one that has been idle for longer
than DB_PING_AFTER_IDLE_SECONDS: the database is spared one statement per request (benchmarks/pool_ping.py
found no throughput difference on the plan and the sync, search 14 % faster, within its noise).
After a database restart or failover, a worker that was idle through it pings, reconnects and
answers. A worker that used its connection within that window gets one disconnect error: that
request is answered 503 with Retry-After, the pool drops every connection made before the error,
and the next request reconnects (tests/test_database_restarts.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import current_app, request
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from hep.errors import problem
from hep.extensions import discard_transaction
from hep.web.errors import error_page, is_web_path

_LAST_USED = "hep_last_used"


def ping_when_idle(engine: Engine, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
    """Ping a pooled connection at checkout when it has been idle longer than `idle_seconds`; a dead one
    invalidates the whole pool (its siblings died with the same server) and the pool connects anew."""

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection, record) -> None:
        record.info[_LAST_USED] = clock()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        record.info[_LAST_USED] = clock()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        if clock() - record.info.get(_LAST_USED, float("-inf")) <= idle_seconds:
            return
        if not _alive(engine, dbapi_connection):
            raise exc.InvalidatePoolError("pooled connection was dead after sitting idle")


def _alive(engine: Engine, dbapi_connection) -> bool:
    dialect = engine.dialect
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, dbapi_connection, None):
            return False
        raise
    return True


def database_unavailable(error: exc.OperationalError):
    """The database could not be reached, lost the connection, or was busy: 503, safe to retry."""
    current_app.logger.error("database unavailable: %s", error.orig)
    detail = "The database could not be reached or lost the connection. Try again in a moment; retrying is safe."
    if is_web_path(request.path):
        page, status = error_page(503, detail)
        return page, status, {"Retry-After": "1"}
    discard_transaction()
    return problem(
        503, code="database-unavailable", title="Database unavailable", detail=detail, headers={"Retry-After": "1"}
    )
