"""The scheduler (task checks and effects, runs), paused clocks, and the cooperation
group's queue, meetings and decisions (with decision tasks beside the state task).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 15:00:55.387947
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.tables

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='state'),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', engine.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('digest_run',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('at', engine.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('scheduler_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', engine.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', engine.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('examined', sa.Integer(), nullable=False),
    sa.Column('effects', sa.JSON(), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('runner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('escalation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('queued_at', engine.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('queued_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_case_id'), ['case_id'], unique=False)
        batch_op.create_index('uq_escalation_open_per_case', ['case_id'], unique=True, sqlite_where=sa.text("status IN ('queued', 'scheduled')"), postgresql_where=sa.text("status IN ('queued', 'scheduled')"))

    op.create_table('decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('escalation_id', sa.Integer(), nullable=True),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('decided_at', engine.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalation.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'case_id', name='uq_decision_per_meeting')
    )
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_case_id'), ['case_id'], unique=False)

    op.create_table('task_effect',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('effect', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('at', engine.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('task_id', 'effect', name='uq_task_effect')
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_reason', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('paused_working_days', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='state'))
        batch_op.add_column(sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('decision_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('next_check_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('breached_at', engine.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('escalation_step', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_task_next_check', ['next_check_at'], unique=False, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.create_foreign_key('fk_task_decision_id', 'decision', ['decision_id'], ['id'])
        # one open task per case becomes: one open *state* task per case
        batch_op.drop_index('uq_task_one_open_per_case')
        batch_op.create_index('uq_task_one_open_per_case', ['case_id'], unique=True,
                              sqlite_where=sa.text("closed_at IS NULL AND kind = 'state'"),
                              postgresql_where=sa.text("closed_at IS NULL AND kind = 'state'"))
    # every open task gets looked at by the first tick, which sets its real next check
    op.execute("UPDATE task SET next_check_at = opened_at WHERE closed_at IS NULL")



def downgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('uq_task_one_open_per_case')
        batch_op.create_index('uq_task_one_open_per_case', ['case_id'], unique=True,
                              sqlite_where=sa.text('closed_at IS NULL'),
                              postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.drop_constraint('fk_task_decision_id', type_='foreignkey')
        batch_op.drop_index('ix_task_next_check', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.drop_column('escalation_step')
        batch_op.drop_column('breached_at')
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('check_token')
        batch_op.drop_column('next_check_at')
        batch_op.drop_column('decision_id')
        batch_op.drop_column('title')
        batch_op.drop_column('kind')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('paused_working_days')
        batch_op.drop_column('pause_reason')
        batch_op.drop_column('paused_at')

    op.drop_table('task_effect')
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_case_id'))

    op.drop_table('decision')
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_index('uq_escalation_open_per_case', sqlite_where=sa.text("status IN ('queued', 'scheduled')"), postgresql_where=sa.text("status IN ('queued', 'scheduled')"))
        batch_op.drop_index(batch_op.f('ix_escalation_case_id'))

    op.drop_table('escalation')
    op.drop_table('scheduler_run')
    op.drop_table('digest_run')
    op.drop_table('meeting')
