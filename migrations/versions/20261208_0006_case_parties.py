"""Cross-municipality reports (MK 474 p. 12): another child on a case (the pupil who
used violence), with its school and declared municipality.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.tables

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_party',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('child_id', sa.Integer(), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('school_institution', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('school_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('municipality', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('municipality_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('report_address', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('added_at', engine.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column('added_by_event', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['added_by_event'], ['case_event.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['child_id'], ['child.id']),
        sa.ForeignKeyConstraint(['school_institution'], ['institution.code']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id', 'role', name='uq_case_party_role'),
    )
    with op.batch_alter_table('case_party', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_party_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_party_child_id'), ['child_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_party', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_party_child_id'))
        batch_op.drop_index(batch_op.f('ix_case_party_case_id'))
    op.drop_table('case_party')
