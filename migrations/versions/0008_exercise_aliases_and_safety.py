"""exercise aliases and safety blocks; loading by repetition maximum; the clinic's pain rule

Eighteen near-duplicate library exercises were merged into one each (exercises/*.yaml list the old
slugs under `aliases`). For each pair this upgrade re-points the routine items and logs of the
retired row to the surviving row, deletes the retired row and records its slug as an alias, so
prescriptions, logs and links made with the old slug keep working. When the surviving row does not
exist yet (the library was loaded before the survivor's file existed) the retired row is renamed
to the survivor's slug instead; `flask load-exercises` then fills in its new content. A database
on which the library was never loaded has nothing to merge.

Revision ID: 0008_exercise_aliases_and_safety
Revises: 0006_early_provider_statuses
Create Date: 2026-11-24 10:00:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_exercise_aliases_and_safety'
down_revision = '0007_reconcile_lookups'
branch_labels = None
depends_on = None

# (retired slug, surviving slug), as merged in this revision. Frozen: later merges need no migration
# (load-exercises folds them), and this list must not change once released.
MERGED = (
    ('trunk-open-book', 'tb-open-book'),
    ('trunk-seated-rotation', 'tb-seated-rotation'),
    ('trunk-thread-the-needle', 'tb-thread-the-needle'),
    ('trunk-thoracic-extension-chair', 'tb-seated-extension-chair'),
    ('trunk-thoracic-extension-foam-roller', 'tb-extension-foam-roller'),
    ('tb-prone-t-raise', 'shoulder-prone-t'),
    ('tb-prone-y-raise', 'shoulder-prone-y'),
    ('posture-band-row', 'shoulder-band-row'),
    ('posture-scapular-setting', 'shoulder-scapular-setting'),
    ('shoulder-doorway-chest-stretch', 'posture-doorway-pec-stretch'),
    ('trunk-hip-flexor-stretch-standing', 'hip-flexor-stretch-standing'),
    ('trunk-hip-flexor-stretch-half-kneeling', 'hip-flexor-stretch-half-kneeling'),
    ('trunk-hip-flexor-stretch-reach', 'hip-flexor-stretch-half-kneeling-reach'),
    ('hip-figure-4-stretch-lying', 'lb-piriformis-stretch-lying'),
    ('hip-figure-4-stretch-seated', 'lb-piriformis-stretch-sitting'),
    ('hip-knee-to-chest-lying', 'lb-knee-to-chest-single'),
    ('lb-wall-sit', 'knee-wall-sit-isometric'),
    ('head-belly-breathing-lying', 'core-diaphragmatic-breathing'),
)
# The tables that refer to exercises.id without owning the row (tags are the exercise's own).
REFERENCES = (('routine_items', 'exercise_id'), ('adherence_logs', 'exercise_id'))


def upgrade():
    op.create_table('exercise_aliases',
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('exercise_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_exercise_aliases_exercise_id_exercises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('slug', name=op.f('pk_exercise_aliases'))
    )
    with op.batch_alter_table('exercise_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exercise_aliases_exercise_id'), ['exercise_id'], unique=False)

    op.create_table('safety_blocks',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('applies_to', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_safety_blocks'))
    )
    with op.batch_alter_table('exercises', schema=None) as batch_op:
        batch_op.add_column(sa.Column('safety', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('sources', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('program_templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sources', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('routine_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rep_max', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('progression', sa.String(length=300), nullable=True))
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pain_rule_max', sa.Integer(), server_default='5', nullable=False))

    merge_duplicates(op.get_bind())


def merge_duplicates(conn):
    """Fold each retired library exercise into its survivor (see the module docstring)."""
    now = datetime.now(timezone.utc)
    library_id = sa.text('SELECT id FROM exercises WHERE slug = :slug AND clinic_id IS NULL')
    for retired_slug, survivor_slug in MERGED:
        retired = conn.execute(library_id, {'slug': retired_slug}).scalar()
        if retired is None:
            continue
        survivor = conn.execute(library_id, {'slug': survivor_slug}).scalar()
        if survivor is None:
            conn.execute(
                sa.text('UPDATE exercises SET slug = :slug WHERE id = :id'), {'slug': survivor_slug, 'id': retired}
            )
            survivor = retired
        else:
            for table, column in REFERENCES:
                conn.execute(
                    sa.text(f'UPDATE {table} SET {column} = :survivor WHERE {column} = :retired'),
                    {'survivor': survivor, 'retired': retired},
                )
            conn.execute(sa.text('DELETE FROM exercise_tags WHERE exercise_id = :id'), {'id': retired})
            conn.execute(sa.text('DELETE FROM exercises WHERE id = :id'), {'id': retired})
        conn.execute(
            sa.text('INSERT INTO exercise_aliases (slug, exercise_id, created_at) VALUES (:slug, :id, :now)'),
            {'slug': retired_slug, 'id': survivor, 'now': now},
        )


def downgrade():
    # Merged rows are not split again: their prescriptions stay with the surviving exercise.
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('pain_rule_max')
    with op.batch_alter_table('routine_items', schema=None) as batch_op:
        batch_op.drop_column('progression')
        batch_op.drop_column('rep_max')
    with op.batch_alter_table('program_templates', schema=None) as batch_op:
        batch_op.drop_column('sources')
    with op.batch_alter_table('exercises', schema=None) as batch_op:
        batch_op.drop_column('sources')
        batch_op.drop_column('safety')
    op.drop_table('safety_blocks')
    with op.batch_alter_table('exercise_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exercise_aliases_exercise_id'))
    op.drop_table('exercise_aliases')
