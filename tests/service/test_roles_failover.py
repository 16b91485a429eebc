"""The roles as processes of their own on PostgreSQL (issue 16): two API replicas, a leading
scheduler and a standby. Under submit load with idempotency keys the leader is killed -9 and
the standby takes over; then an API replica is killed and the other keeps serving. Nothing
acknowledged is lost, nothing is placed, run or finished twice, and the ledger's hours are
neither skipped nor doubled."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from svc_support import ProcessGroup, free_port, wait_for

# as conftest.py has it (importing conftest by name breaks beside tests/web's own conftest)
PG_URL = os.environ.get("SUANWANG_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
TOKENS = '{"tok-roles": {"tenant": "roles", "role": "tenant"}, ' \
         '"tok-roles-ops": {"tenant": "ops", "role": "operator"}}'
HEADERS = {"Authorization": "Bearer tok-roles"}
OPS = {"Authorization": "Bearer tok-roles-ops"}
JOB = {"origin": "yrd", "kind": "general", "units": 4, "duration_s": 600.0,
       "deadline_in_s": 7200.0}


class Roles(ProcessGroup):
    """Role processes, each in a session of its own, their output in files."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        super().__init__()
        self.tmp = tmp
        self.db_url = db_url
        self.tokens = tmp / "tokens.json"
        self.tokens.write_text(TOKENS, encoding="utf-8")

    def start(self, name: str, role: str, *extra: str) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "suanwang.cli", role, "--db", self.db_url,
               "--data-dir", str(self.tmp / name), "--policy", "greenest", "--speed", "3600",
               "--token-file", str(self.tokens), *extra]
        out = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def api(self, name: str) -> str:
        port = free_port()
        self.start(name, "api", "--port", str(port))
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if self.procs[name].poll() is not None:
                pytest.fail(f"{name} exited: {self.log(name)[-2000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, bool, limit_s=60)
        return url



@pytest.fixture
def roles(tmp_path: Path, pg_schema: tuple[str, str]) -> Iterator[Roles]:
    r = Roles(tmp_path, pg_schema[0])
    try:
        yield r
    finally:
        r.stop_all()


class Load:
    """Submitters with idempotency keys: a request that fails (its replica died) is sent
    again with the same key to a replica that answers; each acknowledgement is kept."""

    def __init__(self, urls: list[str], threads: int = 3) -> None:
        self.urls = urls
        self.alive = list(urls)
        self.acked: dict[str, str] = {}  # idempotency key -> job id answered
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.counter = itertools.count()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def _run(self) -> None:
        clients = {u: httpx.Client(base_url=u, headers=HEADERS, timeout=10) for u in self.urls}
        while not self.stop.is_set():
            n = next(self.counter)
            key = f"load-{n}"
            for attempt in range(40):
                url = self.alive[(n + attempt) % len(self.alive)]
                try:
                    r = clients[url].post("/v1/jobs", json=JOB,
                                          headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    with self.lock:
                        if url in self.alive and len(self.alive) > 1:
                            self.alive.remove(url)
                    continue
                if r.status_code in (200, 201):
                    job_id = r.json()["id"]
                    with self.lock:
                        assert self.acked.setdefault(key, job_id) == job_id
                    break
            time.sleep(0.005)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def job_states(url: str, schema: str, ids: set[str]) -> dict[str, str]:
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET search_path TO {schema}"))
            rows = conn.execute(text("SELECT id, state FROM jobs")).all()
    finally:
        engine.dispose()
    return {r.id: r.state for r in rows if r.id in ids}


def test_leader_and_api_replica_killed_under_load_lose_and_double_nothing(
        roles: Roles, pg_schema: tuple[str, str]) -> None:
    schema = pg_schema[1]
    roles.start("sched-a", "scheduler", "--tick-s", "0.05")
    wait_for(lambda: roles.log("sched-a"), lambda s: "leading:" in s, limit_s=60)
    roles.start("sched-b", "scheduler", "--tick-s", "0.05")
    wait_for(lambda: roles.log("sched-b"), lambda s: "standby" in s, limit_s=60)
    api1, api2 = roles.api("api-1"), roles.api("api-2")

    # an operator action made on a replica reaches the leader and comes back applied
    with httpx.Client(base_url=api2, headers=OPS, timeout=20) as ops:
        r = ops.patch("/v1/sites/wuhu", json={"drained": True})
        assert r.status_code == 200, r.text
        assert r.json()["drained"] is True
        assert ops.patch("/v1/sites/wuhu", json={"drained": False}).json()[
            "drained"] is False
        r = ops.patch("/v1/sites/wuhu", json={"capacity_units": {"general": 7}})
        assert r.status_code == 200, r.text
        assert {p["kind"]: p["capacity_units"] for p in r.json()["pools"]}["general"] == 7
        # a job accepted on one replica is cancelled on the other, by the leader
        r = httpx.post(f"{api1}/v1/jobs", headers=HEADERS, timeout=20, json={
            **JOB, "duration_s": 36000.0, "deadline_in_s": 72000.0})
        assert r.status_code == 201, r.text
        long_job = r.json()
        wait_for(lambda: ops.get(f"/v1/jobs/{long_job['id']}").json()["state"],
                 lambda st: st in ("placed", "running"))
        r = ops.post(f"/v1/jobs/{long_job['id']}/cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
        assert ops.post(f"/v1/jobs/{long_job['id']}/cancel").status_code == 409

    load = Load([api1, api2])
    load.start()
    try:
        wait_for(load.count, lambda n: n >= 100, limit_s=60)
        roles.kill("sched-a")  # the leader dies without a word
        killed_at = load.count()
        wait_for(lambda: roles.log("sched-b"), lambda s: "leading:" in s, limit_s=15)
        # jobs acknowledged after the kill are decided by the new leader
        wait_for(load.count, lambda n: n >= killed_at + 100, limit_s=60)
        after = {k: v for k, v in load.acked.items()
                 if int(k.split("-")[1]) > killed_at + 50}
        wait_for(lambda: job_states(api1, schema, set(after.values())),
                 lambda st: len(st) == len(after) and "submitted" not in st.values(),
                 limit_s=15)

        roles.kill("api-1")  # an API replica dies; the other keeps serving
        at_api_kill = load.count()
        wait_for(load.count, lambda n: n >= at_api_kill + 100, limit_s=60)
    finally:
        load.finish()
    assert load.alive == [api2]

    acked = set(load.acked.values())
    assert len(acked) == len(load.acked)  # one job per key
    done = wait_for(lambda: job_states(api2, schema, acked),
                    lambda st: len(st) == len(acked)
                    and all(s in ("finished", "rejected") for s in st.values()), limit_s=90)
    assert len(done) == len(acked)  # 0 acknowledged jobs lost
    assert "finished" in done.values()

    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET search_path TO {schema}"))
            per_job = conn.execute(text(
                "SELECT job_id, "
                "SUM(CASE WHEN state = 'placed' THEN 1 ELSE 0 END) AS placed, "
                "SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running, "
                "SUM(CASE WHEN state = 'finished' THEN 1 ELSE 0 END) AS finished "
                "FROM job_events GROUP BY job_id")).all()
            keyed = conn.execute(text("SELECT idempotency_key, id FROM jobs "
                                      "WHERE idempotency_key LIKE 'load-%'")).all()
            ledger_dups = conn.execute(text(
                "SELECT job_id, hour, site, COUNT(*) FROM ledger_entries "
                "GROUP BY job_id, hour, site HAVING COUNT(*) > 1")).all()
            seqs = [r[0] for r in conn.execute(text(
                "SELECT seq FROM ledger_entries ORDER BY seq")).all()]
            next_hour = conn.execute(text("SELECT next_hour FROM ledger_head")).scalar_one()
            covered = {(r.job_id, r.hour) for r in conn.execute(text(
                "SELECT job_id, hour FROM ledger_entries")).all()}
            finished = conn.execute(text(
                "SELECT id, start_s, end_s FROM jobs WHERE state = 'finished'")).all()
    finally:
        engine.dispose()
    # every submission was accepted once, as the job its answer named, retries included
    issued = next(load.counter)
    assert len(keyed) <= issued
    assert all(load.acked.get(key, job_id) == job_id for key, job_id in keyed)
    events = {r.job_id: r for r in per_job}
    for job_id in acked:
        e = events[job_id]
        assert e.placed <= 1 and e.running <= 1, e  # placed once, run once
        if done[job_id] == "finished":
            assert e.placed == 1 and e.running == 1 and e.finished == 1, e
    # the ledger: records numbered without a gap, no job charged twice for an hour, and every
    # closed hour of every finished job recorded (none skipped across the failover)
    assert seqs and seqs[0] in (0, 1) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert ledger_dups == []
    assert next_hour > 0
    missing = [(j.id, h) for j in finished
               for h in range(int(j.start_s // 3600), int(j.end_s // 3600) + 1)
               if h < next_hour and min(j.end_s, (h + 1) * 3600) - max(j.start_s, h * 3600) > 1
               and (j.id, h) not in covered]
    assert missing == []

    # the surviving replica serves the reads from what the new leader keeps up to date: the
    # capacity set before the failover (reloaded by the new leader), the chained ledger
    with httpx.Client(base_url=api2, headers=OPS, timeout=20) as ops:
        live = wait_for(lambda: ops.get("/v1/live").json(),
                        lambda v: all(p["busy_units"] == 0 for s in v["sites"]
                                      for p in s["pools"]))
        wuhu = next(s for s in live["sites"] if s["site"] == "wuhu")
        assert {p["kind"]: p["capacity_units"] for p in wuhu["pools"]}["general"] == 7
        verify = ops.get("/v1/ledger/verify").json()
        # (hours that closed since the records above were read add theirs)
        assert verify["ok"] is True and verify["records"] >= len(seqs)
        assert ops.get("/v1/dashboard/overview").status_code == 200
        assert 'suanwang_pool_capacity_units{pool="general",site="wuhu"} 7.0' in ops.get(
            "/metrics").text


@pytest.mark.parametrize("role", ["api", "scheduler"])
def test_a_role_on_sqlite_is_refused_with_a_message(role: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    out = subprocess.run([sys.executable, "-m", "suanwang.cli", role, "--db", db,
                          "--data-dir", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert f"--db {db}: the {role} role" in out.stderr and "PostgreSQL" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x.db").exists()
