"""What each finished job would have emitted and cost at the nearest site (the before-东数西算
baseline), for the carbon and money saved by sending work west.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("baseline_site", sa.String(64), nullable=True))
    op.add_column("jobs", sa.Column("baseline_carbon_kg", sa.Float, nullable=True))
    op.add_column("jobs", sa.Column("baseline_cost_yuan", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("baseline_cost_yuan")
        batch.drop_column("baseline_carbon_kg")
        batch.drop_column("baseline_site")
