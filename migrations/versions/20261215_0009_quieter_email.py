"""Quieter, better-timed email: an institution's fallback address; per outbox row the
template version it was sent with, whether it went to the fallback address, and the
row whose email carried it when notices were sent together.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-15 10:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fallback_email', sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_version',
                                      sqlmodel.sql.sqltypes.AutoString(length=100),
                                      nullable=True))
        batch_op.add_column(sa.Column('fallback', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('merged_into', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_outbox_merged_into_outbox', 'outbox',
                                    ['merged_into'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_merged_into_outbox', type_='foreignkey')
        batch_op.drop_column('merged_into')
        batch_op.drop_column('fallback')
        batch_op.drop_column('template_version')
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_column('fallback_email')
