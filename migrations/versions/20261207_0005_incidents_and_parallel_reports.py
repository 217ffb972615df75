"""Legal fidelity: when the incident happened and how late a case was entered;
parallel report tasks beside a state's task (the declared report, and its answer).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 20:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.tables

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_at', engine.tables.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('late_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('details')
        batch_op.drop_column('report')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('late_days')
        batch_op.drop_column('incident_at')
