"""Local processes: each job a session of its own on this machine, outliving the service.

A job runs under a small shell wrapper that records its command's exit status in the job's own
working directory (`<log_dir>/work/<job_id>/.suanwang-exit-status`); stdout and stderr go to
`<log_dir>/<job_id>.out` and `.err`. The handle is `<job_id>@<pid>:<start ticks>` (the start
time from /proc/<pid>/stat), so a restarted service re-adopts a job still running (same pid,
same start time: not a recycled pid) and learns how it ended from the status file. Stopping the
service leaves its jobs running.

The time limit is enforced as Slurm does: past `time_limit_s x (1 + time_margin_frac) +
time_margin_s` the job's group gets SIGTERM, then SIGKILL after `grace_s`, and the job fails with
`TIMEOUT`. Cancel ends the whole group the same way.

If the service runs as root, jobs run as `run_as` (default `nobody`) with no supplementary
groups; every job gets a scrubbed environment (PATH, LANG, TZ, HOME = its working directory,
SUANWANG_JOB_ID/SITE/UNITS, then its own `env`).

Deployment settings (all optional): `time_margin_s` (2), `time_margin_frac` (0.05),
`grace_s` (5), `run_as` ("nobody"; null keeps the service's user).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from suanwang.errors import InputError
from suanwang.executors.base import ExecState, ExecStatus, RunSpec, log_tail_of

STATUS_FILE = ".suanwang-exit-status"
# written by the wrapper before its command starts: "<wrapper pid> <attempt>", so that a service
# killed between starting a job and storing its handle re-adopts that run (running or ended)
# when it hands the job over again, instead of running it twice
STARTED_FILE = ".suanwang-started"
# $1: the working directory the command asked for ("" = the job's own); $2: the attempt; then
# the command. The status is written only when the command ended by itself: a wrapper killed
# with its group (cancel, time limit) leaves none, and the executor knows why it killed it.
_WRAPPER = """wd=$1; attempt=$2; shift 2
printf '%s %s\\n' "$$" "$attempt" > .suanwang-started
( if [ -n "$wd" ]; then cd -- "$wd" || exit 126; fi; exec "$@" )
code=$?
printf '%s\\n' "$code" > .suanwang-exit-status.tmp && mv -f .suanwang-exit-status.tmp \
.suanwang-exit-status
exit "$code"
"""
_SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


@dataclass(frozen=True, slots=True)
class LocalSettings:
    time_margin_s: float = 2.0
    time_margin_frac: float = 0.05
    grace_s: float = 5.0
    run_as: str | None = "nobody"  # None: the service's own user

    def __post_init__(self) -> None:
        for name in ("time_margin_s", "time_margin_frac", "grace_s"):
            if getattr(self, name) < 0:
                raise InputError("deployment file", f"local.{name}", getattr(self, name),
                                 "must be >= 0")
        if self.run_as:
            try:
                pwd.getpwnam(self.run_as)
            except KeyError:
                raise InputError("deployment file", "local.run_as", self.run_as,
                                 "no such user on this machine") from None


@dataclass
class _Run:
    job_id: str
    pid: int
    start_ticks: int
    started_wall_s: float
    limit_wall_s: float  # the enforced limit, margin included
    proc: subprocess.Popen[bytes] | None = None  # None: re-adopted after a restart
    ended_wall_s: float | None = None
    code: int | None = None  # the status the job ended with
    cancelled: bool = False
    term_sent_s: float | None = None  # when the group got SIGTERM (cancel or time limit)
    timed_out: bool = False
    gone: bool = False  # the wrapper ended without a status (killed)


def proc_start_ticks(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks since boot, state letter) of a process, None if none."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2:].split()
    return int(rest[19]), rest[0]


def _boot_epoch_s() -> float:
    for line in Path("/proc/stat").read_text(encoding="ascii").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


class LocalExecutor:
    name = "local"

    def __init__(self, log_dir: Path, grace_s: float | None = None,
                 settings: LocalSettings | None = None) -> None:
        self.settings = settings or LocalSettings()
        self.grace_s = self.settings.grace_s if grace_s is None else grace_s
        self.log_dir = Path(log_dir)
        self.work_root = self.log_dir / "work"
        self.work_root.mkdir(parents=True, exist_ok=True)
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0 and self.settings.run_as:
            self._user = pwd.getpwnam(self.settings.run_as)

    # ---- files of a job --------------------------------------------------------------------

    def _workdir(self, job_id: str) -> Path:
        return self.work_root / job_id

    def _meta_path(self, job_id: str) -> Path:
        return self.log_dir / f"{job_id}.run.json"

    def _read_status(self, job_id: str) -> int | None:
        try:
            text = (self._workdir(job_id) / STATUS_FILE).read_text(encoding="ascii").strip()
            return int(text)
        except (OSError, ValueError):
            return None

    def _env(self, spec: RunSpec, workdir: Path) -> dict[str, str]:
        env = {k: os.environ[k] for k in _SAFE_ENV if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env["HOME"] = str(workdir)
        if self._user is not None:
            env["USER"] = env["LOGNAME"] = self._user.pw_name
        env.update({"SUANWANG_JOB_ID": spec.job_id, "SUANWANG_SITE": spec.site_id,
                    "SUANWANG_UNITS": str(spec.units)})
        env.update(dict(spec.env))
        return env

    # ---- the interface ---------------------------------------------------------------------

    def submit(self, spec: RunSpec) -> str:
        if not spec.command:
            raise ValueError(f"job {spec.job_id} has no command")
        prior = self._prior_run(spec)
        if prior is not None:  # handed over before a crash, its handle never stored
            return prior
        workdir = self._workdir(spec.job_id)
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in (STATUS_FILE, STATUS_FILE + ".tmp", STARTED_FILE):
            with contextlib.suppress(FileNotFoundError):
                (workdir / stale).unlink()
        env = self._env(spec, workdir)
        s = self.settings
        limit = spec.time_limit_s * (1.0 + s.time_margin_frac) + s.time_margin_s
        program = spec.command[0]
        if "/" not in program and shutil.which(program, path=env["PATH"]) is None:
            return self._not_started(spec, f"cannot start {program!r}: not found on PATH",
                                     limit)
        if "/" in program and os.path.isabs(program) and not os.access(program, os.X_OK):
            return self._not_started(spec, f"cannot start {program!r}: no such program",
                                     limit)
        kw: dict[str, object] = {}
        if self._user is not None:
            os.chown(workdir, self._user.pw_uid, self._user.pw_gid)
            kw = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        with (self.log_dir / f"{spec.job_id}.out").open("ab") as out, \
                (self.log_dir / f"{spec.job_id}.err").open("ab") as err:
            try:
                proc = subprocess.Popen(
                    ["/bin/sh", "-c", _WRAPPER, "suanwang-job", spec.workdir or "",
                     str(spec.attempt), *spec.command], stdin=subprocess.DEVNULL,
                    stdout=out, stderr=err,
                    env=env, cwd=workdir, start_new_session=True, **kw)  # type: ignore[call-overload]
            except OSError as exc:
                return self._not_started(spec, f"cannot start {program!r}: {exc}", limit)
        started = time.time()
        found = proc_start_ticks(proc.pid)
        ticks = found[0] if found is not None else 0
        run = _Run(spec.job_id, proc.pid, ticks, started, limit, proc)
        self._meta_path(spec.job_id).write_text(json.dumps({
            "pid": proc.pid, "start_ticks": ticks, "started_wall_s": started,
            "limit_wall_s": limit}), encoding="utf-8")
        handle = f"{spec.job_id}@{proc.pid}:{ticks}"
        with self._lock:
            self._runs[handle] = run
        return handle

    def _not_started(self, spec: RunSpec, why: str, limit: float) -> str:
        """A command that cannot start fails its job (exit 127), not the backend."""
        with (self.log_dir / f"{spec.job_id}.err").open("a", encoding="utf-8") as err:
            err.write(why + "\n")
        now = time.time()
        handle = f"{spec.job_id}@0:0"
        run = _Run(spec.job_id, 0, 0, now, limit, ended_wall_s=now, code=127)
        with self._lock:
            self._runs[handle] = run
        return handle

    def _prior_run(self, spec: RunSpec) -> str | None:
        """The handle of this attempt's run if one was started (before a crash of the service
        that started it), running or ended; None if this attempt never started."""
        workdir = self._workdir(spec.job_id)
        try:
            pid_s, attempt_s = (workdir / STARTED_FILE).read_text(encoding="ascii").split()
            pid, attempt = int(pid_s), int(attempt_s)
            started = (workdir / STARTED_FILE).stat().st_mtime
        except (OSError, ValueError):
            return self._still_running(spec.job_id)  # a run from before the started file
        if attempt != spec.attempt:
            return None  # an earlier attempt's: this is a retry
        running = self._still_running(spec.job_id)
        if running is not None:
            return running
        s = self.settings
        limit = spec.time_limit_s * (1.0 + s.time_margin_frac) + s.time_margin_s
        found = proc_start_ticks(pid)
        ticks = found[0] if found is not None else 0
        run = _Run(spec.job_id, pid, ticks, started, limit)
        if found is not None and found[1] != "Z" and self._is_job_process(pid, spec.job_id):
            handle = f"{spec.job_id}@{pid}:{ticks}"  # running, its meta never written
        else:
            handle = f"{spec.job_id}@{pid}:0"
            self._ended(run, time.time())
        with self._lock:
            self._runs[handle] = run
        return handle

    @staticmethod
    def _is_job_process(pid: int, job_id: str) -> bool:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return False
        return f"SUANWANG_JOB_ID={job_id}".encode() in environ

    def _still_running(self, job_id: str) -> str | None:
        try:
            meta = json.loads(self._meta_path(job_id).read_text(encoding="utf-8"))
            pid, ticks = int(meta["pid"]), int(meta["start_ticks"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        found = proc_start_ticks(pid)
        if found is None or found[0] != ticks or found[1] == "Z":
            return None
        handle = f"{job_id}@{pid}:{ticks}"
        with self._lock:
            if handle not in self._runs:
                self._runs[handle] = self._adopted(job_id, pid, ticks, meta)
        return handle

    def _adopted(self, job_id: str, pid: int, ticks: int, meta: Mapping[str, object] | None
                 ) -> _Run:
        started = limit = None
        if meta is not None and meta.get("start_ticks") == ticks:
            started = float(meta.get("started_wall_s"))  # type: ignore[arg-type]
            limit = float(meta.get("limit_wall_s"))  # type: ignore[arg-type]
        if started is None:
            started = _boot_epoch_s() + ticks / os.sysconf("SC_CLK_TCK")
        return _Run(job_id, pid, ticks, started, limit if limit is not None else float("inf"))

    def _adopt(self, handle: str) -> _Run | None:
        """The run behind a handle from before a restart (None: not one of this executor's)."""
        job_id, _, rest = handle.rpartition("@")
        pid_s, _, ticks_s = rest.partition(":")
        if not job_id or not pid_s.isdigit() or not ticks_s.isdigit():
            return None
        pid, ticks = int(pid_s), int(ticks_s)
        try:
            meta = json.loads(self._meta_path(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = None
        run = self._adopted(job_id, pid, ticks, meta)
        found = proc_start_ticks(pid) if pid > 0 else None
        if found is None or found[0] != ticks or found[1] == "Z":
            self._ended(run, time.time())
        return run

    @staticmethod
    def _legacy(handle: str) -> ExecStatus:
        """A handle without a start time (`job@pid`, from a version that could not re-adopt):
        its process, if it is still that job's (its environment says so), is ended, so that
        it does not run on beside a retry; the job is reported lost."""
        job_id, _, pid_s = handle.rpartition("@")
        if job_id and pid_s.isdigit() and int(pid_s) > 0:
            try:
                environ = Path(f"/proc/{pid_s}/environ").read_bytes().split(b"\0")
            except OSError:
                environ = []
            if f"SUANWANG_JOB_ID={job_id}".encode() in environ:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(pid_s), signal.SIGKILL)
        return ExecStatus(ExecState.UNKNOWN, reason="lost: started by an older service that "
                                                    "could not be re-adopted")

    def _alive(self, run: _Run) -> bool:
        if run.ended_wall_s is not None:
            return False
        if run.proc is not None:
            return run.proc.poll() is None
        found = proc_start_ticks(run.pid)
        return found is not None and found[0] == run.start_ticks and found[1] != "Z"

    def _ended(self, run: _Run, now: float) -> None:
        run.ended_wall_s = now
        code = self._read_status(run.job_id)
        if code is None and run.proc is not None and run.proc.returncode is not None \
                and run.proc.returncode < 0:
            code = run.proc.returncode  # the wrapper itself was killed by a signal
        if code is not None and 128 < code <= 128 + 64:
            code = -(code - 128)  # the shell's 128 + N: killed by signal N
        run.code = code
        run.gone = code is None

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        out: dict[str, ExecStatus] = {}
        now = time.time()
        with self._lock:
            for h in handles:
                run = self._runs.get(h)
                if run is None:
                    run = self._adopt(h)
                    if run is None:
                        out[h] = self._legacy(h)
                        continue
                    self._runs[h] = run
                if self._alive(run):
                    self._enforce_limit(run, now)
                    out[h] = ExecStatus(ExecState.RUNNING, started_wall_s=run.started_wall_s)
                    continue
                if run.ended_wall_s is None:
                    self._ended(run, now)
                out[h] = self._status(run)
        return out

    def _enforce_limit(self, run: _Run, now: float) -> None:
        if run.term_sent_s is None and now - run.started_wall_s > run.limit_wall_s:
            run.timed_out = True
            self._signal(run, signal.SIGTERM)
            run.term_sent_s = now
        elif run.term_sent_s is not None and now - run.term_sent_s > self.grace_s:
            self._signal(run, signal.SIGKILL)

    def _signal(self, run: _Run, sig: signal.Signals) -> None:
        found = proc_start_ticks(run.pid) if run.proc is None else None
        if run.proc is None and (found is None or found[0] != run.start_ticks):
            return  # not ours any more (a recycled pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.pid, sig)

    def _status(self, run: _Run) -> ExecStatus:
        code = run.code
        log = log_tail_of(self.log_dir, run.job_id)
        if run.cancelled:
            state, reason = ExecState.CANCELLED, "cancelled"
        elif run.timed_out:
            state = ExecState.FAILED
            reason = (f"TIMEOUT: ran past its time limit of {run.limit_wall_s:,.1f} s "
                      f"(wall, margin included); ended with SIGTERM/SIGKILL")
        elif code == 0:
            state, reason = ExecState.FINISHED, "exit code 0"
        elif run.gone:
            state = ExecState.FAILED
            reason = "ended without an exit status (killed from outside the service?)"
        elif run.pid == 0:
            state = ExecState.FAILED
            reason = log.rsplit("\n", 1)[-1] if log else "cannot start"
        else:
            state = ExecState.FAILED
            reason = f"killed by signal {-code}" if code is not None and code < 0 \
                else f"exit code {code}"
        return ExecStatus(state, run.started_wall_s, run.ended_wall_s, code, reason, log)

    def forget(self, handle: str) -> None:
        with self._lock:
            self._runs.pop(handle, None)

    def cancel(self, handle: str) -> None:
        with self._lock:
            run = self._runs.get(handle) or self._adopt(handle)
            if run is None:
                return
            self._runs[handle] = run
            if not self._alive(run):
                return
            run.cancelled = True
            self._signal(run, signal.SIGTERM)
            run.term_sent_s = time.time()
        end = time.monotonic() + self.grace_s
        while self._alive(run) and time.monotonic() < end:
            time.sleep(0.02)
        if self._alive(run):
            self._signal(run, signal.SIGKILL)
            while self._alive(run) and time.monotonic() < end + 5:
                time.sleep(0.02)

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        """Let go of the jobs without ending them: they are processes of their own, and the
        next service on this data directory re-adopts them."""
        with self._lock:
            self._runs.clear()


def make_local(settings: Mapping[str, object], log_dir: Path) -> LocalExecutor:
    from suanwang.executors.slurm import parse_settings

    return LocalExecutor(log_dir, settings=parse_settings(LocalSettings, settings, "local"))
