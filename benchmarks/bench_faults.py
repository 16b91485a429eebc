"""kill -9 of the live service under load: what is lost, duplicated or run twice (a benchmark,
not a test; tests/service/test_faults.py runs a few trials of it and asserts the zeros).

    python benchmarks/bench_faults.py                          # 20 SQLite + 10 PostgreSQL trials
    python benchmarks/bench_faults.py --sqlite 5 --postgresql 0 --mode submit

Each trial starts `suanwang serve` as a process of its own (its own session) on a fresh
database (an SQLite file in a temporary data directory, or a fresh schema of PostgreSQL
database `test` on 127.0.0.1:5432), loads it from client threads that submit jobs with
idempotency keys, SIGKILLs the server's process group at a random moment (seeded: trial k
of a run uses seed k), starts it again on the same data directory and database, and counts:

- mode `submit` (the clock backend: jobs just take their duration): every acknowledged job
  (a 201 or 200 received) must be there after the restart (**lost** if not); every key tried,
  sent again, must answer with the job it made (a 200 with the acknowledged id), and the
  tenant's jobs must number exactly the keys tried (**duplicated**: any more, or a new id for
  an acknowledged key).
- mode `local` (every site on the local executor; each job a real process that appends a
  line to a marker file of its own, then sleeps): as above, and then every job must finish
  (**lost**: an acknowledged job missing, or ended other than finished, or finished without
  its command having run), no marker may hold more than one line (**run twice**), and once
  all jobs have ended and the service is stopped, no process of theirs may be left
  (**orphans**: a process whose environment names one of the trial's jobs).

The kill comes at a uniformly random moment 0.3 to 3 s after the load starts (in mode
local also while the earlier jobs run). The table gives, per database and mode, the trials,
jobs acknowledged and jobs tried in all, and the totals lost, duplicated, run twice and
orphaned (all must be 0).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PG_URL = os.environ.get("SUANWANG_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
TENANT_TOKEN = "tok-fault-tenant"
OPS_TOKEN = "tok-fault-ops"
ORIGINS = ("bth", "yrd", "gba", "cc")
START_LIMIT_S = 120.0  # wait this long at most for /healthz (a loaded machine)
SETTLE_LIMIT_S = 240.0  # and this long for the jobs of a local trial to end


@dataclass
class TrialResult:
    db: str
    mode: str
    seed: int
    kill_after_s: float
    acked: int = 0
    tried: int = 0
    lost: int = 0
    duplicated: int = 0
    run_twice: int = 0
    orphans: int = 0
    problems: list[str] = field(default_factory=list)  # what was lost etc., for a report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`suanwang serve` on one data directory and database, started and killed as asked."""

    def __init__(self, data_dir: Path, db_url: str | None, mode: str) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        cmd = [sys.executable, "-m", "suanwang.cli", "serve", "--port", str(self.port),
               "--data-dir", str(self.data_dir), "--policy", "greenest", "--speed", "60",
               "--token-file", str(self.data_dir / "tokens.json")]
        if self.db_url is not None:
            cmd += ["--db", self.db_url]
        if self.mode == "local":
            cmd += ["--executor", "local"]
        self.starts += 1
        log = (self.data_dir / f"serve-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        end = time.monotonic() + START_LIMIT_S
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: "
                                   f"{self.log()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"serve did not answer /healthz in {START_LIMIT_S:.0f} s")

    def log(self) -> str:
        path = self.data_dir / f"serve-{self.starts}.log"
        return path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the server's whole process group: no shutdown, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def job_body(mode: str, key_index: int, markers: Path) -> dict[str, Any]:
    body: dict[str, Any] = {"origin": ORIGINS[key_index % len(ORIGINS)], "kind": "general",
                            "units": 1 + key_index % 8, "duration_s": 60.0 + key_index % 60,
                            "deadline_in_s": 86400.0}
    if mode == "local":
        body["command"] = ["sh", "-c", 'echo run >> "$MARKERS/$SUANWANG_JOB_ID"; sleep 0.3']
        body["env"] = {"MARKERS": str(markers)}
    return body


class Load:
    """Client threads submitting with idempotency keys until told to stop or the server dies;
    each acknowledgement (key -> job id) is kept."""

    def __init__(self, url: str, token: str, mode: str, markers: Path, clients: int,
                 pause_s: float) -> None:
        self.url, self.token, self.mode, self.markers = url, token, mode, markers
        self.acked: dict[str, str] = {}
        self.tried: dict[str, int] = {}  # key -> the body's index
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.pause_s = pause_s
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True)
                        for n in range(clients)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def _client(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10,
                          headers={"Authorization": f"Bearer {self.token}"}) as c:
            i = 0
            while not self.stop.is_set():
                key, index = f"c{n}-{i}", n * 100_000 + i
                with self.lock:
                    self.tried[key] = index
                try:
                    r = c.post("/v1/jobs", json=job_body(self.mode, index, self.markers),
                               headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    return  # the server is gone: the key's outcome is unknown
                if r.status_code in (200, 201):
                    with self.lock:
                        self.acked[key] = r.json()["id"]
                i += 1
                if self.pause_s:
                    time.sleep(self.pause_s)


def _all_jobs(c: httpx.Client) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = c.get("/v1/jobs", params={"limit": 1000, "cursor": cursor}).json()
        jobs += page["jobs"]
        if page["next_cursor"] is None:
            return jobs
        cursor = page["next_cursor"]


def _processes_of(job_ids: set[str]) -> list[int]:
    """Live processes whose environment names one of `job_ids` (SUANWANG_JOB_ID)."""
    wanted = {f"SUANWANG_JOB_ID={j}".encode() for j in job_ids}
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
            state = (entry / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and environ & wanted:
            found.append(int(entry.name))
    return found


def _wait(done: Callable[[], bool], limit_s: float) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if done():
            return True
        time.sleep(0.25)
    return done()


def run_trial(db: str, mode: str, seed: int, work: Path) -> TrialResult:
    """One trial (see the module's doc) in directory `work`, on `db` (sqlite | postgresql)."""
    rng = random.Random(seed)
    result = TrialResult(db, mode, seed, kill_after_s=rng.uniform(0.3, 3.0))
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    # where the jobs' command writes: a directory anyone may reach and write (the jobs of a
    # service running as root run as nobody)
    markers = Path(tempfile.mkdtemp(prefix="sw-fault-markers-"))
    markers.chmod(0o777)
    (data_dir / "tokens.json").write_text(json.dumps({
        TENANT_TOKEN: {"tenant": "fault", "role": "tenant"},
        OPS_TOKEN: {"tenant": "ops", "role": "operator"}}), encoding="utf-8")
    schema = None
    db_url = None
    if db == "postgresql":
        from sqlalchemy import create_engine, text

        schema = f"sw_fault_{secrets.token_hex(5)}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        db_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    # the operator's token may give commands; the tenant's runs the duration's sleep
    token = OPS_TOKEN if mode == "local" else TENANT_TOKEN
    server = Server(data_dir, db_url, mode)
    try:
        server.start()
        load = Load(server.url, token, mode, markers, clients=4 if mode == "submit" else 2,
                    pause_s=0.0 if mode == "submit" else 0.05)
        load.start()
        time.sleep(result.kill_after_s)
        server.kill()
        load.join()
        server.start()
        _check(server, load, mode, markers, result)
    finally:
        server.stop()
        if schema is not None:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    if mode == "local":
        leftover = _processes_of(set(load.acked.values()) | set(result.problems))
        result.orphans = len(leftover)
        for pid in leftover:  # leave the machine clean
            result.problems.append(f"orphan process {pid}")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    shutil.rmtree(markers, ignore_errors=True)
    return result


def _check(server: Server, load: Load, mode: str, markers: Path, result: TrialResult) -> None:
    result.acked, result.tried = len(load.acked), len(load.tried)
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {load.token}"}) as c:
        for key, job_id in load.acked.items():
            if c.get(f"/v1/jobs/{job_id}").status_code != 200:
                result.lost += 1
                result.problems.append(f"acknowledged {key} -> {job_id} is gone")
        for key, index in load.tried.items():  # every key again: the original, never a copy
            r = c.post("/v1/jobs", json=job_body(mode, index, markers),
                       headers={"Idempotency-Key": key})
            if r.status_code not in (200, 201):
                result.problems.append(f"retry of {key}: {r.status_code} {r.text[:200]}")
                continue
            if key in load.acked and (r.status_code != 200 or r.json()["id"] != load.acked[key]):
                result.duplicated += 1
                result.problems.append(f"retry of acknowledged {key}: {r.status_code} "
                                       f"{r.json()['id']} (acknowledged {load.acked[key]})")
        jobs = _all_jobs(c)
        ids = [j["id"] for j in jobs]
        extra = len(ids) - len(load.tried) + (len(ids) - len(set(ids)))
        if extra > 0:
            result.duplicated += extra
            result.problems.append(f"{len(ids)} jobs for {len(load.tried)} keys tried")
        if mode != "local":
            return

        def ended() -> bool:
            states = [j["state"] for j in _all_jobs(c)]
            return all(s in ("finished", "failed", "cancelled", "rejected") for s in states)

        if not _wait(ended, SETTLE_LIMIT_S):
            result.problems.append("jobs still in flight after the settle limit")
        jobs = _all_jobs(c)
    acked_ids = set(load.acked.values())
    for job in jobs:
        marker = markers / job["id"]
        runs = len(marker.read_text(encoding="utf-8").splitlines()) if marker.exists() else 0
        if runs > 1:
            result.run_twice += 1
            result.problems.append(f"{job['id']} ran {runs} times")
        if job["id"] in acked_ids and (job["state"] != "finished" or runs == 0):
            result.lost += 1
            result.problems.append(f"{job['id']}: {job['state']} ({job['reason']}), "
                                   f"ran {runs} times")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", type=int, default=20, help="trials on SQLite")
    parser.add_argument("--postgresql", type=int, default=10, help="trials on PostgreSQL")
    parser.add_argument("--mode", choices=["submit", "local", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="keep the trials' directories")
    args = parser.parse_args()
    modes = ["submit", "local"] if args.mode == "both" else [args.mode]
    rows: list[tuple[str, str, list[TrialResult]]] = []
    root = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    started = time.monotonic()
    for db, trials in (("sqlite", args.sqlite), ("postgresql", args.postgresql)):
        for mode in modes:
            results: list[TrialResult] = []
            for k in range(trials):
                r = run_trial(db, mode, k, root / f"{db}-{mode}-{k}")
                results.append(r)
                print(f"{db:10} {mode:6} trial {k:2}: kill at {r.kill_after_s:4.2f} s, "
                      f"{r.acked:4} acked / {r.tried:4} tried, lost {r.lost}, dup "
                      f"{r.duplicated}, twice {r.run_twice}, orphans {r.orphans}"
                      + (f"  {r.problems[:3]}" if r.problems else ""), flush=True)
            if trials:
                rows.append((db, mode, results))
    print(f"\nkill -9 under load ({time.monotonic() - started:.0f} s in all)")
    print(f"{'database':10} {'mode':6} {'trials':>6} {'acked':>7} {'tried':>7} {'lost':>5} "
          f"{'dup':>4} {'twice':>5} {'orphans':>7}")
    for db, mode, results in rows:
        print(f"{db:10} {mode:6} {len(results):6} {sum(r.acked for r in results):7} "
              f"{sum(r.tried for r in results):7} {sum(r.lost for r in results):5} "
              f"{sum(r.duplicated for r in results):4} {sum(r.run_twice for r in results):5} "
              f"{sum(r.orphans for r in results):7}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
