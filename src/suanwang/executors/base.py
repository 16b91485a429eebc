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
from pathlib import Path
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
    # the wall seconds the scheduler reserved for the job: the backend ends it past this,
    # plus the margin its settings give (Slurm and local: time_margin_s, time_margin_frac)
    time_limit_s: float = 3600.0
    tenant: str = ""  # whose job it is (a backend may map it to an account)
    attempt: int = 0  # 0: the first run; n: the n-th run again after a failure


@dataclass(frozen=True, slots=True)
class ExecStatus:
    state: ExecState
    started_wall_s: float | None = None
    ended_wall_s: float | None = None
    exit_code: int | None = None
    reason: str = ""
    log_tail: str = ""
    # what ran it, as an executor worker reports it ("local j1@4242:981 on worker w-1")
    started_as: str = ""

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
    # served by executor workers (`suanwang worker`), not by the scheduler's own process
    workers: bool = False


def tail(text: str, lines: int = 20, chars: int = 4000) -> str:
    return "\n".join(text.splitlines()[-lines:])[-chars:]


TENANT_PLACEHOLDER = "{tenant}"


def tenant_account(template: str, tenant: str) -> str:
    """A backend account for a tenant: `template` with `{tenant}` replaced (the deployment
    file's `account: "sw-{tenant}"` gives each tenant its own; `account: ops` one for all)."""
    return template.replace(TENANT_PLACEHOLDER, tenant)


LOG_STREAMS = ("stdout", "stderr")
_SUFFIX = {"stdout": ".out", "stderr": ".err"}


@dataclass(frozen=True, slots=True)
class LogTail:
    """The end of one of a job's log files: at most `max_bytes`, and how big the file is."""

    text: str
    size_bytes: int

    @property
    def truncated(self) -> bool:
        return len(self.text.encode("utf-8", errors="replace")) < self.size_bytes


def read_log(log_dir: Path, job_id: str, stream: str, max_bytes: int) -> LogTail | None:
    """The last `max_bytes` of a job's stdout or stderr (`<log_dir>/<job_id>.out|.err`, as the
    local and Slurm executors write them); None when there is no such file."""
    path = Path(log_dir) / f"{job_id}{_SUFFIX[stream]}"
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - max_bytes))
            data = f.read(max_bytes)
    except OSError:
        return None
    if size > max_bytes:  # drop the partial first line
        cut = data.find(b"\n")
        data = data[cut + 1:] if 0 <= cut < len(data) - 1 else data
    return LogTail(data.decode("utf-8", errors="replace"), size)


def log_tail_of(log_dir: Path, job_id: str, lines: int = 20, chars: int = 4000) -> str:
    """The last lines of a job's stdout and of its stderr, each under its name (what a job's
    `log_tail` keeps): empty when both are empty."""
    parts = []
    for stream in LOG_STREAMS:
        got = read_log(log_dir, job_id, stream, 4 * chars)
        text = tail(got.text, lines, chars // 2) if got is not None else ""
        if text.strip():
            parts.append(f"[{stream}]\n{text}")
    return "\n".join(parts)
