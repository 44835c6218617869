"""one scheduled session per patient and start

Revision ID: 0005_one_session_per_start
Revises: 0004_text_reminders
Create Date: 2026-11-23 23:30:00

A concurrently retried booking could insert the same session twice. Before the unique index is
created, any such duplicates already stored are settled: the first booking stays, later copies are
marked cancelled (their reminders are withdrawn by the next planning run), so the upgrade cannot
fail on existing data.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_one_session_per_start'
down_revision = '0004_text_reminders'
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'scheduled'")


def upgrade():
    op.execute(
        "UPDATE needling_sessions SET status = 'cancelled', "
        "notes = COALESCE(notes || ' ', '') || '[duplicate booking cancelled by upgrade]' "
        "WHERE status = 'scheduled' AND id NOT IN ("
        "SELECT min(id) FROM needling_sessions WHERE status = 'scheduled' GROUP BY patient_id, starts_at)"
    )
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.create_index(
            'uq_needling_sessions_scheduled_start', ['patient_id', 'starts_at'], unique=True,
            sqlite_where=WHERE, postgresql_where=WHERE,
        )


def downgrade():
    with op.batch_alter_table('needling_sessions', schema=None) as batch_op:
        batch_op.drop_index('uq_needling_sessions_scheduled_start', sqlite_where=WHERE, postgresql_where=WHERE)
