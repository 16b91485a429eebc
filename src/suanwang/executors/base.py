"""The executor interface: how a placed job runs on a site's real engine.

An executor is a transport (after httpx's): small enough to implement in one module per
backend. `submit` hands a job to the backend and returns a handle; `poll` reports the state of
many handles at once; `cancel` stops one; `close` lets go of the backend. Times are wall-clock
UTC seconds as the backend reports them. A backend that cannot be reached raises
`BackendUnavailable` (the driver marks the site unhealthy and places new work elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from suanwang.model import Kind


class ExecState(StrEnum):
    PENDING = "pending"  # accepted by the backend, not started
    RUNNING = "running"
    FINISHED = "finished"  # ended with exit code 0
    FAILED = "failed"  # ended otherwise (exit code, signal, node failure, time limit)
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # the backend no longer knows the handle


class BackendUnavailable(RuntimeError):
    """The backend cannot be reached now (daemon down, connection refused, command failing)."""


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What to run for a placed job, and what it was given."""

    job_id: str
    site_id: str
    kind: Kind
    units: int
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None
    time_limit_s: float = 3600.0  # the backend may end the job after this


@dataclass(frozen=True, slots=True)
class ExecStatus:
    state: ExecState
    started_wall_s: float | None = None
    ended_wall_s: float | None = None
    exit_code: int | None = None
    reason: str = ""
    log_tail: str = ""

    @property
    def ended(self) -> bool:
        return self.state in (ExecState.FINISHED, ExecState.FAILED, ExecState.CANCELLED,
                              ExecState.UNKNOWN)


class Executor(Protocol):
    name: str

    def submit(self, spec: RunSpec) -> str:
        """Start `spec` on the backend; return its handle. Raises BackendUnavailable."""
        ...

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        """The state of each handle. Raises BackendUnavailable."""
        ...

    def cancel(self, handle: str) -> None:
        """Stop the job (no error if it already ended). Raises BackendUnavailable."""
        ...

    def healthy(self) -> bool:
        """Whether the backend answers now (cheap; used to bring a site back)."""
        ...

    def close(self) -> None: ...


@dataclass
class ExecutorConfig:
    """A site's backend and its settings, from the deployment file."""

    backend: str
    settings: dict[str, object] = field(default_factory=dict)


def tail(text: str, lines: int = 20, chars: int = 4000) -> str:
    return "\n".join(text.splitlines()[-lines:])[-chars:]
