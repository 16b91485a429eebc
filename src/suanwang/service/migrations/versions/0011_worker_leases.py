"""Executor workers (issue 16 item 1): jobs handed to the workers of a site, their leases, the
workers' heartbeats and their reports (started, ended) to the scheduler.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "dispatches",  # one run (job, attempt) handed to the workers of its binding
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("binding", sa.String(200), nullable=False),  # site, or site/provider
        sa.Column("spec", sa.Text, nullable=False),  # the RunSpec (JSON)
        sa.Column("created_wall_s", sa.Float, nullable=False),
        sa.Column("worker", sa.String(200), nullable=True),  # the lease's holder
        sa.Column("lease_until_wall_s", sa.Float, nullable=True),
        sa.Column("backend_handle", sa.String(200), nullable=True),  # set at start
        sa.Column("ended", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_dispatches_open", "dispatches", ["binding", "ended", "created_wall_s"])
    op.create_index("ix_dispatches_worker", "dispatches", ["worker", "ended"])
    op.create_table(
        "worker_reports",  # appended by workers, consumed by the scheduler in id order
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),  # started | ended
        sa.Column("body", sa.Text, nullable=False),  # JSON (an ExecStatus and the handle)
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("created_wall_s", sa.Float, nullable=False),
        sa.Column("consumed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("job_id", "attempt", "kind", name="uq_worker_reports_once"),
    )
    op.create_index("ix_worker_reports_pending", "worker_reports", ["consumed", "id"])
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("bindings", sa.Text, nullable=False),  # JSON list
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("started_wall_s", sa.Float, nullable=False),
        sa.Column("heartbeat_wall_s", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_index("ix_worker_reports_pending", "worker_reports")
    op.drop_table("worker_reports")
    op.drop_index("ix_dispatches_worker", "dispatches")
    op.drop_index("ix_dispatches_open", "dispatches")
    op.drop_table("dispatches")
