"""Email delivery and task answers: outbox leases and recipients, action links,
the assignee's answers on a task, institution locale, users' digest opt-in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:07:37.544268
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.tables

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('action_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('used_at', engine.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], ),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outbox_id', 'purpose', name='uq_action_token_use')
    )
    with op.batch_alter_table('action_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_token_task_id'), ['task_id'], unique=False)

    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default='lv'))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recipient_user', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('queued_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('sent_to', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.alter_column('case_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('event_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('recipient_role',
               existing_type=sa.VARCHAR(length=32),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_outbox_task_id'), ['task_id'], unique=False)
    op.execute("UPDATE outbox SET queued_at = created_at")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('queued_at', existing_type=engine.tables.UTCDateTime(timezone=True),
                              nullable=False)
        batch_op.create_foreign_key('fk_outbox_task_id', 'task', ['task_id'], ['id'])

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ack_due_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('declined_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reported_done_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unacknowledged_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('extension_days', sa.Integer(), nullable=True))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('digest')

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('extension_days')
        batch_op.drop_column('unacknowledged_at')
        batch_op.drop_column('reported_done_at')
        batch_op.drop_column('declined_at')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('ack_due_at')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_task_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_task_id'))
        batch_op.alter_column('recipient_role',
               existing_type=sa.VARCHAR(length=32),
               nullable=False)
        batch_op.alter_column('event_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.alter_column('case_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('sent_to')
        batch_op.drop_column('claim_token')
        batch_op.drop_column('recipient_user')
        batch_op.drop_column('queued_at')
        batch_op.drop_column('task_id')

    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_column('locale')

    with op.batch_alter_table('action_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_token_task_id'))

    op.drop_table('action_token')
