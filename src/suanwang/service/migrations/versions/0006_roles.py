"""Roles in processes of their own (issue 16): the operator commands' log, and on PostgreSQL
a database sequence for the jobs' acceptance order (several API replicas write jobs).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),  # cancel | capacity | drain
        sa.Column("body", sa.Text, nullable=False),  # JSON
        sa.Column("created_wall_s", sa.Float, nullable=False),
        sa.Column("applied_wall_s", sa.Float, nullable=True),
        sa.Column("result", sa.Text, nullable=True),  # JSON, set by the scheduler
    )
    op.create_index("ix_commands_pending", "commands", ["applied_wall_s", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE jobs_seq_gen")
        op.execute("SELECT setval('jobs_seq_gen', COALESCE(MAX(seq), 0) + 1, false) FROM jobs")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE jobs_seq_gen")
    op.drop_index("ix_commands_pending", "commands")
    op.drop_table("commands")
