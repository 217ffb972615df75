"""Search: the folded words of each child's name (``child_name_word``), for finding a
case by the child's name with or without diacritics; filled here for existing children.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 12:00:00
"""
import sqlalchemy as sa
from alembic import op

from engine.children import name_words

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

#: A word in bytewise order on PostgreSQL too (as ``engine.tables.ChildNameWord``).
_WORD = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    words = op.create_table(
        'child_name_word',
        sa.Column('word', _WORD, nullable=False),
        sa.Column('child_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['child_id'], ['child.id']),
        sa.PrimaryKeyConstraint('word', 'child_id'),
    )
    conn = op.get_bind()
    child = sa.table('child', sa.column('id', sa.Integer()), sa.column('name', sa.String()))
    last = 0
    while True:   # in batches: a large installation is not read into memory at once
        rows = conn.execute(sa.select(child.c.id, child.c.name).where(child.c.id > last)
                            .order_by(child.c.id).limit(5000)).all()
        if not rows:
            break
        batch = [{"word": w, "child_id": r.id} for r in rows for w in name_words(r.name)]
        if batch:
            conn.execute(sa.insert(words), batch)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_table('child_name_word')
