"""A job's lifecycle states in the service (`service.store` keeps them; the CLI client names
them), in a module of their own so that naming them imports no database layer."""

from __future__ import annotations

SUBMITTED, QUEUED, DEFERRED = "submitted", "queued", "deferred"
PLACED, RUNNING = "placed", "running"
FINISHED, FAILED, CANCELLED, REJECTED = "finished", "failed", "cancelled", "rejected"
ACTIVE_STATES = (SUBMITTED, QUEUED, DEFERRED, PLACED, RUNNING)
TERMINAL_STATES = (FINISHED, FAILED, CANCELLED, REJECTED)
