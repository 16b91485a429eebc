"""The ledger's Merkle log: a signed checkpoint (C2SP note) per closed hour, with the trees'
frontiers (compact ranges) to append from; the site-hour summaries (no double counting).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("hour", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("summaries", sa.BigInteger, nullable=False),
        sa.Column("summary_frontier", sa.Text, nullable=False),
    )
    op.create_table(
        "ledger_summaries",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_summaries")
    op.drop_table("ledger_checkpoints")
