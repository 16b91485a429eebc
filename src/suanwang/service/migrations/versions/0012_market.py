"""Compute trading (issue 13): bids, asks, cleared rounds, posted prices; a job placed by the
market keeps its bid, round and clearing price.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_bids",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False,
                  index=True),
        sa.Column("submit_s", sa.Float, nullable=False),
        sa.Column("round_no", sa.Integer, nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("body", sa.Text, nullable=False),  # the bid as accepted (JSON)
        sa.Column("hold_yuan", sa.Float, nullable=False),
        sa.Column("round_id", sa.String(32), nullable=True),
        sa.Column("result", sa.Text, nullable=True),  # fills, unmatched reasons (JSON)
    )
    op.create_table(
        "market_asks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reserve_yuan_per_unit_h", sa.Float, nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("posted_by", sa.String(64), nullable=False),
        sa.Column("posted_s", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),  # open|used|replaced
        sa.Column("round_id", sa.String(32), nullable=True),
    )
    op.create_table(
        "market_rounds",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("round_no", sa.Integer, nullable=False, unique=True),
        sa.Column("at_s", sa.Float, nullable=False),
        sa.Column("bids", sa.Integer, nullable=False),
        sa.Column("units_bid", sa.Integer, nullable=False),
        sa.Column("units_traded", sa.Integer, nullable=False),
        sa.Column("clear_s", sa.Float, nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=True),
        sa.Column("payload", sa.Text, nullable=False),  # the clearing record (JSON)
    )
    op.create_table(
        "market_prices",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("hour", sa.Integer, primary_key=True),  # run-clock hour index
        sa.Column("floor_yuan_per_unit_h", sa.Float, nullable=False),
        sa.Column("scarcity_yuan_per_unit_h", sa.Float, nullable=False),
        sa.Column("price_yuan_per_unit_h", sa.Float, nullable=False),
        sa.Column("utilisation", sa.Float, nullable=False),
        sa.Column("first_posted_s", sa.Float, nullable=False),
        sa.Column("revised_s", sa.Float, nullable=False),
        sa.Column("revisions", sa.Integer, nullable=False),
    )
    op.create_index("ix_market_prices_hour", "market_prices", ["hour"])
    op.add_column("jobs", sa.Column("market_bid", sa.String(64), nullable=True))
    op.add_column("jobs", sa.Column("market_round", sa.String(32), nullable=True))
    op.add_column("jobs", sa.Column("market_price_yuan_per_unit_h", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("market_price_yuan_per_unit_h")
        batch.drop_column("market_round")
        batch.drop_column("market_bid")
    op.drop_index("ix_market_prices_hour", "market_prices")
    for table in ("market_prices", "market_rounds", "market_asks", "market_bids"):
        op.drop_table(table)
