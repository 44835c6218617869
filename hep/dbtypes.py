"""Column types and helpers shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from sqlalchemy import ColumnElement, DateTime, Integer, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeDecorator

from hep.extensions import db


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def among(column, name: str, dialect_name: str) -> ColumnElement[bool]:
    """`column IN (<ids bound as name>)`, as text that stays the same whatever the number of ids.

    On PostgreSQL that is `= ANY(<one array parameter>)`, so the driver and the server see one
    statement however many ids a batch has; SQLite has no arrays and gets an expanding IN.
    """
    if dialect_name == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))


@cache
def driver_sql(statement, dialect) -> tuple[str, dict]:
    """A statement as the driver's SQL, with the values of its own literals (bound parameters given none)."""
    compiled = statement.compile(dialect=dialect)
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}


def plain_rows(statement, params: dict) -> list[tuple]:
    """A cached statement's rows as plain tuples; on PostgreSQL through psycopg's own cursor, in the session's
    transaction.

    For bulk reads of many small rows, where SQLAlchemy's Row objects would cost more than the query. Only for
    columns the driver returns as SQLAlchemy would (PostgreSQL's numbers, strings, dates, JSON); SQLite's dates
    need SQLAlchemy's conversion, so it keeps it.
    """
    dialect = db.engine.dialect
    if dialect.name != "postgresql":
        return [tuple(row) for row in db.session.execute(statement, params)]
    sql, literals = driver_sql(statement, dialect)
    with db.session.connection().connection.driver_connection.cursor() as cursor:
        return cursor.execute(sql, literals | params).fetchall()


def _insert(model, values: dict):
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).values(**values)


def insert_new(model, values: dict, *, keys: list[str]) -> bool:
    """INSERT ... ON CONFLICT (keys) DO NOTHING: True when this call inserted the row.

    Under concurrency the loser waits for the winner's transaction and then inserts nothing, so two
    identical first-time writes cannot both fail or both insert (no IntegrityError to catch).
    """
    statement = _insert(model, values).on_conflict_do_nothing(index_elements=keys)
    # RETURNING rather than rowcount, which the ORM's insert reports as -1 on PostgreSQL.
    returned = statement.returning(*model.__table__.primary_key.columns)
    return db.session.execute(returned).first() is not None


def upsert(model, values: dict, *, keys: list[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET the other given columns: the last writer wins."""
    statement = _insert(model, values)
    changed = {name: statement.excluded[name] for name in values if name not in keys}
    db.session.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def render_migration_item(type_, obj, autogen_context):
    """Alembic hook: write UTCDateTime into migrations as a plain timestamptz column.

    Migrations must not import application code, which changes after they are written.
    """
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
