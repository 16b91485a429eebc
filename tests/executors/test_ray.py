"""The Ray executor, against a real Ray head started in this process (one for the module).

The head carries 2 units of the custom resource `site_a`; the executor asks for one per 1000
job units. Ray binds to the loopback address only (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps it
from advertising the machine's network address). Without Ray installed the module skips, except
under CI, where Ray is a test dependency and must be there.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanwang.errors import InputError
from suanwang.executors.base import (
    BackendUnavailable,
    ExecState,
    ExecStatus,
    ExecutorConfig,
    RunSpec,
)
from suanwang.executors.ray_tasks import RayExecutor, RaySettings, make_ray
from suanwang.executors.registry import make_executors
from suanwang.model import Kind

SITE_A = RaySettings(resource="site_a", units_per_resource=1000, grace_s=1)


def spec(job_id: str, *command: str, units: int = 1000, **kw: object) -> RunSpec:
    return RunSpec(job_id=job_id, site_id="a", kind=Kind.GENERAL, units=units,
                   command=tuple(command), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Any]:
    before = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when ray is imported
    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray", reason="Ray is not installed (pip install ray)")
    ray.init(num_cpus=2, resources={"site_a": 2}, include_dashboard=False,
             log_to_driver=False, object_store_memory=80 * 1024 * 1024)
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    else:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = before


@pytest.fixture(scope="module")
def ex(ray_head: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayExecutor]:
    executor = RayExecutor(tmp_path_factory.mktemp("ray-logs"), SITE_A)
    yield executor
    executor.close()


def wait_for(ex: RayExecutor, handle: str, done: Any, limit_s: float = 60.0) -> ExecStatus:
    end = time.monotonic() + limit_s
    while True:
        st = ex.poll([handle])[handle]
        if done(st):
            return st
        if time.monotonic() > end:
            pytest.fail(f"{handle}: still {st} after {limit_s:g} s")
        time.sleep(0.05)


def wait_end(ex: RayExecutor, handle: str) -> ExecStatus:
    return wait_for(ex, handle, lambda st: st.ended)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_task_runs_the_command_and_reports_times(ex: RayExecutor, tmp_path: Path) -> None:
    before = time.time()
    h = ex.submit(spec("ray-ok", "sh", "-c",
                       'sleep 0.5; echo "$SUANWANG_JOB_ID $GREETING $(pwd)"',
                       env=(("GREETING", "你好"),), workdir=str(tmp_path)))
    running = wait_for(ex, h, lambda st: st.state != ExecState.PENDING)
    assert running.state == ExecState.RUNNING and running.started_wall_s is not None
    st = wait_end(ex, h)
    after = time.time()
    assert st.state == ExecState.FINISHED and st.exit_code == 0
    assert st.started_wall_s is not None and st.ended_wall_s is not None
    assert before <= st.started_wall_s <= st.ended_wall_s <= after
    assert st.ended_wall_s - st.started_wall_s >= 0.5
    assert (ex.log_dir / "ray-ok.out").read_text(encoding="utf-8") == f"ray-ok 你好 {tmp_path}\n"
    assert ex.poll([h])[h] == st  # an ended task stays ended


@pytest.mark.parametrize(("command", "code", "reason", "log"), [
    (("sh", "-c", "echo broken disk >&2; exit 3"), 3, "exit code 3", "broken disk"),
    (("sh", "-c", "kill -9 $$"), -9, "killed by signal 9", ""),
    (("/no/such/program",), 127, "cannot start", "/no/such/program"),
])
def test_failures_carry_exit_code_and_log_tail(ex: RayExecutor, command: tuple[str, ...],
                                               code: int, reason: str, log: str) -> None:
    st = wait_end(ex, ex.submit(spec(f"ray-bad{code}", *command)))
    assert st.state == ExecState.FAILED and st.exit_code == code
    assert reason in st.reason and log in st.log_tail


def test_cancel_kills_the_whole_process_group(ex: RayExecutor, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    h = ex.submit(spec("ray-cancel", "sh", "-c", f"sleep 120 & echo $! > {pid_file}; wait"))
    wait_for(ex, h, lambda st: st.state == ExecState.RUNNING and pid_file.exists()
             and pid_file.read_text().strip() != "")
    child = int(pid_file.read_text())
    ex.cancel(h)
    st = wait_end(ex, h)
    assert st.state == ExecState.CANCELLED and st.started_wall_s is not None
    end = time.monotonic() + 15
    while alive(child):  # the grandchild went too, though Ray only kills the worker
        assert time.monotonic() < end, "the job's process survived cancel"
        time.sleep(0.05)
    ex.cancel(h)  # again: no error


def test_a_pending_task_waits_for_the_site_resource_and_cancels(ex: RayExecutor) -> None:
    big = ex.submit(spec("ray-holds-all", "sleep", "30", units=2000))  # both site_a units
    wait_for(ex, big, lambda st: st.state == ExecState.RUNNING)
    queued = ex.submit(spec("ray-queued", "true"))
    time.sleep(0.5)
    assert ex.poll([queued])[queued].state == ExecState.PENDING
    ex.cancel(queued)
    st = wait_end(ex, queued)
    assert st.state == ExecState.CANCELLED and st.started_wall_s is None
    ex.cancel(big)
    assert wait_end(ex, big).state == ExecState.CANCELLED


def test_a_task_larger_than_the_cluster_fails_at_once(ex: RayExecutor) -> None:
    h = ex.submit(spec("ray-huge", "true", units=5000))
    st = ex.poll([h])[h]
    assert st.state == ExecState.FAILED and "needs 5 site_a" in st.reason


def test_an_unknown_handle_is_reported_lost(ex: RayExecutor) -> None:
    st = ex.poll(["j1@ray-000000000000"])["j1@ray-000000000000"]
    assert st.state == ExecState.UNKNOWN and "lost" in st.reason


def test_an_unreachable_cluster_is_backend_unavailable(ray_head: Any, tmp_path: Path) -> None:
    gone = RayExecutor(tmp_path, RaySettings(address=f"127.0.0.1:{closed_port()}",
                                             resource="site_a"))
    assert not gone.healthy()
    with pytest.raises(BackendUnavailable, match="cannot be reached"):
        gone.submit(spec("ray-nowhere", "true"))


def test_the_deployment_file_makes_ray_executors(ray_head: Any, tmp_path: Path) -> None:
    address = ray_head.get_runtime_context().gcs_address
    made = make_executors({"a": ExecutorConfig("ray", {
        "address": address, "resource": "site_a", "units_per_resource": 1000})}, tmp_path)
    ray_ex = made["a"]
    assert isinstance(ray_ex, RayExecutor) and ray_ex.healthy()
    st = wait_end(ray_ex, ray_ex.submit(spec("ray-deployed", "true")))
    assert st.state == ExecState.FINISHED, st
    with pytest.raises(InputError) as err:
        make_ray(ExecutorConfig("ray", {"units_per_resource": -1}), tmp_path)
    assert err.value.field == "ray.units_per_resource"
