"""Alembic environment: runs on the connection the service hands over (never from an ini)."""

from __future__ import annotations

from alembic import context

from suanwang.service.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from a misconfigured call
    raise RuntimeError("run migrations through suanwang.service.migrations.upgrade(engine)")
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
