"""Slurm: each placed job a batch job that `sbatch` hands to the site's partition.

Settings (a site's entry in the deployment file, all optional):

    partition: horinger        # --partition (else the cluster's default partition)
    account: suanwang          # --account
    units_per_cpu: 1           # general (and intelligent without gres): --cpus-per-task =
                               #   ceil(units / units_per_cpu); a unit of general is a core
    gres: gpu                  # intelligent: --gres=<gres>:ceil(units / units_per_gpu); only
    units_per_gpu: 1           #   when the partition has GRES
    units_per_node: 1          # hpc: --nodes = ceil(units / units_per_node)
    time_margin_s: 60          # --time = ceil((time_limit_s x (1 + time_margin_frac)
    time_margin_frac: 0.0      #   + time_margin_s) / 60) minutes: Slurm counts whole minutes
    sbatch_args: []            # extra sbatch options, e.g. ["--qos=normal"]
    export: ALL                # --export (ALL: the service's environment, as Slurm's default)
    slurm_conf: null           # SLURM_CONF for every command (another cluster's slurm.conf)
    bin_dir: null              # where sbatch, squeue, scontrol, scancel, sacct are
    command_timeout_s: 30      # each command's timeout; past it the backend is unavailable
    use_sacct: null            # null: use sacct when it answers (it needs slurmdbd)

The job's command runs from a generated batch script fed to sbatch on standard input: its
environment as `export NAME='value'` lines and the command as `exec` of its shell-quoted words
(shlex), so no value is ever split by sbatch's comma-separated `--export` list or by a shell.
stdout and stderr go to `<log_dir>/<job_id>.out` and `.err` (appended, as the local executor
does), so `log_dir` must be on a file system the compute nodes share with the service.

State comes from `squeue --states=all` (one call for every handle polled), exit codes from
`scontrol show job` once per ended job, and from `sacct` for jobs slurmctld has already purged
(after its MinJobAge) when the cluster has accounting. Timestamps are asked for in UTC (the
commands run with TZ=UTC0), so Slurm's local-time strings parse into UTC epoch seconds whatever
the host's zone. An unreachable controller (connect failure, refused, timed out, munge errors,
or `scontrol ping` saying DOWN) raises BackendUnavailable; `scontrol ping` is asked first when
nothing succeeded in the last second, so a dead controller is noticed at once instead of after
sbatch's own 10 s of retries. A job sbatch refuses (an unknown partition, more CPUs than a node
has) fails alone: its handle polls FAILED with sbatch's message.

Handles are `<job_id>@<slurm job id>`, so an executor made after a restart still finds the job
and its log. Each batch job's comment names its run
(`suanwang-run:<log dir digest>:<job_id>:<attempt>`): before sbatch, `submit` asks squeue for
a job of this user with the job's name and that comment, and adopts it if there is one, so a
process that died between sbatch and storing the handle (a worker, or the service) does not
run the job twice when the run is claimed again. That holds while slurmctld remembers the job
(MinJobAge after it ended; the lease that hands the run over expires well within it).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shlex
import subprocess
import threading
import time
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from suanwang.bounds import DEPLOYMENT
from suanwang.errors import InputError
from suanwang.executors.base import (
    BackendUnavailable,
    ExecState,
    ExecStatus,
    ExecutorConfig,
    RunSpec,
    tail,
    tenant_account,
)
from suanwang.model import Kind

# Slurm job states (squeue %T, scontrol JobState, sacct State) by what they mean here.
_PENDING = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                      "RESV_DEL_HOLD", "SPECIAL_EXIT"})
_RUNNING = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "SIGNALING",
                      "RESIZING", "STOPPED"})
_FAILED_WHY = {
    "FAILED": "failed",
    "TIMEOUT": "time limit reached",
    "NODE_FAIL": "node failure",
    "OUT_OF_MEMORY": "out of memory",
    "BOOT_FAIL": "node boot failure",
    "DEADLINE": "deadline passed",
    "PREEMPTED": "preempted",
}
_CANCELLED = frozenset({"CANCELLED", "REVOKED"})

# stderr of a Slurm command that means the controller, not the request, is the problem.
_UNREACHABLE = re.compile(
    r"unable to contact slurm controller|connect(ion)? failure|connection refused|"
    r"socket timed out|timed out|zero bytes were transmitted|communication connection|"
    r"slurm_receive_msg|munge|authentication|backup controller in standby|"
    r"transport endpoint|network is unreachable|no route to host|slurmctld.* down",
    re.IGNORECASE)
_GONE = re.compile(r"invalid job id|already completing or completed|job has already finished",
                   re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PING_FRESH_S = 1.0  # skip `scontrol ping` when a command succeeded this recently
_QUERY_CHUNK = 500  # job ids per squeue call
_ONE_BY_ONE = 8  # more newly ended jobs than this: one `scontrol show job` for all jobs
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SlurmSettings:
    partition: str | None = None
    account: str | None = None
    units_per_cpu: float = 1.0
    gres: str | None = None
    units_per_gpu: float = 1.0
    units_per_node: float = 1.0
    time_margin_s: float = 60.0
    time_margin_frac: float = 0.0
    sbatch_args: tuple[str, ...] = ()
    export: str = "ALL"
    slurm_conf: str | None = None
    bin_dir: str | None = None
    command_timeout_s: float = 30.0
    use_sacct: bool | None = None

    def __post_init__(self) -> None:
        for name in ("units_per_cpu", "units_per_gpu", "units_per_node", "command_timeout_s"):
            if getattr(self, name) <= 0:
                raise InputError("deployment file", f"slurm.{name}", getattr(self, name),
                                 "must be > 0")
        for name in ("time_margin_s", "time_margin_frac"):
            if getattr(self, name) < 0:
                raise InputError("deployment file", f"slurm.{name}", getattr(self, name),
                                 "must be >= 0")


def parse_settings(cls: type[T], settings: Mapping[str, object], backend: str) -> T:
    """`cls` (a dataclass of str, float, int, bool, optional ones and tuple[str, ...]) from a
    site's settings in the deployment file; an unknown key or a wrong type is an InputError."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in known:
            raise InputError("deployment file", f"{backend}.{key}", value,
                             f"unknown setting; known: {', '.join(sorted(known))}")
        values[key] = _coerce(value, hints[key], f"{backend}.{key}")
    return cls(**values)


