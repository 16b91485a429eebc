"""Submission throughput and latency of the live service (a benchmark, not a test).

    python benchmarks/bench_service.py                 # SQLite and PostgreSQL, 1/10/50 clients
    python benchmarks/bench_service.py --db sqlite --requests 2000

Starts `suanwang serve` in a child process on a fresh database (SQLite file, or a fresh
schema of PostgreSQL database `test` on 127.0.0.1:5432), then loads it over loopback: single
submissions (POST /v1/jobs) at 1, 10 and 50 concurrent connections, and the batch endpoint
(1,000 jobs a request) at 1 and 4. The load comes from `wrk` (Debian package `wrk`; a C load
generator, so the server gets most of the 2 cores) for `--seconds` a case, or, without wrk,
from keep-alive httpx clients on threads in this process (which take CPU from the server:
a floor). Reports requests/s, jobs/s and p50/p99 latency; with --runs N, the median of N.

    python benchmarks/bench_service.py --replicas 1,2  # the roles split (issue 16)

With --replicas, the roles run as processes of their own on PostgreSQL instead: one
`suanwang scheduler` and N `suanwang api` replicas on a fresh schema, loaded with single
submissions at 10 clients (`--clients`) from two client processes, each client on one replica
(round robin); it also reports how many jobs the scheduler decided per second meanwhile.

    python benchmarks/bench_service.py --replicas 1 --workers 0,1,2  # executor workers

    python benchmarks/bench_service.py --backlog 3000 --workers 0,1,2 --runs 2

With --backlog N the scheduler runs alone: N jobs are accepted (batches of 1,000 through an
API replica) before it starts, then it decides them as fast as it can; the line gives, from
the moment it leads (its reload of the backlog included), the rate of its decisions and of
90% of the jobs' starts (clock sites without --workers; local sites on N workers, or on the
scheduler's own executor for 0, with --workers).

With --workers N (N > 0), every site is served by N `suanwang worker` processes (local
processes, `workers: true` in the deployment, clock `--speed` so that each job's sleep lasts
`600 / speed` s): the scheduler hands every placed job to the database and the workers start
it; the line adds how many jobs the workers started per second (their `started` reports).
N = 0 is the same load with every site on the scheduler's own local executor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = "bench-token"
PG_URL = "postgresql://root@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(db: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str | None]:
    (data_dir / "tokens.json").write_text(json.dumps(
        {TOKEN: {"tenant": "bench", "role": "tenant"}}), encoding="utf-8")
    port = free_port()
    schema = None
    cmd = [sys.executable, "-m", "suanwang.cli", "serve", "--port", str(port),
           "--data-dir", str(data_dir), "--token-file", str(data_dir / "tokens.json"),
           "--policy", "greenest", "--speed", "1"]
    env = dict(os.environ)
    if db == "postgresql":
        import sqlalchemy

        schema = f"bench_{secrets.token_hex(4)}"
        eng = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as conn:
            conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
        eng.dispose()
        cmd += ["--db", f"{PG_URL}?options=-csearch_path%3D{schema}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    if healthy(url):
        return proc, url, schema
    proc.kill()
    raise SystemExit("server did not start")


def healthy(url: str, limit_s: float = 60.0) -> bool:
    """Whether the server at `url` answers /healthz within `limit_s`."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


def job(i: int) -> dict[str, Any]:
    return {"origin": ["bth", "yrd", "gba", "cc"][i % 4], "kind": "general", "units": 64,
            "duration_s": 600.0, "deadline_in_s": 86400.0}


