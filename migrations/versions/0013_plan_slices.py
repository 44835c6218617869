"""plan slices: the periodic plan split by patient across scheduler processes

Revision ID: 0013_plan_slices
Revises: 0012_reminder_channel
Create Date: 2026-12-03 13:10:00

Additive only: a new table, filled by the schedulers as they plan (an empty table means every slice
is due, which is what a first run after the upgrade should do).
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_plan_slices'
down_revision = '0012_reminder_channel'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'plan_slices',
        sa.Column('slices', sa.Integer(), nullable=False),
        sa.Column('slice', sa.Integer(), nullable=False),
        sa.Column('lease_owner', sa.String(length=80), nullable=True),
        sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('planned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('planned_by', sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint('slices', 'slice', name=op.f('pk_plan_slices')),
    )


def downgrade():
    op.drop_table('plan_slices')