def _coerce(value: object, hint: Any, field: str) -> object:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise InputError("deployment file", field, value,
                         "must be a list of strings, e.g. [--qos=normal, --exclusive]")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise InputError("deployment file", field, value, "must be true or false")
    if hint in (float, int):
        bound = DEPLOYMENT.get(field.rsplit(".", 1)[-1])
        expected = bound.expected() if bound else "a finite number"
        if isinstance(value, int | float) and not isinstance(value, bool):
            problem = bound.problem(value) if bound else (
                None if math.isfinite(value) else f"must be {expected}")
            if problem:
                raise InputError("deployment file", field, value, problem)
            return hint(value)
        raise InputError("deployment file", field, value, f"must be {expected}")
    if isinstance(value, str) and value:
        return value
    raise InputError("deployment file", field, value, 'must be non-empty text, e.g. "horinger"')


def run_tag(spec: RunSpec, log_dir: Path) -> str:
    """The comment a batch job carries: which run of which job it is, and of which deployment
    (its log directory), so that a process restarted after sbatch but before the handle was
    stored adopts the job instead of submitting it twice."""
    where = hashlib.sha256(str(log_dir).encode()).hexdigest()[:12]
    return f"suanwang-run:{where}:{spec.job_id}:{spec.attempt}"


def time_limit_min(time_limit_s: float, settings: SlurmSettings) -> int:
    """sbatch --time in whole minutes: the job's limit plus the margin, rounded up."""
    with_margin_s = time_limit_s * (1.0 + settings.time_margin_frac) + settings.time_margin_s
    return max(1, math.ceil(with_margin_s / 60.0 - 1e-9))


def resource_args(kind: Kind, units: int, settings: SlurmSettings) -> list[str]:
    """sbatch options asking for the job's units (see the module docstring)."""
    if kind == Kind.HPC:
        return [f"--nodes={max(1, math.ceil(units / settings.units_per_node))}"]
    if kind == Kind.INTELLIGENT and settings.gres:
        gpus = max(1, math.ceil(units / settings.units_per_gpu))
        return ["--ntasks=1", f"--gres={settings.gres}:{gpus}"]
    return ["--ntasks=1", f"--cpus-per-task={max(1, math.ceil(units / settings.units_per_cpu))}"]


def batch_script(spec: RunSpec) -> str:
    """The batch script for `spec`: its environment, then `exec` of its command."""
    env = [*spec.env, ("SUANWANG_JOB_ID", spec.job_id), ("SUANWANG_SITE", spec.site_id),
           ("SUANWANG_UNITS", str(spec.units))]
    lines = ["#!/bin/sh", f"# suanwang job {spec.job_id} at site {spec.site_id}"]
    for name, value in env:
        if not _ENV_NAME.match(name):
            raise ValueError(f"job {spec.job_id}: environment name {name!r} is not a valid "
                             "shell variable name")
        lines.append(f"export {name}={shlex.quote(value)}")
    lines.append(f"exec {shlex.join(spec.command)}")
    return "\n".join(lines) + "\n"


