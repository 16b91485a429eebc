"""Ray: each placed job a Ray task on a cluster whose nodes carry a custom resource per site.

Settings (a site's entry in the deployment file, all optional):

    address: "127.0.0.1:6379"  # the cluster (host:port or ray://host:port); null: the Ray this
                               #   process is already connected to, else "auto"
    resource: site_jining      # the custom resource that stands for the site; a job asks for
    units_per_resource: 1      #   ceil(units / units_per_resource) of it (none: no resource)
    num_cpus: 0                # Ray CPUs each task holds besides (0: the site resource alone
                               #   decides how many jobs run at once)
    namespace: suanwang
    connect_timeout_s: 5       # TCP probe of the address before Ray is asked to connect
    grace_s: 5                 # SIGTERM to SIGKILL when a job's process group is ended

The task (a streaming generator, so the driver learns the start before the end) runs the job's
command as a subprocess in its own session and process group, with stdout and stderr in
`<log_dir>/<job_id>.out` and `.err` on the node that runs it. It yields the start time and pid
first, then the exit code, end time and the tail of stderr. When the command exits, whatever it
left running in its process group is killed (as Slurm does at the end of a batch job). Cancel is
`ray.cancel(force=True)`: Ray kills the worker's direct children (the command), then the
worker; the task ends the rest of the group when its command dies, and a small reaper process,
started beside the command and no child of the worker, ends the group should the worker die
before it could (SIGKILL, a crash). A task that is still pending is simply dropped by Ray.

`poll` never blocks: `ray.wait(..., timeout=0)` says which tasks have something new. A cluster
that cannot be reached (nothing listening at the address, `ray.init` failing) raises
BackendUnavailable. One process can be connected to one Ray cluster at a time: sites on
different clusters need different service processes. Ray tasks are owned by the process that
submitted them, so a restarted service cannot follow its old tasks: their handles poll UNKNOWN
(lost) and Ray ends them with their owner (the reaper ends their processes).

The task function is shipped by value (cloudpickle), so the cluster's nodes need Ray and Python,
not suanwang.
"""

from __future__ import annotations

import math
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanwang.errors import InputError
from suanwang.executors.base import (
    BackendUnavailable,
    ExecState,
    ExecStatus,
    ExecutorConfig,
    RunSpec,
)
from suanwang.executors.slurm import parse_settings

# The reaper: argv = Ray worker pid, the job's process group, grace seconds. It forks, prints
# the forked pid and exits, so the watcher is no child of the worker: Ray kills a dead
# worker's direct children (the command itself) but not their children, nor a grandchild of
# the worker like this watcher, which then ends the whole group.
_REAPER = """
import os, signal, sys, time
worker, pgid, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
pid = os.fork()
if pid:
    print(pid, flush=True)
    os._exit(0)
devnull = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(devnull, fd)
try:
    while True:
        os.kill(worker, 0)
        time.sleep(0.2)
except ProcessLookupError:
    pass
try:
    os.killpg(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        os.killpg(pgid, 0)
        time.sleep(0.05)
    os.killpg(pgid, signal.SIGKILL)
except ProcessLookupError:
    pass
"""


def run_job(command: Sequence[str], env: dict[str, str], workdir: str | None, log_dir: str,
            job_id: str, grace_s: float) -> Iterator[dict[str, Any]]:
    """The Ray task's body (stdlib only: it is shipped by value to the cluster's nodes).

    Yields {"started_wall_s", "pid"} once the command runs, then {"ended_wall_s", "exit_code",
    "reason", "log_tail"}.
    """
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time

    def err_tail(path: str) -> str:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-20:])[-4000:]

    os.makedirs(log_dir, exist_ok=True)
    out_path = os.path.join(log_dir, f"{job_id}.out")
    err_path = os.path.join(log_dir, f"{job_id}.err")
    started = time.time()
    with open(out_path, "ab") as out, open(err_path, "ab") as err:
        try:
            proc = subprocess.Popen(list(command), stdout=out, stderr=err, cwd=workdir,
                                    env={**os.environ, **env}, start_new_session=True)
        except OSError as exc:
            problem = f"cannot start {command[0]!r}: {exc}"
            err.write(f"{problem}\n".encode())
            yield {"started_wall_s": started, "pid": 0}
            yield {"ended_wall_s": time.time(), "exit_code": 127, "reason": problem,
                   "log_tail": problem}
            return
    spawn = subprocess.run([sys.executable, "-c", _REAPER, str(os.getpid()), str(proc.pid),
                            str(grace_s)], start_new_session=True, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, check=False)
    reaper_pid = int(spawn.stdout.strip() or 0)
    try:
        yield {"started_wall_s": started, "pid": proc.pid}
        code = proc.wait()
    except BaseException:  # ray.cancel(force=False): KeyboardInterrupt inside the task
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    finally:
        # What the command left running in its group ends with it, as at the end of a Slurm
        # batch job. This also covers a force-cancel: Ray first kills the worker's direct
        # children (the command), so proc.wait() returns here before the worker dies.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if reaper_pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(reaper_pid, signal.SIGKILL)
    reason = ("exit code 0" if code == 0 else
              f"killed by signal {-code}" if code < 0 else f"exit code {code}")
    yield {"ended_wall_s": time.time(), "exit_code": code, "reason": reason,
           "log_tail": err_tail(err_path) if code != 0 else ""}


