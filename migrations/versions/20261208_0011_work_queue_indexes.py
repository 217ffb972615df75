"""Work queues (engine.queues): partial indexes so that each queue starts from the few
rows it is about (open tasks of an institution, open reports, steps reported done,
pending requests for more time, unacknowledged receipts, failed emails, long pauses).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

#: (name, table, columns, condition or None), as engine/tables.py declares them.
INDEXES = (
    ('ix_task_open_assignee', 'task', ('assignee_institution',), 'closed_at IS NULL'),
    ('ix_task_open_kind', 'task', ('kind', 'case_id'), 'closed_at IS NULL'),
    ('ix_task_reported_done', 'task', ('reported_done_at',),
     'closed_at IS NULL AND reported_done_at IS NOT NULL'),
    ('ix_task_extension', 'task', ('extension_days',),
     'closed_at IS NULL AND extension_days IS NOT NULL'),
    ('ix_task_unacknowledged', 'task', ('unacknowledged_at',),
     'closed_at IS NULL AND unacknowledged_at IS NOT NULL AND acknowledged_at IS NULL'),
    ('ix_outbox_failed', 'outbox', ('case_id',), "status = 'failed'"),
    ('ix_case_paused', 'case', ('paused_at',), 'paused_at IS NOT NULL'),
)


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        kw = {} if where is None else {'sqlite_where': sa.text(where),
                                       'postgresql_where': sa.text(where)}
        op.create_index(name, table, list(columns), **kw)


def downgrade() -> None:
    for name, table, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