def parse_slurm_time(text: str) -> float | None:
    """A Slurm timestamp (as printed with TZ=UTC0: `2026-11-23T21:30:17`, or epoch seconds)
    as UTC epoch seconds; None for Unknown, None, N/A and empty."""
    text = text.strip()
    if not text or text in ("Unknown", "None", "N/A", "(null)"):
        return None
    if text.isdigit():
        return float(text)
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def parse_exit_code(text: str) -> tuple[int | None, int]:
    """Slurm's `exit:signal` as (exit code, signal); (None, 0) when absent."""
    code, _, sig = text.strip().partition(":")
    try:
        return int(code), int(sig or 0)
    except ValueError:
        return None, 0


def status_of(slurm_state: str, start: str, end: str, exit_code: str = "",
              slurm_reason: str = "", log_tail: str = "") -> ExecStatus:
    """An ExecStatus from Slurm's fields (any of squeue's, scontrol's or sacct's)."""
    state = slurm_state.split()[0].rstrip("+") if slurm_state.strip() else "UNKNOWN"
    started = parse_slurm_time(start)
    ended = parse_slurm_time(end)
    if state in _PENDING:
        return ExecStatus(ExecState.PENDING, reason=f"Slurm {state}: {slurm_reason}".rstrip(": "))
    if state in _RUNNING:
        return ExecStatus(ExecState.RUNNING, started_wall_s=started, reason=f"Slurm {state}")
    code, sig = parse_exit_code(exit_code)
    value = -sig if sig else code
    if state == "COMPLETED" and not code and not sig:  # COMPLETED: every process exited 0
        return ExecStatus(ExecState.FINISHED, started, ended, 0, "exit code 0")
    if state in _CANCELLED:
        return ExecStatus(ExecState.CANCELLED, started, ended, value, f"Slurm {state}")
    why = _FAILED_WHY.get(state, state.lower())
    detail = (f"killed by signal {sig}" if sig else
              f"exit code {code}" if code is not None else slurm_reason)
    reason = f"Slurm {state}: {why}" + (f" ({detail})" if detail else "")
    if state not in _FAILED_WHY and state != "COMPLETED":
        return ExecStatus(ExecState.UNKNOWN, started, ended, value, reason, log_tail)
    return ExecStatus(ExecState.FAILED, started, ended, value, reason, log_tail)


def _scontrol_fields(line: str) -> dict[str, str]:
    """`scontrol -o show job` output as a dict (values are split at spaces: fine for the
    fields read here, which hold none)."""
    return dict(re.findall(r"(\S+?)=(\S*)", line))


