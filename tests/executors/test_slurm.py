"""The Slurm executor, against the real Slurm that scripts/slurm-up.sh starts on this machine.

The tests that need Slurm skip only when `sinfo` is missing and CI is not set: under CI they run
(and fail if Slurm is not there). The one-node test cluster has partitions sw_a and sw_b; the
time-limit job starts when the module starts (Slurm counts limits in whole minutes and checks
them every 30 s), so the other tests run while it waits for its limit.

Several suites may share this machine's Slurm: waits are generous (other runs' jobs hold the two
cores for a while), the helpers ride out another run's controller restart, and the failover
test holds a lock file while it has slurmctld stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from suanwang.errors import InputError
from suanwang.executors.base import (
    BackendUnavailable,
    ExecState,
    ExecStatus,
    ExecutorConfig,
    RunSpec,
)
from suanwang.executors.registry import make_executors
from suanwang.executors.slurm import (
    SlurmExecutor,
    SlurmSettings,
    batch_script,
    make_slurm,
    parse_slurm_time,
    resource_args,
    status_of,
    time_limit_min,
)
from suanwang.model import Kind

T = TypeVar("T")
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
# The test site's settings: 1000 units to a CPU. The node has 2 cores, one of them held by the
# time-limit job for most of the module: the other tests' jobs ask for one.
SITE_A = SlurmSettings(partition="sw_a", units_per_cpu=1000)


def spec(job_id: str, *command: str, units: int = 1000, kind: Kind = Kind.GENERAL,
         **kw: object) -> RunSpec:
    return RunSpec(job_id=job_id, site_id="a", kind=kind, units=units, command=tuple(command),
                   **kw)  # type: ignore[arg-type]


def retrying(call: Callable[[], T], limit_s: float = 60.0) -> T:
    """`call()`, again while slurmctld is away (another test run may be restarting it)."""
    end = time.monotonic() + limit_s
    while True:
        try:
            return call()
        except BackendUnavailable:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def submit(ex: SlurmExecutor, run: RunSpec) -> str:
    return retrying(lambda: ex.submit(run))


def wait_end(ex: SlurmExecutor, handles: list[str], limit_s: float = 300.0
             ) -> dict[str, ExecStatus]:
    end = time.monotonic() + limit_s
    while True:
        st = retrying(lambda: ex.poll(handles))
        if all(s.ended for s in st.values()):
            return st
        if time.monotonic() > end:
            pytest.fail(f"not ended after {limit_s:g} s: {st}")
        time.sleep(0.25)


def wait_for(check: object, what: str, limit_s: float = 30.0) -> None:
    end = time.monotonic() + limit_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > end:
            pytest.fail(f"{what} within {limit_s:g} s")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def scontrol_job(handle: str) -> dict[str, str]:
    def show() -> str:
        done = subprocess.run(["scontrol", "-o", "show", "job", handle.rpartition("@")[2]],
                              capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise BackendUnavailable(done.stderr)
        return done.stdout
    return dict(part.split("=", 1) for part in retrying(show).split() if "=" in part)


def ctld(action: str) -> None:
    subprocess.run(["bash", str(SCRIPTS / "slurm-ctld.sh"), action], check=True, timeout=60)


@contextlib.contextmanager
def ctld_lock() -> Iterator[None]:
    """Held while a test run stops slurmctld or (re)starts Slurm, so runs sharing this
    machine's Slurm do not start it under another run's failover test."""
    with open("/tmp/suanwang-slurm-ctld.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def slurm() -> None:
    """Slurm is up (started by scripts/slurm-up.sh, as .ci/run does), or the test skips."""
    if shutil.which("sinfo") is None and not os.environ.get("CI"):
        pytest.skip("Slurm is not installed here (run `bash scripts/slurm-up.sh` as root)")
    if os.geteuid() == 0:  # idempotent: returns at once when Slurm is already up
        with ctld_lock():
            subprocess.run(["bash", str(SCRIPTS / "slurm-up.sh")], check=True, timeout=300)
    probe = SlurmExecutor(Path("/tmp"), SITE_A)
    end = time.monotonic() + 60
    while not probe.healthy() and time.monotonic() < end:
        time.sleep(0.5)  # another test run may be restarting slurmctld
    if not probe.healthy():
        if os.environ.get("CI"):
            pytest.fail("slurmctld does not answer: did scripts/slurm-up.sh run?")
        pytest.skip("slurmctld does not answer (run `bash scripts/slurm-up.sh` as root)")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slurm-logs")


@pytest.fixture(scope="module")
def over_time(slurm: None, logs: Path) -> Iterator[tuple[SlurmExecutor, str]]:
    """A job that outlives its limit: 1 s with no margin is a 1-minute Slurm limit."""
    ex = SlurmExecutor(logs, SlurmSettings(partition="sw_b", units_per_cpu=1000,
                                           time_margin_s=0))
    h = submit(ex, spec("over-time", "sleep", "300", time_limit_s=1.0))
    yield ex, h
    retrying(lambda: ex.cancel(h))


@pytest.fixture(autouse=True, scope="module")
def _start_the_clock_early(request: pytest.FixtureRequest) -> None:
    """Submit the time-limit job first when Slurm tests run at all."""
    if any("slurm" in getattr(item, "fixturenames", ()) for item in request.session.items
           if getattr(item, "module", None) is request.module):
        # no Slurm here: the Slurm tests skip on their own
        with contextlib.suppress(pytest.skip.Exception):
            request.getfixturevalue("over_time")


# -- without Slurm: the pieces, on hand-made cases ----------------------------------------------

@pytest.mark.parametrize(("state", "code", "want", "exit_code", "words"), [
    ("COMPLETED", "0:0", ExecState.FINISHED, 0, "exit code 0"),
    ("FAILED", "3:0", ExecState.FAILED, 3, "exit code 3"),
    ("TIMEOUT", "0:15", ExecState.FAILED, -15, "TIMEOUT: time limit reached"),
    ("NODE_FAIL", "0:0", ExecState.FAILED, 0, "node failure"),
    ("OUT_OF_MEMORY", "0:125", ExecState.FAILED, -125, "out of memory"),
    ("PREEMPTED", "0:0", ExecState.FAILED, 0, "preempted"),
    ("CANCELLED by 0", "0:15", ExecState.CANCELLED, -15, "CANCELLED"),  # sacct's spelling
    ("FAILED", "0:9", ExecState.FAILED, -9, "killed by signal 9"),
])
def test_ended_slurm_states_map_with_exit_codes(state: str, code: str, want: ExecState,
                                                exit_code: int, words: str) -> None:
    st = status_of(state, "2026-01-01T00:00:00", "2026-01-01T00:01:40", code)
    assert (st.state, st.exit_code) == (want, exit_code)
    assert words in st.reason
    assert (st.started_wall_s, st.ended_wall_s) == (1767225600.0, 1767225700.0)


@pytest.mark.parametrize(("state", "want"), [
    ("PENDING", ExecState.PENDING), ("CONFIGURING", ExecState.PENDING),
    ("REQUEUED", ExecState.PENDING), ("RUNNING", ExecState.RUNNING),
    ("COMPLETING", ExecState.RUNNING), ("SUSPENDED", ExecState.RUNNING),
])
def test_live_slurm_states_map(state: str, want: ExecState) -> None:
    st = status_of(state, "2026-01-01T00:00:00", "Unknown")
    assert st.state == want and not st.ended
    # a pending job's StartTime is Slurm's forecast, not a start
    assert st.started_wall_s == (None if want == ExecState.PENDING else 1767225600.0)


def test_timestamps_parse_as_utc_epoch_seconds() -> None:
    assert parse_slurm_time("1970-01-02T00:00:00") == 86400.0
    assert parse_slurm_time("1795469417") == 1795469417.0
    for none in ("Unknown", "None", "N/A", ""):
        assert parse_slurm_time(none) is None


def test_units_become_cpus_gpus_or_nodes() -> None:
    s = SlurmSettings(units_per_cpu=1000, gres="gpu", units_per_gpu=8, units_per_node=2)
    assert resource_args(Kind.GENERAL, 2500, s) == ["--ntasks=1", "--cpus-per-task=3"]
    assert resource_args(Kind.GENERAL, 1, s) == ["--ntasks=1", "--cpus-per-task=1"]
    assert resource_args(Kind.INTELLIGENT, 16, s) == ["--ntasks=1", "--gres=gpu:2"]
    assert resource_args(Kind.HPC, 5, s) == ["--nodes=3"]
    no_gres = SlurmSettings(units_per_cpu=4)  # a partition without GRES: CPUs instead
    assert resource_args(Kind.INTELLIGENT, 16, no_gres) == ["--ntasks=1", "--cpus-per-task=4"]


def test_time_limit_has_its_margin_in_whole_minutes() -> None:
    assert time_limit_min(600, SlurmSettings()) == 11  # 600 s + 60 s
    assert time_limit_min(1, SlurmSettings(time_margin_s=0)) == 1
    assert time_limit_min(3600, SlurmSettings(time_margin_s=0, time_margin_frac=0.1)) == 66


def test_the_batch_script_quotes_every_word() -> None:
    script = batch_script(spec("j1", "echo", "a b", "$HOME", "it's;rm -rf /",
                               env=(("GREETING", "你好, 'world'"),)))
    out = subprocess.run(["sh", "-s"], input=script.replace("exec ", "exec printf '%s|' "),
                         capture_output=True, text=True, check=True).stdout
    assert out == "echo|a b|$HOME|it's;rm -rf /|"
    assert "export GREETING='你好, '\"'\"'world'\"'\"''" in script
    with pytest.raises(ValueError, match="BAD-NAME"):
        batch_script(spec("j2", "true", env=(("BAD-NAME", "x"),)))


@pytest.mark.parametrize(("settings", "field"), [
    ({"units_per_cpu": 0}, "slurm.units_per_cpu"),
    ({"units_per_cpu": "many"}, "slurm.units_per_cpu"),
    ({"partitions": "sw_a"}, "slurm.partitions"),
    ({"sbatch_args": "--qos=x"}, "slurm.sbatch_args"),
])
def test_bad_settings_name_the_field(tmp_path: Path, settings: dict[str, object],
                                     field: str) -> None:
    with pytest.raises(InputError) as err:
        make_slurm(ExecutorConfig("slurm", settings), tmp_path)
    assert err.value.field == field


def test_the_registry_makes_one_executor_per_partition(tmp_path: Path) -> None:
    made = make_executors({
        "a": ExecutorConfig("slurm", {"partition": "sw_a", "units_per_cpu": 1000}),
        "b": ExecutorConfig("slurm", {"partition": "sw_b", "units_per_cpu": 1000}),
        "c": ExecutorConfig("slurm", {"partition": "sw_a", "units_per_cpu": 1000}),
    }, tmp_path)
    assert isinstance(made["a"], SlurmExecutor)
    assert made["a"] is made["c"] and made["a"] is not made["b"]
    assert made["b"].settings.partition == "sw_b"  # type: ignore[union-attr]


def test_missing_slurm_commands_mean_unavailable(tmp_path: Path) -> None:
    ex = SlurmExecutor(tmp_path, SlurmSettings(bin_dir=str(tmp_path / "no-slurm-here")))
    assert not ex.healthy()
    with pytest.raises(BackendUnavailable, match="not installed"):
        ex.submit(spec("j", "true"))


# -- against the real Slurm ---------------------------------------------------------------------

def test_a_job_runs_through_slurm(slurm: None, logs: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "CST-8")  # the service's zone must not shift Slurm's times
    time.tzset()
    ex = SlurmExecutor(logs, SITE_A)
    before = time.time()
    h = submit(ex, spec("runs", "sh", "-c",
                       'echo "$SUANWANG_JOB_ID $GREETING $(pwd)" > out.txt',
                       units=800, env=(("GREETING", "你好, world"),), workdir=str(tmp_path),
                       time_limit_s=60))
    hpc = submit(ex, spec("hpc", "true", units=1, kind=Kind.HPC))
    job = scontrol_job(h)  # what Slurm was asked for
    assert job["Partition"] == "sw_a" and job["JobName"] == "runs"
    assert job["NumCPUs"] == "1" and job["TimeLimit"] == "00:02:00"  # 60 s + 60 s margin
    assert scontrol_job(hpc)["NumNodes"] in ("1", "1-1")  # 1-1 while pending
    st = wait_end(ex, [h, hpc])
    after = time.time()
    monkeypatch.delenv("TZ")
    time.tzset()
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == f"runs 你好, world {tmp_path}\n"
    assert st[h].state == ExecState.FINISHED and st[h].exit_code == 0
    assert st[hpc].state == ExecState.FINISHED
    assert st[h].started_wall_s is not None and st[h].ended_wall_s is not None
    # Slurm's times are whole seconds
    assert before - 1 <= st[h].started_wall_s <= st[h].ended_wall_s <= after + 1
    # a new executor (a restarted service) knows the job by its handle
    assert SlurmExecutor(logs, SITE_A).poll([h])[h] == st[h]


def test_a_failing_job_reports_exit_code_and_log_tail(slurm: None, logs: Path) -> None:
    ex = SlurmExecutor(logs, SITE_A)
    h = submit(ex, spec("fails", "sh", "-c", "echo step one; echo broken disk >&2; exit 3"))
    missing = submit(ex, spec("missing", "/no/such/program"))
    st = wait_end(ex, [h, missing])
    assert st[h].state == ExecState.FAILED and st[h].exit_code == 3
    assert "exit code 3" in st[h].reason and "broken disk" in st[h].log_tail
    assert st[missing].state == ExecState.FAILED and st[missing].exit_code == 127
    assert "/no/such/program" in st[missing].log_tail


def test_a_job_sbatch_refuses_fails_alone(slurm: None, logs: Path) -> None:
    ex = SlurmExecutor(logs, SlurmSettings(partition="no_such_partition"))
    h = submit(ex, spec("refused", "true"))
    st = ex.poll([h])[h]
    assert st.state == ExecState.FAILED and "invalid partition" in st.reason.lower()
    too_big = SlurmExecutor(logs, SlurmSettings(partition="sw_a", units_per_cpu=1))
    st = too_big.poll([h2 := submit(too_big, spec("too-big", "true", units=10_000))])[h2]
    assert st.state == ExecState.FAILED and "sbatch refused" in st.reason
    assert ex.healthy()


def test_cancel_reaches_slurm_and_ends_the_processes(slurm: None, logs: Path,
                                                     tmp_path: Path) -> None:
    ex = SlurmExecutor(logs, SITE_A)
    pid_file = tmp_path / "child.pid"
    h = submit(ex, spec("cancelled", "sh", "-c", f"sleep 120 & echo $! > {pid_file}; wait"))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the job started")
    child = int(pid_file.read_text())
    assert ex.poll([h])[h].state == ExecState.RUNNING
    ex.cancel(h)
    st = wait_end(ex, [h])[h]
    assert st.state == ExecState.CANCELLED
    assert scontrol_job(h)["JobState"] == "CANCELLED"
    wait_for(lambda: not alive(child), "the job's process ended")
    ex.cancel(h)  # again: no error


def test_controller_down_then_back_loses_no_job(slurm: None, logs: Path,
                                                tmp_path: Path) -> None:
    ex = SlurmExecutor(logs, SITE_A)
    lines = tmp_path / "lines.txt"
    handles = [submit(ex, spec(f"fo{i}", "sh", "-c", f"sleep 1; echo fo{i} >> {lines}"))
               for i in range(3)]  # one CPU is free beside the time-limit job: a queue
    with ctld_lock():
        try:
            ctld("stop")
            assert not ex.healthy()
            with pytest.raises(BackendUnavailable):
                ex.submit(spec("while-down", "true"))
            with pytest.raises(BackendUnavailable):
                ex.poll(handles)
            with pytest.raises(BackendUnavailable):
                ex.cancel(handles[0])
            time.sleep(2)  # a running job ends while slurmctld is away
        finally:
            ctld("start")
    assert ex.healthy()
    after_restart = SlurmExecutor(logs, SITE_A)  # as a restarted service would
    st = wait_end(after_restart, handles)
    assert all(s.state == ExecState.FINISHED for s in st.values()), st
    assert sorted(lines.read_text().split()) == ["fo0", "fo1", "fo2"]  # each exactly once


def test_a_job_past_its_time_limit_fails_with_timeout(
        over_time: tuple[SlurmExecutor, str]) -> None:
    ex, h = over_time
    st = wait_end(ex, [h], limit_s=400)[h]
    assert st.state == ExecState.FAILED and "TIMEOUT" in st.reason
    assert "TIME LIMIT" in st.log_tail
    assert st.started_wall_s is not None and st.ended_wall_s is not None
    assert 60 <= st.ended_wall_s - st.started_wall_s <= 150


def test_a_run_sbatched_before_a_crash_is_adopted_not_submitted_again(
        slurm: None, logs: Path, tmp_path: Path) -> None:
    """A process that died between sbatch and storing the handle: the run claimed again (by a
    restarted service or another worker, same deployment) finds the batch job by its tag."""
    lines = tmp_path / "ran.txt"
    run = spec("adopted", "sh", "-c", f"echo ran >> {lines}")
    first = submit(SlurmExecutor(logs, SITE_A), run)  # its handle is lost with the process
    again = SlurmExecutor(logs, SITE_A)
    assert submit(again, run) == first
    retry = submit(again, spec("adopted", "sh", "-c", f"echo retry >> {lines}", attempt=1))
    assert retry != first  # a new attempt is a new batch job
    elsewhere = submit(SlurmExecutor(tmp_path / "other-deployment", SITE_A), run)
    assert elsewhere != first  # another deployment's job of the same id is not this run
    st = wait_end(again, [first, retry, elsewhere])
    assert all(s.state == ExecState.FINISHED for s in st.values()), st
    assert sorted(lines.read_text().split()) == ["ran", "ran", "retry"]
    assert scontrol_job(first)["Comment"].startswith("suanwang-run:")
