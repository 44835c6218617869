"""Running the app as a PostgreSQL role that cannot alter the audit log.

With MIGRATION_DATABASE_URL set, `flask db upgrade` connects as that (owner) role, and afterwards
grants the role in DATABASE_URL what the app needs and no more: read and write on every table,
but only SELECT and INSERT on audit_events. Not being the owner, the app role cannot ALTER, DROP or
TRUNCATE a table, nor disable the triggers that refuse UPDATE, DELETE and TRUNCATE of the log.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

APPEND_ONLY = ("audit_events", "alembic_version")


def grant_app_role(connection: Connection, role: str) -> None:
    """Give `role` the app's privileges on every table of the public schema (safe to repeat)."""
    quoted = connection.dialect.identifier_preparer.quote(role)
    connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
    connection.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"))
    connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
    for table in APPEND_ONLY:
        connection.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {quoted}"))
    connection.execute(text(f"REVOKE INSERT ON alembic_version FROM {quoted}"))