class SlurmExecutor:
    name = "slurm"

    def __init__(self, log_dir: Path, settings: SlurmSettings | None = None) -> None:
        self.log_dir = Path(log_dir).resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings or SlurmSettings()
        self._lock = threading.Lock()
        self._ended: dict[str, ExecStatus] = {}  # final states seen (and refused submissions)
        self._refused = 0
        self._last_ok_s = -math.inf
        self._sacct: bool | None = self.settings.use_sacct

    # -- commands -------------------------------------------------------------------------
    def _run(self, tool: str, args: Sequence[str], stdin: str | None = None,
             query: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a Slurm command; BackendUnavailable when it cannot run, times out or says the
        controller is unreachable. Other failures are returned for the caller to judge."""
        exe = str(Path(self.settings.bin_dir) / tool) if self.settings.bin_dir else tool
        env = dict(os.environ)
        if self.settings.slurm_conf:
            env["SLURM_CONF"] = self.settings.slurm_conf
        if query:  # timestamps in UTC; not for sbatch, whose environment the job inherits
            env.update(TZ="UTC0", SLURM_TIME_FORMAT="standard")
        try:
            done = subprocess.run([exe, *args], input=stdin, capture_output=True, text=True,
                                  env=env, timeout=self.settings.command_timeout_s, check=False)
        except FileNotFoundError as exc:
            raise BackendUnavailable(f"{tool} is not installed here: {exc}") from None
        except subprocess.TimeoutExpired:
            raise BackendUnavailable(f"{tool} did not answer within "
                                     f"{self.settings.command_timeout_s:g} s") from None
        except OSError as exc:
            raise BackendUnavailable(f"cannot run {tool}: {exc}") from None
        if done.returncode != 0 and _UNREACHABLE.search(done.stderr or ""):
            raise BackendUnavailable(f"{tool}: {done.stderr.strip()}")
        if done.returncode == 0:
            self._last_ok_s = time.monotonic()
        return done

    def _ensure_reachable(self) -> None:
        if time.monotonic() - self._last_ok_s < _PING_FRESH_S:
            return
        done = self._run("scontrol", ["ping"], query=True)
        if done.returncode != 0 or " is UP" not in done.stdout:
            text = (done.stdout + done.stderr).strip().splitlines()
            raise BackendUnavailable(f"scontrol ping: {text[0] if text else 'no answer'}")

    # -- the Executor protocol --------------------------------------------------------------
    def submit(self, spec: RunSpec) -> str:
        if not spec.command:
            raise ValueError(f"job {spec.job_id} has no command")
        script = batch_script(spec)
        s = self.settings
        args = ["--parsable", f"--job-name={spec.job_id}",
                f"--time={time_limit_min(spec.time_limit_s, s)}",
                f"--output={self.log_dir / f'{spec.job_id}.out'}",
                f"--error={self.log_dir / f'{spec.job_id}.err'}",
                "--open-mode=append", f"--export={s.export}",
                *resource_args(spec.kind, spec.units, s)]
        if s.partition:
            args.append(f"--partition={s.partition}")
        if s.account:
            args.append(f"--account={tenant_account(s.account, spec.tenant)}")
        if spec.workdir:
            args.append(f"--chdir={spec.workdir}")
        args.append(f"--comment={run_tag(spec, self.log_dir)}")
        args.extend(s.sbatch_args)
        self._ensure_reachable()
        earlier = self._started_before(spec)
        if earlier is not None:  # this attempt was sbatched before its handle was stored
            return f"{spec.job_id}@{earlier}"
        done = self._run("sbatch", args, stdin=script)
        slurm_id = done.stdout.strip().split(";")[0] if done.returncode == 0 else ""
        if slurm_id.isdigit():
            return f"{spec.job_id}@{slurm_id}"
        # sbatch refused this job (not the controller's fault): the job fails alone
        problem = (done.stderr or done.stdout).strip() or f"sbatch exit {done.returncode}"
        now = time.time()
        with self._lock:
            self._refused += 1
            handle = f"{spec.job_id}@refused-{self._refused}"
            self._ended[handle] = ExecStatus(ExecState.FAILED, now, now, None,
                                             f"sbatch refused the job: {tail(problem, 3)}",
                                             tail(problem))
        return handle

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        out: dict[str, ExecStatus] = {}
        ask: dict[str, str] = {}  # slurm id -> handle
        with self._lock:
            for h in handles:
                if h in self._ended:
                    out[h] = self._ended[h]
                    continue
                slurm_id = h.rpartition("@")[2]
                if slurm_id.isdigit():
                    ask[slurm_id] = h
                else:
                    out[h] = ExecStatus(ExecState.UNKNOWN, reason=f"not a Slurm handle: {h}")
        if not ask:
            return out
        self._ensure_reachable()
        ids = list(ask)
        seen: dict[str, tuple[str, str, str, str]] = {}
        for i in range(0, len(ids), _QUERY_CHUNK):
            seen.update(self._squeue(ids[i:i + _QUERY_CHUNK]))
        missing = [j for j in ids if j not in seen]
        from_sacct = self._sacct_query(missing) if missing else {}
        ended = [j for j, row in seen.items() if status_of(row[0], "", "").ended]
        details = self._scontrol(ended) if ended else {}
        for slurm_id, h in ask.items():
            job_id = h.rpartition("@")[0]
            if slurm_id in seen:
                state, start, end, reason = seen[slurm_id]
                st = status_of(state, start, end, slurm_reason=reason)
                f = details.get(slurm_id)
                if st.ended and f:  # the exit code is only in scontrol's (or sacct's) view
                    st = status_of(f.get("JobState", state), f.get("StartTime", start),
                                   f.get("EndTime", end), f.get("ExitCode", ""), reason)
                if st.ended:
                    st = self._with_log(st, job_id)
            elif slurm_id in from_sacct:
                state, start, end, code = from_sacct[slurm_id]
                st = status_of(state, start, end, code)
                if st.ended:
                    st = self._with_log(st, job_id)
            else:
                st = ExecStatus(ExecState.UNKNOWN, reason=(
                    f"Slurm job {slurm_id} is no longer known to slurmctld (purged after its "
                    "MinJobAge" + ("" if self._sacct else ", and sacct is not available") + ")"))
            if st.ended:
                with self._lock:
                    self._ended[h] = st
            out[h] = st
        return out

    def cancel(self, handle: str) -> None:
        with self._lock:
            if handle in self._ended:
                return
        slurm_id = handle.rpartition("@")[2]
        if not slurm_id.isdigit():
            return
        self._ensure_reachable()
        done = self._run("scancel", [slurm_id])
        if done.returncode != 0 and not _GONE.search(done.stderr):
            raise BackendUnavailable(f"scancel {slurm_id}: {done.stderr.strip()}")

    def healthy(self) -> bool:
        try:
            self._last_ok_s = -math.inf
            self._ensure_reachable()
        except BackendUnavailable:
            return False
        return True

    def forget(self, handle: str) -> None:
        with self._lock:
            self._ended.pop(handle, None)

    def close(self) -> None:
        """Nothing to let go of: jobs stay with Slurm (a restarted service finds them)."""

    # -- queries ----------------------------------------------------------------------------
    def _started_before(self, spec: RunSpec) -> str | None:
        """The Slurm id of this very attempt of the job if an earlier process sbatched it
        (and died before its handle was stored), pending, running or ended; None if it never
        was. Found by the attempt's tag in the job's comment among this user's jobs of the
        job's name, in slurmctld's memory (MinJobAge after the job ended)."""
        done = self._run("squeue", ["--noheader", "--states=all", "--me",
                                    f"--name={spec.job_id}", "--format=%i|%k"], query=True)
        if done.returncode != 0:
            raise BackendUnavailable(f"squeue: {done.stderr.strip()}")
        tag = run_tag(spec, self.log_dir)
        for line in done.stdout.splitlines():
            slurm_id, _, comment = line.strip().partition("|")
            if comment == tag and slurm_id.isdigit():
                return slurm_id
        return None

    def _squeue(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str, str]]:
        done = self._run("squeue", ["--noheader", "--states=all", f"--jobs={','.join(ids)}",
                                    "--format=%i|%T|%S|%e|%r"], query=True)
        if done.returncode != 0:
            if _GONE.search(done.stderr):  # none of these ids is known any more
                return {}
            raise BackendUnavailable(f"squeue: {done.stderr.strip()}")
        rows: dict[str, tuple[str, str, str, str]] = {}
        for line in done.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 5:
                rows[parts[0]] = (parts[1], parts[2], parts[3], parts[4])
        return rows

    def _scontrol(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """`scontrol show job` fields of ended jobs: one call per job, or one for all jobs
        when there are many (a restarted service catching up)."""
        calls = [["-o", "show", "job", j] for j in ids] if len(ids) <= _ONE_BY_ONE else [
            ["-o", "show", "job"]]
        wanted = set(ids)
        out: dict[str, dict[str, str]] = {}
        for args in calls:
            done = self._run("scontrol", args, query=True)
            for line in done.stdout.splitlines() if done.returncode == 0 else ():
                f = _scontrol_fields(line)
                if f.get("JobId") in wanted:
                    out[f["JobId"]] = f
        return out

    def _with_log(self, st: ExecStatus, job_id: str) -> ExecStatus:
        if st.state not in (ExecState.FAILED, ExecState.UNKNOWN):
            return st
        try:
            text = (self.log_dir / f"{job_id}.err").read_text(encoding="utf-8",
                                                               errors="replace")
        except OSError:
            return st
        return ExecStatus(st.state, st.started_wall_s, st.ended_wall_s, st.exit_code,
                          st.reason, tail(text))

    def _sacct_query(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str, str]]:
        """State of jobs slurmctld no longer holds, from accounting (when there is any)."""
        if self._sacct is False:
            return {}
        done = self._run("sacct", ["--noheader", "--parsable2", "--allocations",
                                   f"--jobs={','.join(ids)}",
                                   "--format=JobIDRaw,State,Start,End,ExitCode"], query=True)
        if done.returncode != 0:
            if self._sacct is None:  # no slurmdbd: "accounting storage is disabled"
                self._sacct = False
            return {}
        self._sacct = True
        rows: dict[str, tuple[str, str, str, str]] = {}
        for line in done.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 5:
                rows[parts[0]] = (parts[1], parts[2], parts[3], parts[4])
        return rows


def make_slurm(cfg: ExecutorConfig, log_dir: Path) -> SlurmExecutor:
    """The registry's factory: settings from the site's entry in the deployment file."""
    return SlurmExecutor(log_dir, parse_settings(SlurmSettings, cfg.settings, "slurm"))
