"""Tenant accounts (issue 12): balances and limits, their record of changes, the holds of
accepted jobs and the settled use per month.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("balance_yuan", sa.Float, nullable=False),
        sa.Column("limits", sa.JSON, nullable=False),
        sa.Column("created_s", sa.Float, nullable=False),
    )
    op.create_table(
        "account_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("tenant", sa.String(64), sa.ForeignKey("accounts.tenant"), nullable=False),
        sa.Column("at_s", sa.Float, nullable=False),
        sa.Column("what", sa.String(16), nullable=False),
        sa.Column("yuan", sa.Float, nullable=False),
        sa.Column("balance_yuan", sa.Float, nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("actor", sa.String(64), nullable=False, server_default=""),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_account_entries_tenant_id", "account_entries", ["tenant", "id"])
    op.create_table(
        "account_holds",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), sa.ForeignKey("accounts.tenant"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("unit_h", sa.Float, nullable=False),
        sa.Column("yuan", sa.Float, nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("carbon_kg", sa.Float, nullable=False),
    )
    op.create_index("ix_account_holds_tenant", "account_holds", ["tenant"])
    op.create_table(
        "account_usage",
        sa.Column("tenant", sa.String(64), sa.ForeignKey("accounts.tenant"), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("key", sa.String(24), primary_key=True),
        sa.Column("amount", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_usage")
    op.drop_index("ix_account_holds_tenant", "account_holds")
    op.drop_table("account_holds")
    op.drop_index("ix_account_entries_tenant_id", "account_entries")
    op.drop_table("account_entries")
    op.drop_table("accounts")
