"""The local executor: real processes in their own process groups."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from suanwang.executors.base import ExecState, ExecStatus, RunSpec
from suanwang.executors.local import LocalExecutor
from suanwang.model import Kind


def spec(job_id: str, *command: str, **kw: object) -> RunSpec:
    return RunSpec(job_id=job_id, site_id="s", kind=Kind.GENERAL, units=1,
                   command=tuple(command), **kw)  # type: ignore[arg-type]


def wait_end(ex: LocalExecutor, handle: str, limit_s: float = 20.0) -> ExecStatus:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        st = ex.poll([handle])[handle]
        if st.ended:
            return st
        time.sleep(0.02)
    pytest.fail(f"{handle} did not end")


def test_a_job_runs_and_reports_exit_code_and_times(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    before = time.time()
    h = ex.submit(spec("ok", "sh", "-c", "echo hello $SUANWANG_JOB_ID $GREETING",
                       env=(("GREETING", "你好"),)))
    st = wait_end(ex, h)
    assert st.state == ExecState.FINISHED and st.exit_code == 0
    assert st.started_wall_s is not None and st.ended_wall_s is not None
    assert before <= st.started_wall_s <= st.ended_wall_s <= time.time()
    assert (tmp_path / "ok.out").read_text(encoding="utf-8").strip() == "hello ok 你好"


@pytest.mark.parametrize(("command", "code", "reason"), [
    (("sh", "-c", "echo broken >&2; exit 3"), 3, "exit code 3"),
    (("sh", "-c", "kill -9 $$"), -9, "killed by signal 9"),
    (("/no/such/program",), 127, "cannot start"),
])
def test_failures_carry_exit_code_and_log_tail(tmp_path: Path, command: tuple[str, ...],
                                               code: int, reason: str) -> None:
    ex = LocalExecutor(tmp_path)
    st = wait_end(ex, ex.submit(spec("bad", *command)))
    assert st.state == ExecState.FAILED
    assert st.exit_code == code
    assert reason in st.reason
    if code == 3:
        assert "broken" in st.log_tail


def test_cancel_ends_the_whole_process_group(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path, grace_s=2)
    pid_file = tmp_path / "child.pid"
    h = ex.submit(spec("long", "sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"))
    end = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < end
        time.sleep(0.02)
    child = int(pid_file.read_text())
    ex.cancel(h)
    assert ex.poll([h])[h].state == ExecState.CANCELLED
    end = time.monotonic() + 10
    while True:  # the grandchild went with its group
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < end, "child process survived cancel"
        time.sleep(0.02)


def test_a_handle_from_before_a_restart_is_reported_lost(tmp_path: Path) -> None:
    first = LocalExecutor(tmp_path)
    h = first.submit(spec("orphan", "sleep", "60"))
    pid = int(h.rsplit("@", 1)[1])
    second = LocalExecutor(tmp_path)  # a new service: it never started that process
    st = second.poll([h])[h]
    assert st.state == ExecState.UNKNOWN and "restarted" in st.reason
    first._procs[h].proc.wait(timeout=10)  # type: ignore[union-attr]  # it was ended
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
