"""reconcile lookups: how many provider lookups of a send's current attempt found nothing

Revision ID: 0007_reconcile_lookups
Revises: 0006_early_provider_statuses
Create Date: 2026-12-02 18:30:00

Upgrade-safe: a new column with a server default, so existing rows read 0 (no lookup yet).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_reconcile_lookups'
down_revision = '0006_early_provider_statuses'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lookups', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_column('lookups')
