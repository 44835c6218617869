"""The floor under the hot paths: bare Flask and the bare driver making the same round trips as HEP.

hot_paths.py serves this beside HEP (gunicorn, the same workers, the same database) and drives it like
the real endpoints. Each route makes the number of round trips HEP's endpoint makes, as counted by
benchmarks/footprint.py (today's plan: 6 SELECTs, an INSERT and a commit; library search: 3 SELECTs; a
batch of 50: 3 SELECTs, one executemany INSERT of the entries, one INSERT and a commit), parses the
request body when there is one, and answers a JSON body as large as HEP's. The SELECTs are `SELECT 1`:
no plan, no index, no row to decode, so this is a lower bound, not a model of HEP. No ORM, no schemas,
no auth, no rate limit, no ETag.

    DATABASE_URL=postgresql://... gunicorn -w 2 benchmarks.floor_app:app
"""

from __future__ import annotations

import json
import os
import sqlite3

from flask import Flask, Response, request

app = Flask(__name__)
_URL = os.environ["DATABASE_URL"]
_connection = None  # one per worker process, opened on first use (after gunicorn forks)
_SCRATCH = "CREATE TABLE IF NOT EXISTS bench_floor (patient integer, body text)"


def _db():
    global _connection
    if _connection is None:
        if _URL.startswith("postgresql"):
            import psycopg

            connection = psycopg.connect(_URL.replace("postgresql+psycopg://", "postgresql://"))
            # Both workers start at once: two CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL
            # (one fails on pg_type's unique index and leaves its worker's transaction aborted for good).
            connection.execute("SELECT pg_advisory_xact_lock(4217)")
        else:
            connection = sqlite3.connect(_URL.removeprefix("sqlite:///"), isolation_level="DEFERRED", timeout=30)
        connection.execute(_SCRATCH)
        connection.commit()
        _connection = connection  # only once it works: a failed first request leaves the next to try again
    return _connection


def _selects(count: int) -> None:
    connection = _db()
    for _ in range(count):
        connection.execute("SELECT 1").fetchall()


def _body(size: int) -> Response:
    filler = "x" * max(0, size - 8)
    return Response(f'{{"x":"{filler}"}}', mimetype="application/json")


@app.get("/livez")
def livez():
    return "ok"


@app.get("/floor/plan")
def plan():
    """Today's plan's round trips: 6 SELECTs, the audit INSERT, a commit."""
    _selects(6)
    connection = _db()
    connection.execute("INSERT INTO bench_floor (patient, body) VALUES (1, 'read')")
    connection.commit()
    return _body(int(request.args.get("size", 2000)))


@app.get("/floor/search")
def search():
    """Library search's round trips: 3 SELECTs, nothing written."""
    _selects(3)
    _db().rollback()
    return _body(int(request.args.get("size", 4000)))


@app.post("/floor/sync")
def sync():
    """A batch's round trips: 3 SELECTs, the entries in one executemany, the audit INSERT, a commit."""
    entries = json.loads(request.get_data())["entries"]
    _selects(3)
    connection = _db()
    rows = [(1, json.dumps(entry)) for entry in entries]
    if isinstance(connection, sqlite3.Connection):
        connection.executemany("INSERT INTO bench_floor (patient, body) VALUES (?, ?)", rows)
    else:
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO bench_floor (patient, body) VALUES (%s, %s)", rows)
    connection.execute("INSERT INTO bench_floor (patient, body) VALUES (1, 'sync')")
    connection.commit()
    return _body(int(request.args.get("size", 1500)))
