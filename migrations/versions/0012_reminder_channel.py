"""reminder channel: which channel (sms or push) each reminder's current attempt went by

Revision ID: 0012_reminder_channel
Revises: 0011_push_subscriptions
Create Date: 2026-12-03 10:20:00

Additive only: existing rows were all texts, so the server default 'sms' is their truth.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_reminder_channel'
down_revision = '0011_push_subscriptions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), server_default='sms', nullable=False))


def downgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_column('channel')
