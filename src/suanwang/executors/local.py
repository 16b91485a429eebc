"""Local processes: each job a process in its own process group on this machine.

Cancel ends the whole group (SIGTERM, then SIGKILL after a grace period). stdout and stderr
go to `<log_dir>/<job_id>.out` and `.err`; a failed job reports the tail of its stderr.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from suanwang.executors.base import ExecState, ExecStatus, RunSpec, tail


@dataclass
class _Proc:
    proc: subprocess.Popen[bytes] | None  # None: the command could not be started
    started_wall_s: float
    err_path: Path
    ended_wall_s: float | None = None
    cancelled: bool = False
    start_error: str = ""


class LocalExecutor:
    name = "local"

    def __init__(self, log_dir: Path, grace_s: float = 5.0) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.grace_s = grace_s
        self._procs: dict[str, _Proc] = {}
        self._lock = threading.Lock()

    def submit(self, spec: RunSpec) -> str:
        if not spec.command:
            raise ValueError(f"job {spec.job_id} has no command")
        out = (self.log_dir / f"{spec.job_id}.out").open("ab")
        err_path = self.log_dir / f"{spec.job_id}.err"
        err = err_path.open("ab")
        env = {**os.environ, **dict(spec.env), "SUANWANG_JOB_ID": spec.job_id,
               "SUANWANG_SITE": spec.site_id, "SUANWANG_UNITS": str(spec.units)}
        start_error = ""
        proc: subprocess.Popen[bytes] | None = None
        try:
            proc = subprocess.Popen(list(spec.command), stdout=out, stderr=err, env=env,
                                    cwd=spec.workdir, start_new_session=True)
        except OSError as exc:  # a command that cannot start fails the job, not the backend
            start_error = f"cannot start {spec.command[0]!r}: {exc}"
            err.write(f"{start_error}\n".encode())
        finally:
            out.close()
            err.close()
        handle = f"{spec.job_id}@{proc.pid if proc is not None else 0}"
        with self._lock:
            self._procs[handle] = _Proc(proc, time.time(), err_path, start_error=start_error)
        return handle

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        out: dict[str, ExecStatus] = {}
        with self._lock:
            for h in handles:
                p = self._procs.get(h)
                if p is None:
                    out[h] = self._orphan(h)
                    continue
                if p.proc is None:
                    out[h] = ExecStatus(ExecState.FAILED, p.started_wall_s, p.started_wall_s,
                                        127, p.start_error, p.start_error)
                    continue
                code = p.proc.poll()
                if code is None:
                    out[h] = ExecStatus(ExecState.RUNNING, started_wall_s=p.started_wall_s)
                    continue
                if p.ended_wall_s is None:
                    p.ended_wall_s = time.time()
                if p.cancelled:
                    state, reason = ExecState.CANCELLED, "cancelled"
                elif code == 0:
                    state, reason = ExecState.FINISHED, "exit code 0"
                else:
                    state = ExecState.FAILED
                    reason = (f"killed by signal {-code}" if code < 0 else f"exit code {code}")
                log = ""
                if state == ExecState.FAILED:
                    try:
                        log = tail(p.err_path.read_text(encoding="utf-8", errors="replace"))
                    except OSError:
                        log = ""
                out[h] = ExecStatus(state, p.started_wall_s, p.ended_wall_s, code, reason, log)
        return out

    @staticmethod
    def _orphan(handle: str) -> ExecStatus:
        """A handle from before a restart: this executor cannot watch that process any more,
        so it ends it (it must not run on beside a retry) and reports it lost."""
        pid = int(handle.rsplit("@", 1)[-1]) if "@" in handle else 0
        if pid > 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        return ExecStatus(ExecState.UNKNOWN, reason="lost: the service restarted while it ran")

    def forget(self, handle: str) -> None:
        with self._lock:
            self._procs.pop(handle, None)

    def cancel(self, handle: str) -> None:
        with self._lock:
            p = self._procs.get(handle)
        if p is None or p.proc is None or p.proc.poll() is not None:
            return
        p.cancelled = True
        try:
            os.killpg(p.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.proc.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.proc.pid, signal.SIGKILL)
            p.proc.wait()

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            handles = list(self._procs)
        for h in handles:
            self.cancel(h)
