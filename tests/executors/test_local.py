"""The local executor: real processes in their own process groups."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import pytest

from suanwang.executors.base import ExecState, ExecStatus, RunSpec
from suanwang.executors.local import LocalExecutor, LocalSettings
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
    (("no-such-program",), 127, "cannot start"),
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


def wait_for_line(path: Path, limit_s: float = 10.0) -> str:
    end = time.monotonic() + limit_s
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < end, f"nothing in {path}"
        time.sleep(0.02)
    return path.read_text().strip()


def gone(pid: int, limit_s: float = 10.0) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_cancel_ends_the_whole_process_group(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path, grace_s=2)
    h = ex.submit(spec("long", "sh", "-c", "sleep 60 & echo $!; wait"))
    child = int(wait_for_line(tmp_path / "long.out"))
    ex.cancel(h)
    assert ex.poll([h])[h].state == ExecState.CANCELLED
    assert gone(child), "child process survived cancel"


def test_a_job_past_its_time_limit_is_killed_and_reported_timeout(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path, settings=LocalSettings(time_margin_s=0.5, time_margin_frac=0,
                                                        grace_s=1))
    h = ex.submit(spec("slow", "sh", "-c", "sleep 60 & echo $!; wait", time_limit_s=1.0))
    child = int(wait_for_line(tmp_path / "slow.out"))
    st = wait_end(ex, h)
    assert st.state == ExecState.FAILED and st.reason.startswith("TIMEOUT")
    assert st.ended_wall_s is not None and st.started_wall_s is not None
    assert st.ended_wall_s - st.started_wall_s >= 1.5  # not before its limit and margin
    assert gone(child)


def test_a_job_within_its_limit_is_not_touched(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path, settings=LocalSettings(time_margin_s=0.5, time_margin_frac=0))
    st = wait_end(ex, ex.submit(spec("quick", "sleep", "0.2", time_limit_s=0.3)))
    assert st.state == ExecState.FINISHED


def test_a_restarted_service_re_adopts_a_running_job_and_learns_its_exit(
        tmp_path: Path) -> None:
    first = LocalExecutor(tmp_path)
    h = first.submit(spec("adopt", "sh", "-c", "echo started; sleep 1; echo bye >&2; exit 4"))
    pid = int(h.rsplit("@", 1)[1].split(":")[0])
    wait_for_line(tmp_path / "adopt.out")
    first.close()  # the service stops: the job goes on
    os.kill(pid, 0)
    second = LocalExecutor(tmp_path)  # a new service, which never started that process
    assert second.poll([h])[h].state == ExecState.RUNNING
    st = wait_end(second, h)
    assert st.state == ExecState.FAILED
    assert st.exit_code == 4 and st.reason == "exit code 4"
    assert "started" in st.log_tail and "bye" in st.log_tail


def test_a_handle_whose_pid_was_recycled_is_not_killed(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    other = subprocess.Popen(["sleep", "30"])  # some other process, now holding the pid
    try:
        st = ex.poll([f"ghost@{other.pid}:1"])[f"ghost@{other.pid}:1"]
        assert st.state == ExecState.FAILED and "without an exit status" in st.reason
        ex.cancel(f"ghost@{other.pid}:1")
        assert other.poll() is None  # untouched
    finally:
        other.kill()
        other.wait()


def test_a_job_runs_unprivileged_with_a_scrubbed_environment_in_a_directory_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_SECRET", "s3cret")
    ex = LocalExecutor(tmp_path)
    st = wait_end(ex, ex.submit(spec("who", "sh", "-c",
                                     "id -u; pwd; echo secret=${SERVICE_SECRET:-none}")))
    assert st.state == ExecState.FINISHED
    uid, cwd, secret = (tmp_path / "who.out").read_text().split()
    if os.geteuid() == 0:
        assert int(uid) == pwd.getpwnam("nobody").pw_uid
    assert Path(cwd) == (tmp_path / "work" / "who").resolve()
    assert secret == "secret=none"


def test_local_settings_come_from_the_deployment_file_and_are_validated(tmp_path: Path) -> None:
    from suanwang.errors import InputError
    from suanwang.executors.registry import load_deployment, make_executors

    deploy = tmp_path / "deploy.yaml"
    deploy.write_text("default: {backend: local, time_margin_s: 0.5, run_as: null}\n",
                      encoding="utf-8")
    (ex,) = set(make_executors(load_deployment(deploy, ["a", "b"]), tmp_path).values())
    assert isinstance(ex, LocalExecutor) and ex.settings.time_margin_s == 0.5
    for bad, field in (("time_margin_s: -1", "local.time_margin_s"),
                       ("run_as: no-such-user-here", "local.run_as"),
                       ("nice: 5", "local.nice")):
        deploy.write_text(f"default: {{backend: local, {bad}}}\n", encoding="utf-8")
        with pytest.raises(InputError, match=field.replace(".", r"\.")):
            make_executors(load_deployment(deploy, ["a"]), tmp_path)


def test_a_slurm_account_pattern_maps_each_tenant_to_its_own(tmp_path: Path) -> None:
    from suanwang.errors import InputError
    from suanwang.executors.base import tenant_account
    from suanwang.executors.registry import load_deployment

    deploy = tmp_path / "deploy.yaml"
    deploy.write_text("sites:\n  a: {backend: slurm, account: 'sw-{tenant}'}\n",
                      encoding="utf-8")
    cfg = load_deployment(deploy, ["a"])["a"]
    assert tenant_account(str(cfg.settings["account"]), "alice") == "sw-alice"
    deploy.write_text("sites:\n  a: {backend: slurm, account: 'sw-{user}'}\n",
                      encoding="utf-8")
    with pytest.raises(InputError, match=r"sites\.a\.account"):
        load_deployment(deploy, ["a"])


def test_a_handle_from_an_older_version_is_ended_and_reported_lost(tmp_path: Path) -> None:
    env = {**os.environ, "SUANWANG_JOB_ID": "old"}
    old = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        ex = LocalExecutor(tmp_path)
        st = ex.poll([f"old@{old.pid}"])[f"old@{old.pid}"]
        assert st.state == ExecState.UNKNOWN and "lost" in st.reason
        assert old.wait(timeout=10) == -9  # it was that job's: ended
        st = ex.poll([f"other@{bystander.pid}"])[f"other@{bystander.pid}"]
        assert st.state == ExecState.UNKNOWN
        assert bystander.poll() is None  # not that job's: untouched
    finally:
        for p in (old, bystander):
            p.kill()
            p.wait()


def test_a_job_handed_over_again_after_a_crash_is_not_run_twice(tmp_path: Path) -> None:
    """A service killed after starting a job but before storing its handle hands the job over
    again on restart: the run of that attempt is re-adopted (here it has ended meanwhile) and
    reports its own exit status; only a retry (the next attempt) runs the command again."""
    runs = tmp_path / "runs.txt"
    command = ("sh", "-c", f"echo run >> {runs}; exit 0")
    first = LocalExecutor(tmp_path, settings=LocalSettings(run_as=None))
    h = first.submit(spec("once", *command))
    wait_end(first, h)  # it ended while no service was looking
    (tmp_path / "once.run.json").unlink()  # the crash came before even the run's meta file
    again = LocalExecutor(tmp_path, settings=LocalSettings(run_as=None))  # the restart
    st = wait_end(again, again.submit(spec("once", *command)))
    assert st.state == ExecState.FINISHED and st.exit_code == 0
    assert runs.read_text(encoding="utf-8").splitlines() == ["run"]
    retry = again.submit(spec("once", *command, attempt=1))
    assert wait_end(again, retry).state == ExecState.FINISHED
    assert runs.read_text(encoding="utf-8").splitlines() == ["run", "run"]
