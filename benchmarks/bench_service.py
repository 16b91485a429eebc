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
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url, schema
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def job(i: int) -> dict[str, Any]:
    return {"origin": ["bth", "yrd", "gba", "cc"][i % 4], "kind": "general", "units": 64,
            "duration_s": 600.0, "deadline_in_s": 86400.0}


def drive(url: str, clients: int, requests: int, batch: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(1, requests // clients)

    def worker(n: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            for i in range(per_client):
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
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    n = len(latencies)
    return {"requests_per_s": n / wall, "jobs_per_s": n * batch / wall,
            "p50_ms": 1000 * latencies[n // 2], "p99_ms": 1000 * latencies[int(n * 0.99) - 1]}


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
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=urls[n % len(urls)], timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            for i in range(max(1, requests // clients)):
                t0 = time.perf_counter()
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


def drive_replicas(urls: list[str], clients: int, requests: int) -> dict[str, float]:
    import multiprocessing

    parts = 2
    with multiprocessing.get_context("spawn").Pool(parts) as pool:
        t0 = time.perf_counter()
        got = pool.map(_drive_part, [(urls[k % len(urls):] + urls[:k % len(urls)],
                                      clients // parts, requests // parts)
                                     for k in range(parts)])
        wall = time.perf_counter() - t0
    latencies = sorted(x for part in got for x in part)
    n = len(latencies)
    return {"requests_per_s": n / wall, "jobs_per_s": n / wall,
            "p50_ms": 1000 * latencies[n // 2], "p99_ms": 1000 * latencies[int(n * 0.99) - 1]}


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


def _decided(schema: str) -> int:
    import sqlalchemy

    eng = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as conn:
        n = conn.execute(sqlalchemy.text(
            f"SELECT COUNT(*) FROM {schema}.jobs WHERE state <> 'submitted'")).scalar_one()
    eng.dispose()
    return int(n)


def start_roles(replicas: int, data_dir: Path
                ) -> tuple[list[subprocess.Popen[bytes]], list[str], str]:
    """A scheduler and `replicas` API replicas on a fresh PostgreSQL schema."""
    import sqlalchemy

    (data_dir / "tokens.json").write_text(json.dumps(
        {TOKEN: {"tenant": "bench", "role": "tenant"}}), encoding="utf-8")
    schema = f"bench_{secrets.token_hex(4)}"
    eng = sqlalchemy.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    db = f"{PG_URL}?options=-csearch_path%3D{schema}"
    common = ["--db", db, "--data-dir", str(data_dir), "--token-file",
              str(data_dir / "tokens.json"), "--policy", "greenest", "--speed", "1"]
    procs = [subprocess.Popen([sys.executable, "-m", "suanwang.cli", "scheduler", *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    urls = []
    for _ in range(replicas):
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "suanwang.cli", "api", "--port", str(port), *common],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("an API replica did not start")
    return procs, urls, schema


def bench_roles(replica_counts: list[int], clients: int, requests: int, runs: int,
                seconds: float = 10.0, use_wrk: bool = True, batch: int = 1) -> None:
    for replicas in replica_counts:
        results = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as d:
                procs, urls, schema = start_roles(replicas, Path(d))
                try:
                    drive_replicas(urls, clients, 200)  # warm up
                    before = _decided(schema)
                    t0 = time.perf_counter()
                    if use_wrk:
                        r = drive_wrk_replicas(urls, clients, seconds, batch, Path(d))
                    else:
                        r = drive_replicas(urls, clients, requests)
                    r["decided_per_s"] = (_decided(schema) - before) / (time.perf_counter()
                                                                        - t0)
                    results.append(r)
                finally:
                    for p in procs:
                        os.killpg(p.pid, signal.SIGTERM)
                    for p in procs:
                        p.wait(timeout=30)
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        what = "single" if batch == 1 else f"batch of {batch:,}"
        print(f"postgresql roles ({'wrk' if use_wrk else 'python clients'}, {what}): "
              f"{replicas} api x{clients:<3} {med['requests_per_s']:>8,.0f} req/s "
              f"{med['jobs_per_s']:>9,.0f} jobs/s  p50 {med['p50_ms']:6.1f} ms  "
              f"p99 {med['p99_ms']:6.1f} ms  "
              f"scheduler decided {med['decided_per_s']:,.0f} jobs/s", flush=True)


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
    args = ap.parse_args()
    if args.replicas:
        use_wrk = bool(shutil.which("wrk")) and not args.python_client
        bench_roles([int(x) for x in args.replicas.split(",")], args.clients, args.requests,
                    args.runs, args.seconds, use_wrk)
        if use_wrk and args.roles_batch:
            bench_roles([int(x) for x in args.replicas.split(",")], 4, args.requests,
                        args.runs, args.seconds, use_wrk, batch=1000)
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
