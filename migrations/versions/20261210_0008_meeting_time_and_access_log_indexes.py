"""A meeting's time of day (``meeting.starts_at``), and the access log's indexes for the
audit page: by case and time, by person and time, by time.

Meetings planned before this revision keep ``starts_at`` NULL: their time was never
recorded, and the pages, minutes and CLI say "time not given" rather than invent one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 10:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.tables

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('starts_at', engine.tables.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_case_id'))
        batch_op.create_index('ix_access_log_case_at', ['case_id', 'at'], unique=False)
        batch_op.create_index('ix_access_log_actor_at', ['actor', 'at'], unique=False)
        batch_op.create_index('ix_access_log_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_at')
        batch_op.drop_index('ix_access_log_actor_at')
        batch_op.drop_index('ix_access_log_case_at')
        batch_op.create_index(batch_op.f('ix_access_log_case_id'), ['case_id'], unique=False)
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('starts_at')
