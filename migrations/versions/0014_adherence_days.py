"""adherence days: each patient-day's tally, kept for the risk list and the clinic report

Revision ID: 0014_adherence_days
Revises: 0013_plan_slices
Create Date: 2026-12-04 20:30:00

Additive only: a new table, filled by the readers as they need days (an empty table means every day is
worked out from the logs once, which is what a first report after the upgrade does).
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_adherence_days'
down_revision = '0013_plan_slices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'adherence_days',
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('local_date', sa.Date(), nullable=False),
        sa.Column('gen', sa.Integer(), nullable=False),
        sa.Column('stale', sa.Boolean(), nullable=False),
        sa.Column('plan_key', sa.String(length=16), nullable=False),
        sa.Column('fixed_due', sa.Float(), nullable=False),
        sa.Column('fixed_done', sa.Float(), nullable=False),
        sa.Column('flexible', sa.Text(), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('pain_before_sum', sa.Float(), nullable=False),
        sa.Column('pain_before_n', sa.Integer(), nullable=False),
        sa.Column('pain_after_sum', sa.Float(), nullable=False),
        sa.Column('pain_after_n', sa.Integer(), nullable=False),
        sa.Column('pain_texted_sum', sa.Float(), nullable=False),
        sa.Column('pain_texted_n', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patients.user_id'], name=op.f('fk_adherence_days_patient_id_patients')
        ),
        sa.PrimaryKeyConstraint('patient_id', 'local_date', name=op.f('pk_adherence_days')),
    )


def downgrade():
    op.drop_table('adherence_days')
