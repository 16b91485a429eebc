"""Grid events posted to the live service, their frozen baselines and settlements (issue 14).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("start_s", sa.Float, nullable=False),  # run clock
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("month", sa.String(7), nullable=False, index=True),  # of its start, China
        sa.Column("posted_by", sa.String(64), nullable=False),
        sa.Column("posted_s", sa.Float, nullable=False),
        sa.Column("event", sa.Text, nullable=False),  # JSON: the event as validated
        sa.Column("notice_s", sa.Float, nullable=True),  # when the baseline was frozen
        sa.Column("plan", sa.Text, nullable=True),  # JSON: baseline, requested, limit per site
        sa.Column("baseline_jobs", sa.Text, nullable=True),  # JSON: the projection's jobs
        sa.Column("settled_s", sa.Float, nullable=True),
        sa.Column("settlement", sa.Text, nullable=True),  # JSON
        sa.Column("ledger_seq", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("grid_events")
