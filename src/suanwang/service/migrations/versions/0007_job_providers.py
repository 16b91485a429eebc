"""Providers and bills of live jobs (issue 12): the provider a job ran with, its bill (compute
by the price items in force, hour by hour, plus egress), and what the tenant asked of the
providers (price caps, allow/deny/preference lists).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("provider", sa.String(64)),
    ("bill_yuan", sa.Float),
    ("egress_yuan", sa.Float),
    ("max_price_yuan_per_unit_h", sa.Float),
    ("max_bill_yuan", sa.Float),
    ("providers", sa.JSON),  # {"allow": [...], "deny": [...], "prefer": [...]}
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("jobs", sa.Column(name, type_, nullable=True))
    op.create_index("ix_jobs_provider", "jobs", ["provider"])


def downgrade() -> None:
    op.drop_index("ix_jobs_provider", "jobs")
    with op.batch_alter_table("jobs") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
