"""The green-power traceability ledger: its records (each line stored verbatim) and its head.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
    )
    op.create_index("ix_ledger_entries_job_id", "ledger_entries", ["job_id"])
    op.create_index("ix_ledger_entries_tenant_seq", "ledger_entries", ["tenant", "seq"])
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("next_hour", sa.Integer, nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "records": 0, "head": GENESIS, "next_hour": 0}])


def downgrade() -> None:
    op.drop_table("ledger_head")
    op.drop_index("ix_ledger_entries_tenant_seq", "ledger_entries")
    op.drop_index("ix_ledger_entries_job_id", "ledger_entries")
    op.drop_table("ledger_entries")