def _post_loop(urls: list[str], clients: int, requests: int, batch: int) -> list[float]:
    """`clients` threads, client n on replica n % len(urls), each posting `requests //
    clients` submissions (of `batch` jobs: the batch endpoint when batch > 1); the latencies."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=urls[n % len(urls)], timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            for i in range(max(1, requests // clients)):
                t0 = time.perf_counter()
                if batch > 1:
                    r = c.post("/v1/jobs/batch", json={"jobs": [job(i + k)
                                                                for k in range(batch)]})
                else:
                    r = c.post("/v1/jobs", json=job(i))
                mine.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    raise SystemExit(f"HTTP {r.status_code}: {r.text[:300]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def _figures(latencies: list[float], wall_s: float, batch: int) -> dict[str, float]:
    latencies = sorted(latencies)
    n = len(latencies)
    return {"requests_per_s": n / wall_s, "jobs_per_s": n * batch / wall_s,
            "p50_ms": 1000 * latencies[n // 2], "p99_ms": 1000 * latencies[int(n * 0.99) - 1]}


def drive(url: str, clients: int, requests: int, batch: int) -> dict[str, float]:
    t0 = time.perf_counter()
    latencies = _post_loop([url], clients, requests, batch)
    return _figures(latencies, time.perf_counter() - t0, batch)


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.body = [[{body}]]
"""


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def drive_wrk(url: str, clients: int, seconds: float, batch: int, workdir: Path
              ) -> dict[str, float]:
    payload = ({"jobs": [job(k) for k in range(batch)]} if batch > 1 else job(0))
    script = workdir / f"post{batch}.lua"
    script.write_text(WRK_SCRIPT.format(token=TOKEN, body=json.dumps(payload)),
                      encoding="utf-8")
    path = "/v1/jobs/batch" if batch > 1 else "/v1/jobs"
    out = subprocess.run(["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{int(seconds)}s",
                          "--latency", "-s", str(script), url + path],
                         check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors from the server:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    found = {q: re.search(rf"^\s+{q}%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.MULTILINE)
             for q in (50, 99)}
    if not all(found.values()):
        raise SystemExit(f"cannot read wrk's latency distribution:\n{out}")
    p50, p99 = (_ms(found[q].group(1)) for q in (50, 99))  # type: ignore[union-attr]
    return {"requests_per_s": rps, "jobs_per_s": rps * batch, "p50_ms": p50, "p99_ms": p99}


def _drive_part(args: tuple[list[str], int, int]) -> list[float]:
    """One client process: `clients` threads, client n on replica n % len(urls)."""
    urls, clients, requests = args
    return _post_loop(urls, clients, requests, 1)


def drive_replicas(urls: list[str], clients: int, requests: int) -> dict[str, float]:
    import multiprocessing

    parts = 2
    with multiprocessing.get_context("spawn").Pool(parts) as pool:
        t0 = time.perf_counter()
        got = pool.map(_drive_part, [(urls[k % len(urls):] + urls[:k % len(urls)],
                                      clients // parts, requests // parts)
                                     for k in range(parts)])
        wall = time.perf_counter() - t0
    return _figures([x for part in got for x in part], wall, 1)


def drive_wrk_replicas(urls: list[str], clients: int, seconds: float, batch: int,
                       workdir: Path) -> dict[str, float]:
    """One wrk per replica at once, `clients` connections shared among them: requests/s
    summed, p50 the replicas' mean, p99 the worst replica's (a bound on the whole's)."""
    from concurrent.futures import ThreadPoolExecutor

    share = max(1, clients // len(urls))
    with ThreadPoolExecutor(len(urls)) as pool:
        got = list(pool.map(lambda u: drive_wrk(u, share, seconds, batch, workdir), urls))
    return {"requests_per_s": sum(r["requests_per_s"] for r in got),
            "jobs_per_s": sum(r["jobs_per_s"] for r in got),
            "p50_ms": statistics.mean(r["p50_ms"] for r in got),
            "p99_ms": max(r["p99_ms"] for r in got)}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_s() -> float:
    """CPU seconds of every `postgres` process on this machine (the server and its backends)."""
    total = 0.0
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if (d / "comm").read_text(encoding="ascii").strip().startswith("postgres"):
                total += _cpu_s(int(d.name))
        except (OSError, ValueError):
            continue
    return total


def bench_role_costs(seconds: float, runs: int) -> None:
    """CPU per 1,000 jobs of each role (API replica, scheduler, PostgreSQL), single
    submissions at 10 wrk connections and batches of 1,000 at 4."""
    for batch, clients in ((1, 10), (1000, 4)):
        rows = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as d:
                procs, urls, schema = start_roles(1, Path(d))
                try:
                    drive_wrk(urls[0], clients, 3, batch, Path(d))  # warm up
                    sch, api = procs[0].pid, procs[1].pid
                    c0 = (_cpu_s(api), _cpu_s(sch), _postgres_cpu_s(), _decided(schema))
                    r = drive_wrk(urls[0], clients, seconds, batch, Path(d))
                    time.sleep(1.0)  # the scheduler decides what was accepted last
                    c1 = (_cpu_s(api), _cpu_s(sch), _postgres_cpu_s(), _decided(schema))
                    jobs = r["jobs_per_s"] * seconds
                    rows.append({**r, "api": 1000 * (c1[0] - c0[0]) / jobs,
                                 "scheduler": 1000 * (c1[1] - c0[1]) / max(c1[3] - c0[3], 1),
                                 "postgres": 1000 * (c1[2] - c0[2]) / jobs})
                finally:
                    for p in procs:
                        os.killpg(p.pid, signal.SIGTERM)
                    for p in procs:
                        p.wait(timeout=60)
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"role costs, batch {batch:,} x{clients}: {med['jobs_per_s']:,.0f} jobs/s, p50 "
              f"{med['p50_ms']:.1f} ms, p99 {med['p99_ms']:.1f} ms; CPU s per 1,000 jobs: API "
              f"{med['api']:.2f}, scheduler {med['scheduler']:.2f}, PostgreSQL "
              f"{med['postgres']:.2f}", flush=True)


def _decided(schema: str) -> int:
    import sqlalchemy

    eng = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as conn:
        n = conn.execute(sqlalchemy.text(
            f"SELECT COUNT(*) FROM {schema}.jobs WHERE state <> 'submitted'")).scalar_one()
    eng.dispose()
    return int(n)


def _count(schema: str, sql: str) -> int:
    import sqlalchemy

    eng = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as conn:
        conn.execute(sqlalchemy.text(f"SET search_path TO {schema}"))
        n = conn.execute(sqlalchemy.text(sql)).scalar_one()
    eng.dispose()
    return int(n)


def _started(schema: str, workers: int) -> int:
    """Jobs the scheduler knows started (their `running` event), whoever ran them."""
    return _count(schema, "SELECT COUNT(DISTINCT job_id) FROM job_events "
                          "WHERE state = 'running'")


def _common(schema: str, data_dir: Path, speed: float) -> list[str]:
    db = f"{PG_URL}?options=-csearch_path%3D{schema}"
    return ["--db", db, "--data-dir", str(data_dir), "--token-file",
            str(data_dir / "tokens.json"), "--policy", "greenest", "--speed", str(speed)]


def start_scheduler(schema: str, data_dir: Path, workers: int | None, speed: float,
                    out: Path | None = None) -> subprocess.Popen[bytes]:
    """`suanwang scheduler` on the schema (its output to `out`); with `workers` (not None),
    on the deployment `start_roles` wrote (local sites, given to workers if `workers` > 0)."""
    deploy = data_dir / "deploy.yaml"
    args = [] if workers is None else ["--deployment", str(deploy)]
    sink = out.open("wb") if out is not None else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "suanwang.cli", "scheduler",
                             *_common(schema, data_dir, speed), *args],
                            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def start_roles(replicas: int, data_dir: Path, workers: int | None = None, speed: float = 1.0,
                scheduler: bool = True
                ) -> tuple[list[subprocess.Popen[bytes]], list[str], str]:
    """A scheduler (unless not `scheduler`) and `replicas` API replicas on a fresh
    PostgreSQL schema; with `workers` (0 or more), every site runs local processes, on that
    many executor workers (0: on the scheduler's own executor)."""
    import sqlalchemy

    (data_dir / "tokens.json").write_text(json.dumps(
        {TOKEN: {"tenant": "bench", "role": "tenant"}}), encoding="utf-8")
    schema = f"bench_{secrets.token_hex(4)}"
    eng = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    db = f"{PG_URL}?options=-csearch_path%3D{schema}"
    common = _common(schema, data_dir, speed)
    deploy = data_dir / "deploy.yaml"
    deploy.write_text("default: {backend: local, run_as: null%s}\n"
                      % (", workers: true" if workers else ""), encoding="utf-8")
    procs = [start_scheduler(schema, data_dir, workers, speed)] if scheduler else []
    for k in range(workers or 0):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "suanwang.cli", "worker", "--db", db, "--site", "all",
             "--deployment", str(deploy), "--data-dir", str(data_dir / "wk"),
             "--name", f"bench-w{k}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    urls = []
    for _ in range(replicas):
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "suanwang.cli", "api", "--port", str(port), *common],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        urls.append(f"http://127.0.0.1:{port}")
    if not all(healthy(url) for url in urls):
        raise SystemExit("an API replica did not start")
    for _ in range(600):  # the workers have registered (else sites would seem down)
        if not workers or _count(schema, "SELECT COUNT(*) FROM workers") >= workers:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("the workers did not start")
    return procs, urls, schema


def bench_roles(replica_counts: list[int], clients: int, requests: int, runs: int,
                worker_counts: list[int | None] | None = None, speed: float = 1.0,
                seconds: float = 10.0, use_wrk: bool = False, batch: int = 1) -> None:
    for replicas in replica_counts:
        for workers in worker_counts or [None]:
            _bench_roles(replicas, workers, clients, requests, runs, speed, seconds, use_wrk,
                         batch)


def _bench_roles(replicas: int, workers: int | None, clients: int, requests: int, runs: int,
                 speed: float, seconds: float = 10.0, use_wrk: bool = False,
                 batch: int = 1) -> None:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as d:
            procs, urls, schema = start_roles(replicas, Path(d), workers, speed)
            try:
                drive_replicas(urls, clients, 200)  # warm up
                before = _decided(schema)
                started = _started(schema, workers or 0) if workers is not None else 0
                t0 = time.perf_counter()
                if use_wrk:
                    r = drive_wrk_replicas(urls, clients, seconds, batch, Path(d))
                else:
                    r = drive_replicas(urls, clients, requests)
                wall = time.perf_counter() - t0
                r["decided_per_s"] = (_decided(schema) - before) / wall
                if workers is not None:
                    r["started_per_s"] = (_started(schema, workers) - started) / wall
                results.append(r)
            finally:
                for p in procs:
                    os.killpg(p.pid, signal.SIGTERM)
                for p in procs:
                    p.wait(timeout=30)
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    where = "" if workers is None else f" {workers} workers" if workers else \
        " 0 workers (local in the scheduler)"
    started = f"  started {med['started_per_s']:,.0f} jobs/s" if workers is not None \
        else ""
    what = ("wrk" if use_wrk else "python clients") + (
        ", single" if batch == 1 else f", batches of {batch:,}")
    print(f"postgresql roles ({what}): {replicas} api{where} x{clients:<3} "
          f"{med['requests_per_s']:>8,.0f} req/s {med['jobs_per_s']:>9,.0f} jobs/s  "
          f"p50 {med['p50_ms']:6.1f} ms  "
          f"p99 {med['p99_ms']:6.1f} ms  scheduler decided {med['decided_per_s']:,.0f} "
          f"jobs/s{started}", flush=True)


def _submit_backlog(url: str, n: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=120) as c:
        for k in range(0, n, 1000):
            jobs = [{**job(i), "units": 1} for i in range(k, min(n, k + 1000))]
            r = c.post("/v1/jobs/batch", json={"jobs": jobs})
            if r.status_code not in (200, 201):
                raise SystemExit(f"batch submit: {r.status_code} {r.text[:300]}")


def bench_backlog(worker_counts: list[int | None], n: int, runs: int, speed: float) -> None:
    """The scheduler alone: `n` jobs accepted (batches) before it starts; from the moment it
    leads, the rate it decides them all (reload included) and the rate 90% of them start."""
    for workers in worker_counts:
        results = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as d:
                procs, urls, schema = start_roles(1, Path(d), workers, speed,
                                                  scheduler=False)
                try:
                    _submit_backlog(urls[0], n)
                    out = Path(d) / "scheduler.log"
                    procs.append(start_scheduler(schema, Path(d), workers, speed, out))
                    end = time.monotonic() + 600
                    while b"leading:" not in out.read_bytes() and time.monotonic() < end:
                        time.sleep(0.01)
                    t0 = time.monotonic()  # it leads: from here it reloads and decides
                    t_decided = t_started = None
                    while time.monotonic() < end and None in (t_decided, t_started):
                        t = time.monotonic()
                        if t_decided is None and _decided(schema) >= n:
                            t_decided = t
                        if _started(schema, workers or 0) >= 0.9 * n:
                            t_started = t
                        time.sleep(0.02)
                    if t_decided is None or t_started is None:
                        raise SystemExit("the backlog was not decided and started in 600 s")
                    results.append({"decided_per_s": n / max(t_decided - t0, 1e-3),
                                    "started_per_s": 0.9 * n / max(t_started - t0, 1e-3)})
                finally:
                    for p in procs:
                        os.killpg(p.pid, signal.SIGTERM)
                    for p in procs:
                        p.wait(timeout=60)
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        where = "clock sites" if workers is None else f"{workers} workers" if workers else \
            "local sites, 0 workers"
        print(f"postgresql backlog of {n:,} ({where}): scheduler decided "
              f"{med['decided_per_s']:,.0f} jobs/s, started {med['started_per_s']:,.0f} jobs/s",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--requests", type=int, default=3000, help="single submissions a case")
    ap.add_argument("--batches", type=int, default=40, help="batch requests a case")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of a wrk case")
    ap.add_argument("--python-client", action="store_true", help="don't use wrk")
    ap.add_argument("--replicas", default="", help="e.g. 1,2: the roles split instead")
    ap.add_argument("--clients", type=int, default=10, help="clients of --replicas")
    ap.add_argument("--roles-batch", action="store_true",
                    help="with --replicas and wrk: also batches of 1,000 jobs at 4 clients")
    ap.add_argument("--workers", default="", help="e.g. 0,1,2: with --replicas, local sites "
                                                  "run by that many executor workers")
    ap.add_argument("--speed", type=float, default=0.0,
                    help="clock speed of --replicas (default 1; with --workers 60)")
    ap.add_argument("--backlog", type=int, default=0,
                    help="the scheduler alone: N jobs accepted before it starts (with "
                         "--workers: local sites on that many workers; else clock sites)")
    ap.add_argument("--role-costs", action="store_true",
                    help="CPU per 1,000 jobs of the API replica, the scheduler and PostgreSQL "
                         "(wrk; /proc)")
    args = ap.parse_args()
    if args.role_costs:
        bench_role_costs(args.seconds, args.runs)
        return
    if args.backlog:
        counts: list[int | None] = ([int(x) for x in args.workers.split(",")]
                                    if args.workers else [None])
        bench_backlog(counts, args.backlog, args.runs, args.speed or 600.0)
        return
    if args.replicas:
        worker_counts: list[int | None] | None = (
            [int(x) for x in args.workers.split(",")] if args.workers else None)
        speed = args.speed or (60.0 if worker_counts else 1.0)
        use_wrk = bool(shutil.which("wrk")) and not args.python_client
        bench_roles([int(x) for x in args.replicas.split(",")], args.clients, args.requests,
                    args.runs, worker_counts, speed, args.seconds, use_wrk)
        if use_wrk and args.roles_batch:
            bench_roles([int(x) for x in args.replicas.split(",")], 4, args.requests,
                        args.runs, worker_counts, speed, args.seconds, use_wrk, batch=1000)
        return
    cases = [("single", 1, 1), ("single", 10, 1), ("single", 50, 1), ("batch", 1, 1000),
             ("batch", 4, 1000)]
    for db in args.db.split(","):
        for name, clients, batch in cases:
            runs = []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as d:
                    proc, url, _schema = start(db, Path(d))
                    try:
                        drive(url, clients, 50 if batch == 1 else 2, batch)  # warm up
                        if shutil.which("wrk") and not args.python_client:
                            runs.append(drive_wrk(url, clients, args.seconds, batch, Path(d)))
                        else:
                            runs.append(drive(url, clients, args.requests if batch == 1
                                              else args.batches, batch))
                    finally:
                        os.killpg(proc.pid, signal.SIGTERM)
                        proc.wait(timeout=30)
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"{db:>10} {name:>6} x{clients:<3} {med['requests_per_s']:>8,.0f} req/s "
                  f"{med['jobs_per_s']:>9,.0f} jobs/s  p50 {med['p50_ms']:6.1f} ms  "
                  f"p99 {med['p99_ms']:6.1f} ms", flush=True)


if __name__ == "__main__":
    main()
