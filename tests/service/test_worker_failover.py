"""Executor workers (issue 16): the scheduler hands the runs of sites the deployment gives to
workers to the database, `suanwang worker` processes claim them with leases and report. A
worker is killed -9 while its jobs run: once its leases expire another worker takes them, finds
each run on the backend (its handle was stored at start) and does not start it again; the
restarted worker does the same for the next one killed. Every job finishes once: one line per
job in the file each run appends to, one `running` and one `finished` event."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from svc_support import ProcessGroup, free_port, wait_for

from suanwang.executors.base import ExecState, ExecStatus, RunSpec
from suanwang.model import Kind

PG_URL = os.environ.get("SUANWANG_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
TOKENS = '{"tok-wk-ops": {"tenant": "ops", "role": "operator"}}'
OPS = {"Authorization": "Bearer tok-wk-ops"}
DEPLOYMENT = "default: {backend: local, workers: true, run_as: null}\n"
SPEED = 120.0  # run seconds per wall second
# each run's wall seconds: longer than a worker takes to start on a loaded machine, so that
# the runs are still going when their worker is killed
SLEEP_S = 20.0


class Procs(ProcessGroup):
    """Role processes, each in a session of its own (its jobs are in sessions of theirs)."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        super().__init__()
        self.tmp = tmp
        self.db_url = db_url
        (tmp / "tokens.json").write_text(TOKENS, encoding="utf-8")
        (tmp / "deploy.yaml").write_text(DEPLOYMENT, encoding="utf-8")
        self.starts = Counter[str]()

    def start(self, name: str, *args: str) -> None:
        self.starts[name] += 1
        out = (self.tmp / f"{name}.{self.starts[name]}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "suanwang.cli", *args, "--db", self.db_url],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.tmp)

    def worker(self, name: str) -> None:
        # workers of a local site share its data directory (the runs' files are there)
        self.start(name, "worker", "--site", "all", "--name", name, "--lease-s", "2",
                   "--poll-s", "0.1", "--deployment", str(self.tmp / "deploy.yaml"),
                   "--data-dir", str(self.tmp / "workers"))
        wait_for(lambda: self.log(name), lambda s: "serving" in s, limit_s=60)

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.{self.starts[name]}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""



@pytest.fixture
def procs(tmp_path: Path, pg_schema: tuple[str, str]) -> Iterator[Procs]:
    p = Procs(tmp_path, pg_schema[0])
    try:
        yield p
    finally:
        p.stop_all()


def query(schema: str, sql: str) -> list[Any]:
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET search_path TO {schema}"))
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def submit(api: str, runs: Path, n: int, sleep_s: float) -> list[str]:
    # each run appends its job id to `runs` once, then sleeps: a run started twice shows
    cmd = ["sh", "-c", f'echo "$SUANWANG_JOB_ID" >> {runs}; sleep {sleep_s}']
    ids = []
    with httpx.Client(base_url=api, headers=OPS, timeout=30) as c:
        for _ in range(n):
            r = c.post("/v1/jobs", json={"origin": "yrd", "kind": "general", "units": 2,
                                         "duration_s": 2 * sleep_s * SPEED,
                                         "deadline_in_s": 20 * sleep_s * SPEED,
                                         "command": cmd})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    return ids


def held_by(schema: str, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """job -> (worker holding its run, backend handle) of the runs not ended."""
    rows = query(schema, "SELECT job_id, worker, backend_handle, ended FROM dispatches")
    return {r.job_id: (r.worker, r.backend_handle) for r in rows
            if r.job_id in ids and not r.ended}


def take_over(procs: Procs, schema: str, ids: list[str], dead: str, heir: str) -> None:
    """Kill -9 `dead` while it holds every run of `ids`; `heir` takes over the runs."""
    held = held_by(schema, ids)
    assert len(held) == len(ids) and all(w == dead and h for w, h in held.values()), held
    procs.kill(dead)  # dies without a word while its runs go on
    # its leases expire and the heir takes them, adopting the runs it finds on the backend
    wait_for(lambda: held_by(schema, ids), lambda h: all(w == heir for w, _ in h.values()),
             limit_s=30)
    wait_for(lambda: procs.log(heir), lambda s: "adopted, not started again" in s)


def test_workers_killed_while_their_jobs_run_lose_and_double_nothing(
        procs: Procs, pg_schema: tuple[str, str], tmp_path: Path) -> None:
    schema = pg_schema[1]
    runs = tmp_path / "runs.txt"
    common = ["--data-dir", str(tmp_path / "sched"), "--token-file", str(tmp_path / "tokens.json"),
              "--policy", "greenest", "--speed", str(SPEED)]
    procs.start("sched", "scheduler", *common, "--tick-s", "0.05",
                "--deployment", str(tmp_path / "deploy.yaml"))
    wait_for(lambda: procs.log("sched"), lambda s: "leading:" in s, limit_s=60)
    port = free_port()
    procs.start("api", "api", *common, "--port", str(port))
    api = f"http://127.0.0.1:{port}"

    def api_up() -> bool:
        try:
            return httpx.get(f"{api}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(api_up, bool, limit_s=60)
    procs.worker("w1")

    # w1 starts every run of the first batch; w2 comes up only then, so it holds none
    first = submit(api, runs, 8, sleep_s=SLEEP_S)
    wait_for(lambda: held_by(schema, first), lambda h: len(h) == len(first) and all(
        w == "w1" and handle for w, handle in h.values()), limit_s=60)
    procs.worker("w2")
    take_over(procs, schema, first, "w1", "w2")

    # a second batch runs on w2; w1 is started again and w2 killed in turn
    second = submit(api, runs, 6, sleep_s=SLEEP_S)
    wait_for(lambda: held_by(schema, second), lambda h: len(h) == len(second) and all(
        w == "w2" and handle for w, handle in h.values()), limit_s=60)
    procs.worker("w1")
    take_over(procs, schema, second, "w2", "w1")

    ids = first + second
    states = wait_for(lambda: dict(query(schema, "SELECT id, state FROM jobs")),
                      lambda st: all(st.get(j) in ("finished", "failed") for j in ids),
                      limit_s=90)
    assert {states[j] for j in ids} == {"finished"}, states  # 0 lost, every run exit 0
    ran = Counter(runs.read_text(encoding="utf-8").split())
    assert ran == Counter(ids), ran  # 0 run twice (nor not at all)
    per_job = {r.job_id: r for r in query(schema, (
        "SELECT job_id, SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running, "
        "SUM(CASE WHEN state = 'finished' THEN 1 ELSE 0 END) AS finished "
        "FROM job_events GROUP BY job_id"))}
    assert all(per_job[j].running == 1 and per_job[j].finished == 1 for j in ids), per_job
    dispatches = query(schema, "SELECT job_id, attempt, ended FROM dispatches")
    assert sorted(r.job_id for r in dispatches) == sorted(ids)  # one run each, all ended
    assert all(r.attempt == 0 and r.ended for r in dispatches)
    reports = Counter(r.kind for r in query(schema, "SELECT kind FROM worker_reports"))
    assert reports == {"started": len(ids), "ended": len(ids)}
    # the jobs' events name the run on the backend
    with httpx.Client(base_url=api, headers=OPS, timeout=30) as c:
        events = c.get(f"/v1/jobs/{first[0]}/events").json()
    started = next(e["reason"] for e in events if e["state"] == "running")
    assert f"local {first[0]}@" in started and "on worker w1" in started


# ---- the queue itself, in one process --------------------------------------------------

@pytest.fixture
def queue(pg_schema: tuple[str, str]) -> Iterator[Any]:
    from suanwang.service.db import make_engine
    from suanwang.service.store import Store
    from suanwang.service.work_queue import WorkQueue

    store = Store(make_engine(PG_URL, pg_schema[1]))
    try:
        yield WorkQueue(store.engine, store.channel)
    finally:
        store.engine.dispose()


def spec(job_id: str, attempt: int = 0) -> RunSpec:
    return RunSpec(job_id=job_id, site_id="wuhu", kind=Kind.GENERAL, units=2,
                   command=("sleep", "1"), env=(("A", "b"),), attempt=attempt)


def test_a_report_made_or_read_twice_changes_nothing(queue: Any) -> None:
    from suanwang.service.worker_dispatch import WorkerDispatch, WorkerReports

    dispatch = WorkerDispatch(WorkerReports(queue), "wuhu", "local")
    queue.register("wa", ["wuhu"], "local", 1)
    handle = dispatch.submit(spec("j1"))
    dispatch.submit(spec("j1"))  # handed over again (a new leader): still one run
    assert [c.spec for c in queue.claim("wa", ["wuhu"], 10, 5.0)] == [spec("j1")]
    assert queue.claim("wb", ["wuhu"], 10, 5.0) == []  # held: nobody else gets it
    assert queue.record_start("wa", "j1", 0, "j1@42:7")
    started = ExecStatus(ExecState.RUNNING, started_wall_s=100.0)
    ended = ExecStatus(ExecState.FINISHED, 100.0, 160.0, 0, "exit code 0", "ok")
    assert queue.report("wa", "j1", 0, "started", started, "local j1@42:7")
    assert queue.report("wa", "j1", 0, "started", started, "again")  # inserts nothing
    assert queue.report("wa", "j1", 0, "ended", ended)
    assert not queue.report("wa", "j1", 0, "ended", ended)  # the run's lease has ended
    assert not queue.report("wb", "j1", 0, "started", started)  # not the holder
    got = dispatch.poll([handle])[handle]
    assert got.state == ExecState.FINISHED and got.exit_code == 0
    assert dispatch.poll([handle])[handle] == got  # read again: the same
    # a new leader reads the reports its predecessor consumed, and folds them the same way
    fresh = WorkerDispatch(WorkerReports(queue), "wuhu", "local")
    assert fresh.poll([handle])[handle] == got
    kinds = [r.kind for r in queue.reports_of([("j1", 0)])]
    assert kinds == ["started", "ended"]


def test_an_expired_lease_is_taken_with_the_handle_and_the_old_holder_is_fenced(
        queue: Any) -> None:
    queue.hand_over("wuhu", spec("j2"))
    queue.hand_over("wuhu", spec("j3"))
    assert len(queue.claim("wa", ["wuhu"], 10, 0.01)) == 2  # a lease that ends at once
    assert queue.record_start("wa", "j2", 0, "j2@77:9")
    time.sleep(0.2)  # past both leases
    assert len(queue.claim("wb", ["wuhu"], 10, 30.0)) == 2
    renewed = queue.heartbeat("wb", 30.0)
    assert set(renewed) == {("j2", 0), ("j3", 0)}
    assert queue.heartbeat("wa", 30.0) == {}  # wa's renewal finds nothing of its own
    taken = query_claims(queue)
    assert taken == {"j2": ("wb", "j2@77:9"), "j3": ("wb", None)}
    # the old holder can no longer write: neither a start nor a report
    assert not queue.record_start("wa", "j3", 0, "j3@1:1")
    assert not queue.report("wa", "j2", 0, "ended", ExecStatus(ExecState.FAILED))
    # a cancel reaches the holder; a run nobody claimed ends at once
    queue.request_cancel("j3", 0)
    assert queue.heartbeat("wb", 30.0)[("j3", 0)] is True
    queue.hand_over("wuhu", spec("j4"))
    queue.request_cancel("j4", 0)
    assert queue.claim("wb", ["wuhu"], 10, 30.0) == []


def test_a_run_started_by_a_worker_that_died_before_storing_its_handle_is_adopted(
        queue: Any, tmp_path: Path) -> None:
    from suanwang.executors.local import LocalExecutor, LocalSettings
    from suanwang.service.executor_worker import ExecutorWorker

    runs = tmp_path / "runs.txt"
    logs = tmp_path / "logs"  # the site's data directory, shared by its workers
    cmd = ("sh", "-c", f'echo "$SUANWANG_JOB_ID" >> {runs}; sleep 1')
    run = RunSpec(job_id="j5", site_id="wuhu", kind=Kind.GENERAL, units=2, command=cmd,
                  time_limit_s=30.0)
    queue.hand_over("wuhu", run)
    # worker a claims the run and starts it, and dies before it stores the handle
    assert len(queue.claim("wa", ["wuhu"], 10, 0.01)) == 1
    LocalExecutor(logs, settings=LocalSettings(run_as=None)).submit(run)
    time.sleep(0.2)  # past its lease
    heir = ExecutorWorker(queue, {"wuhu": LocalExecutor(logs, settings=LocalSettings(
        run_as=None))}, "wb")

    def step() -> list[str]:
        heir.step()
        return [r.kind for r in queue.reports_of([("j5", 0)])]

    assert wait_for(step, lambda kinds: "ended" in kinds) == ["started", "ended"]
    assert runs.read_text(encoding="utf-8").split() == ["j5"]  # ran once
    ended = queue.reports_of([("j5", 0)])[-1].status
    assert ended.state == ExecState.FINISHED and ended.exit_code == 0

    # a cancel asked by the scheduler reaches the run through its worker's heartbeat
    long = RunSpec(job_id="j6", site_id="wuhu", kind=Kind.GENERAL, units=2,
                   command=("sleep", "60"), time_limit_s=120.0)
    queue.hand_over("wuhu", long)
    wait_for(lambda: (heir.step(), [r.kind for r in queue.reports_of([("j6", 0)])])[1],
             lambda kinds: kinds == ["started"])
    queue.request_cancel("j6", 0)
    wait_for(lambda: (heir.step(), queue.reports_of([("j6", 0)]))[1],
             lambda reps: len(reps) == 2)
    assert queue.reports_of([("j6", 0)])[-1].status.state == ExecState.CANCELLED

    # a worker restarted under its id (its leases not expired) takes its runs back, watched
    queue.hand_over("wuhu", RunSpec(job_id="j7", site_id="wuhu", kind=Kind.GENERAL, units=2,
                                    command=("sleep", "1"), time_limit_s=30.0))
    wait_for(lambda: (heir.step(), queue.reports_of([("j7", 0)]))[1], bool)
    again = ExecutorWorker(queue, {"wuhu": LocalExecutor(logs, settings=LocalSettings(
        run_as=None))}, "wb", lease_s=60.0)
    wait_for(lambda: (again.step(), queue.reports_of([("j7", 0)]))[1],
             lambda reps: [r.kind for r in reps] == ["started", "ended"])
    assert again.adopted == 1 and again.started == 0


def query_claims(queue: Any) -> dict[str, tuple[str | None, str | None]]:
    with queue.engine.connect() as conn:
        rows = conn.execute(text("SELECT job_id, worker, backend_handle FROM dispatches")).all()
    return {r.job_id: (r.worker, r.backend_handle) for r in rows}


def test_serve_on_postgresql_runs_the_workers_in_its_process(
        pg_schema: tuple[str, str], tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from svc_support import settings_for

    from suanwang.service.app import create_app

    dep = tmp_path / "deploy.yaml"
    dep.write_text(DEPLOYMENT, encoding="utf-8")
    settings = settings_for((PG_URL, pg_schema[1]), deployment_path=dep, speed=600.0,
                            log_dir=tmp_path / "logs")
    with TestClient(create_app(settings)) as c:
        body = {"origin": "yrd", "kind": "general", "units": 4, "duration_s": 1200.0,
                "deadline_in_s": 7200.0, "command": ["sh", "-c", "echo hi"]}
        ids = [c.post("/v1/jobs", headers={"Authorization": "Bearer tok-ops"},
                      json=body).json()["id"] for _ in range(3)]
        # a run that fails is run again under max_retries, as a run of its own
        failing = c.post("/v1/jobs", headers={"Authorization": "Bearer tok-ops"}, json={
            **body, "command": ["sh", "-c", "exit 3"], "max_retries": 1}).json()["id"]

        def states() -> list[str]:
            return [c.get(f"/v1/jobs/{j}", headers={"Authorization": "Bearer tok-ops"}
                          ).json()["state"] for j in ids]

        assert wait_for(states, lambda st: all(s in ("finished", "failed") for s in st),
                        limit_s=60) == ["finished"] * 3
        job = c.get(f"/v1/jobs/{ids[0]}", headers={"Authorization": "Bearer tok-ops"}).json()
        assert job["exit_code"] == 0 and "hi" in job["log_tail"]
        assert job["exec_handle"] == f"workers:{ids[0]}:0"
        assert job["energy_kwh"] > 0  # charged from the reported times, as before
        failed = wait_for(lambda: c.get(f"/v1/jobs/{failing}", headers={
            "Authorization": "Bearer tok-ops"}).json(), lambda j: j["state"] == "failed",
            limit_s=60)
        assert failed["attempts"] == 2 and failed["exit_code"] == 3
    kinds = Counter(r.kind for r in query(pg_schema[1], "SELECT kind FROM worker_reports"))
    assert kinds == {"started": 5, "ended": 5}
    runs = query(pg_schema[1], f"SELECT attempt FROM dispatches WHERE job_id = '{failing}'")
    assert sorted(r.attempt for r in runs) == [0, 1]


def test_workers_on_sqlite_are_refused_naming_the_key(tmp_path: Path) -> None:
    from suanwang.errors import InputError
    from suanwang.service.app import Service, Settings

    dep = tmp_path / "deploy.yaml"
    dep.write_text(DEPLOYMENT, encoding="utf-8")
    with pytest.raises(InputError, match=r"workers.*PostgreSQL"):
        Service(Settings(db_url=f"sqlite:///{tmp_path / 'x.db'}", deployment_path=dep,
                         log_dir=tmp_path / "logs", start_scheduler=False))


def test_worker_flags_are_checked(tmp_path: Path) -> None:
    dep = tmp_path / "deploy.yaml"
    dep.write_text("default: {backend: local}\n", encoding="utf-8")
    for args, needle in (
            (["--site", "atlantis"], "--site atlantis: unknown site"),
            (["--site", "wuhu", "--deployment", str(dep)], "does not give wuhu to workers"),
            (["--site", "wuhu", "--backend", "nope"], "--backend nope: unknown backend")):
        out = subprocess.run([sys.executable, "-m", "suanwang.cli", "worker", "--db",
                              PG_URL.replace("+psycopg", ""), *args], capture_output=True,
                             text=True, timeout=120, cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert needle in out.stderr and "Traceback" not in out.stderr, out.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: {backend: clock, workers: true}\n", encoding="utf-8")
    from suanwang.errors import InputError
    from suanwang.executors.registry import load_deployment

    with pytest.raises(InputError, match=r"default\.workers"):
        load_deployment(bad, ["wuhu"])