@dataclass(frozen=True, slots=True)
class RaySettings:
    address: str | None = None
    resource: str | None = None
    units_per_resource: float = 1.0
    num_cpus: float = 0.0
    namespace: str = "suanwang"
    connect_timeout_s: float = 5.0
    grace_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("units_per_resource", "connect_timeout_s"):
            if getattr(self, name) <= 0:
                raise InputError("deployment file", f"ray.{name}", getattr(self, name),
                                 "must be > 0")
        for name in ("num_cpus", "grace_s"):
            if getattr(self, name) < 0:
                raise InputError("deployment file", f"ray.{name}", getattr(self, name),
                                 "must be >= 0")


@dataclass
class _Task:
    gen: Any  # ray.ObjectRefGenerator; None: never reached Ray (status is final already)
    started_wall_s: float | None = None
    pid: int = 0
    final: ExecStatus | None = None
    cancelled: bool = False


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a Ray address, or None when it names no socket ("auto")."""
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


class RayExecutor:
    name = "ray"

    def __init__(self, log_dir: Path, settings: RaySettings | None = None) -> None:
        self.log_dir = Path(log_dir).resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings or RaySettings()
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.RLock()
        self._remote: Any = None
        self._started_ray = False

    # -- connection -------------------------------------------------------------------------
    def _probe(self, address: str | None) -> None:
        target = _host_port(address) if address else None
        if target is None:
            return
        try:
            with socket.create_connection(target, timeout=self.settings.connect_timeout_s):
                pass
        except OSError as exc:
            raise BackendUnavailable(f"Ray cluster at {address} cannot be reached: {exc}"
                                     ) from None

    def _connect(self) -> Any:
        """The ray module, connected to the configured cluster; BackendUnavailable if not."""
        try:
            import ray
            import ray.cloudpickle
        except ImportError as exc:  # checked by the factory; here for direct construction
            raise BackendUnavailable(f"Ray is not installed: {exc}") from None
        address = self.settings.address
        with self._lock:
            if ray.is_initialized():
                current = ray.get_runtime_context().gcs_address
                self._probe(address or current)
                if address and address != "auto" and _host_port(address) != _host_port(current):
                    raise BackendUnavailable(
                        f"this process is connected to the Ray cluster at {current}, not "
                        f"{address}: one process can use one Ray cluster")
            else:
                self._probe(address)
                try:
                    ray.init(address=address or "auto", namespace=self.settings.namespace,
                             log_to_driver=False)
                except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
                    raise BackendUnavailable(f"Ray cluster at {address or 'auto'}: {exc}"
                                             ) from None
                self._started_ray = True
            if self._remote is None:
                ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
                self._remote = ray.remote(num_returns="streaming", max_retries=0)(run_job)
        return ray

    # -- the Executor protocol --------------------------------------------------------------
    def submit(self, spec: RunSpec) -> str:
        if not spec.command:
            raise ValueError(f"job {spec.job_id} has no command")
        ray = self._connect()
        s = self.settings
        handle = f"{spec.job_id}@ray-{uuid.uuid4().hex[:12]}"
        resources: dict[str, float] = {}
        if s.resource:
            need = float(max(1, math.ceil(spec.units / s.units_per_resource)))
            try:
                have = float(ray.cluster_resources().get(s.resource, 0.0))
            except Exception as exc:  # Ray raises many kinds when its GCS is gone
                raise BackendUnavailable(f"Ray cluster: {exc}") from None
            if need > have:  # Ray would keep an infeasible task pending for ever
                with self._lock:
                    self._tasks[handle] = _Task(None, final=ExecStatus(
                        ExecState.FAILED, reason=f"needs {need:g} {s.resource}; the Ray "
                        f"cluster has {have:g}"))
                return handle
            resources[s.resource] = need
        env = {**dict(spec.env), "SUANWANG_JOB_ID": spec.job_id, "SUANWANG_SITE": spec.site_id,
               "SUANWANG_UNITS": str(spec.units)}
        try:
            gen = self._remote.options(name=f"suanwang {spec.job_id}", num_cpus=s.num_cpus,
                                       resources=resources).remote(
                list(spec.command), env, spec.workdir, str(self.log_dir), spec.job_id,
                s.grace_s)
        except Exception as exc:  # Ray raises many kinds when its GCS is gone
            raise BackendUnavailable(f"Ray cluster: cannot submit: {exc}") from None
        with self._lock:
            self._tasks[handle] = _Task(gen)
        return handle

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        with self._lock:
            live = {h: t for h in handles if (t := self._tasks.get(h)) is not None
                    and t.final is None}
        if live:
            ray = self._connect()
            for _ in range(2):  # the start and the end may both have arrived
                gens = [t.gen for t in live.values()]
                try:
                    ready, _ = ray.wait(gens, num_returns=len(gens), timeout=0)
                except Exception as exc:  # Ray raises many kinds when its GCS is gone
                    raise BackendUnavailable(f"Ray cluster: {exc}") from None
                ready_ids = {id(g) for g in ready}
                for t in live.values():
                    if id(t.gen) in ready_ids:
                        self._advance(ray, t)
                live = {h: t for h, t in live.items() if t.final is None}
                if not live:
                    break
        out: dict[str, ExecStatus] = {}
        with self._lock:
            for h in handles:
                t = self._tasks.get(h)
                if t is None:
                    out[h] = ExecStatus(ExecState.UNKNOWN, reason=(
                        "lost: Ray tasks end with the process that submitted them"))
                elif t.final is not None:
                    out[h] = t.final
                elif t.started_wall_s is not None:
                    out[h] = ExecStatus(ExecState.RUNNING, started_wall_s=t.started_wall_s)
                else:
                    out[h] = ExecStatus(ExecState.PENDING, reason="waiting for Ray resources")
        return out

    def _advance(self, ray: Any, t: _Task) -> None:
        """Take the next item of a task whose generator has one ready."""
        from ray import exceptions as rx

        try:
            item = ray.get(next(t.gen), timeout=10)
        except StopIteration:
            t.final = ExecStatus(ExecState.FAILED, t.started_wall_s, None, None,
                                 "the Ray task ended without a result")
            return
        except (rx.TaskCancelledError, rx.WorkerCrashedError) as exc:
            if t.cancelled or isinstance(exc, rx.TaskCancelledError):
                t.final = ExecStatus(ExecState.CANCELLED, t.started_wall_s,
                                     _now() if t.started_wall_s else None, None, "cancelled")
            else:
                t.final = ExecStatus(ExecState.FAILED, t.started_wall_s, _now(), None,
                                     f"the Ray worker died: {_first_line(exc)}")
            return
        except rx.GetTimeoutError:
            return
        except rx.RayError as exc:
            t.final = ExecStatus(ExecState.CANCELLED if t.cancelled else ExecState.FAILED,
                                 t.started_wall_s, _now(), None, _first_line(exc),
                                 str(exc)[-4000:])
            return
        if "started_wall_s" in item:
            t.started_wall_s, t.pid = item["started_wall_s"], item["pid"]
            return
        code = item["exit_code"]
        state = (ExecState.CANCELLED if t.cancelled else
                 ExecState.FINISHED if code == 0 else ExecState.FAILED)
        t.final = ExecStatus(state, t.started_wall_s, item["ended_wall_s"], code,
                             "cancelled" if t.cancelled else item["reason"], item["log_tail"])

    def cancel(self, handle: str) -> None:
        with self._lock:
            t = self._tasks.get(handle)
        if t is None or t.gen is None:
            return
        self.poll([handle])  # learn its start (if it started) before the kill drops it
        with self._lock:
            if t.final is not None:
                return
            t.cancelled = True
        ray = self._connect()
        try:
            ray.cancel(t.gen, force=True)
        except Exception as exc:  # Ray raises many kinds when its GCS is gone
            raise BackendUnavailable(f"Ray cluster: cannot cancel: {exc}") from None

    def healthy(self) -> bool:
        try:
            self._connect()
        except BackendUnavailable:
            return False
        return True

    def forget(self, handle: str) -> None:
        with self._lock:
            self._tasks.pop(handle, None)

    def close(self) -> None:
        """Cancel what still runs; disconnect if this executor connected."""
        with self._lock:
            handles = [h for h, t in self._tasks.items() if t.final is None and t.gen]
        for h in handles:
            try:
                self.cancel(h)
            except BackendUnavailable:
                break
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False


def _now() -> float:
    return time.time()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def make_ray(cfg: ExecutorConfig, log_dir: Path) -> RayExecutor:
    """The registry's factory: settings from the site's entry in the deployment file."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise InputError("deployment file", "backend", "ray",
                         "needs the ray package: pip install ray") from None
    return RayExecutor(log_dir, parse_settings(RaySettings, cfg.settings, "ray"))
