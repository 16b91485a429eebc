"""What a job runs and how it ran on its site's engine.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("env", sa.JSON, nullable=True))
    op.add_column("jobs", sa.Column("workdir", sa.String(500), nullable=True))
    op.add_column("jobs", sa.Column("max_retries", sa.Integer, nullable=False,
                                    server_default="0"))
    op.add_column("jobs", sa.Column("attempts", sa.Integer, nullable=False,
                                    server_default="0"))
    op.add_column("jobs", sa.Column("exec_handle", sa.String(200), nullable=True))
    op.add_column("jobs", sa.Column("exit_code", sa.Integer, nullable=True))
    op.add_column("jobs", sa.Column("log_tail", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for col in ("log_tail", "exit_code", "exec_handle", "attempts", "max_retries",
                    "workdir", "env"):
            batch.drop_column(col)
