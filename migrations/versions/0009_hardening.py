"""hardening: TRUNCATE refused on audit_events, patient notes on sessions, the calendar's own label

Revision ID: 0009_hardening
Revises: 0006_early_provider_statuses
Create Date: 2026-12-02 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_hardening'
down_revision = '0006_early_provider_statuses'
branch_labels = None
depends_on = None


def upgrade():
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
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_no_truncate()")
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('calendar_label')
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.drop_column('patient_note')
