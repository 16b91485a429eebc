"""The first schema: tenants, jobs, their lifecycle events, site state, meta.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("submit_s", sa.Float, nullable=False),
        sa.Column("rtt_bound_ms", sa.Float, nullable=True),
        sa.Column("deadline_s", sa.Float, nullable=True),
        sa.Column("data_gb", sa.Float, nullable=False),
        sa.Column("workload", sa.String(64), nullable=False),
        sa.Column("command", sa.JSON, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("rtt_ms", sa.Float, nullable=True),
        sa.Column("placed_s", sa.Float, nullable=True),
        sa.Column("start_s", sa.Float, nullable=True),
        sa.Column("end_s", sa.Float, nullable=True),
        sa.Column("defer_until_s", sa.Float, nullable=True),
        sa.Column("energy_kwh", sa.Float, nullable=True),
        sa.Column("green_kwh", sa.Float, nullable=True),
        sa.Column("carbon_kg", sa.Float, nullable=True),
        sa.Column("cost_yuan", sa.Float, nullable=True),
        sa.UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_idempotency"),
    )
    op.create_index("ix_jobs_tenant", "jobs", ["tenant"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index("ix_jobs_tenant_seq", "jobs", ["tenant", "seq"])
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("at_s", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
    )
    op.create_index("ix_job_events_job_id", "job_events", ["job_id"])
    op.create_table(
        "site_state",
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("drained", sa.Boolean, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("meta", "site_state", "job_events", "jobs", "tenants"):
        op.drop_table(table)
