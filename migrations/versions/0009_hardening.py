"""hardening: TRUNCATE refused on audit_events, patient notes on sessions, the calendar's own label

Revision ID: 0009_hardening
Revises: 0006_early_provider_statuses
Create Date: 2026-12-02 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_hardening'
down_revision = '0008_exercise_aliases_and_safety'
branch_labels = None
depends_on = None


def _sqlite_foreign_keys(on: bool) -> None:
    # SQLite rebuilds `users` to change its constraints, and dropping the old copy would trip the
    # foreign keys of every row that refers to a user; they are switched off for the rebuild, and
    # checked afterwards. (The pragma is ignored inside a transaction: upgrading from 0006, as a
    # deployment does, the migration starts outside one.)
    if op.get_bind().dialect.name != "sqlite":
        return
    if on:
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")
    op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def upgrade():
    # Accounts are per clinic: e-mail and phone unique within a clinic, not across the server.
    _sqlite_foreign_keys(False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_email', type_='unique')
        batch_op.drop_constraint('uq_users_phone', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_users_clinic_id_email'), ['clinic_id', 'email'])
        batch_op.create_unique_constraint(batch_op.f('uq_users_clinic_id_phone'), ['clinic_id', 'phone'])
        batch_op.create_index(batch_op.f('ix_users_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_phone'), ['phone'], unique=False)
    _sqlite_foreign_keys(True)
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('patient_note', sa.Text(), nullable=True))
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_label', sa.String(length=60), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Row triggers (0001) refuse UPDATE and DELETE; TRUNCATE fires only statement triggers.
        # SQLite has no TRUNCATE: its "DELETE FROM audit_events" is refused by the 0001 trigger.
        op.execute(
            "CREATE FUNCTION audit_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only: TRUNCATE is refused'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_no_truncate()"
        )


def downgrade():
    _sqlite_foreign_keys(False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_no_truncate()")
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('calendar_label')
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.drop_column('patient_note')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_phone'))
        batch_op.drop_index(batch_op.f('ix_users_email'))
        batch_op.drop_constraint(batch_op.f('uq_users_clinic_id_phone'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_users_clinic_id_email'), type_='unique')
        batch_op.create_unique_constraint('uq_users_phone', ['phone'])
        batch_op.create_unique_constraint('uq_users_email', ['email'])
    _sqlite_foreign_keys(True)
