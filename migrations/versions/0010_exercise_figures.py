"""exercise figures: pose data drawn as the exercise's picture

Revision ID: 0010_exercise_figures
Revises: 0006_early_provider_statuses
Create Date: 2026-11-24 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_exercise_figures'
down_revision = '0009_hardening'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exercises', schema=None) as batch_op:
        batch_op.add_column(sa.Column('figure', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('exercises', schema=None) as batch_op:
        batch_op.drop_column('figure')
