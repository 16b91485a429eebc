"""Whole-process speed of `suanwang simulate --out`: jobs per second and peak memory per
policy and size, outputs included (a benchmark, not a test; run by hand).

    python benchmarks/bench_scale.py                    # 20k, 200k (7 days), 1M (30 days)
    python benchmarks/bench_scale.py --sizes 200000@7 --runs 3 --policies nearest,greenest
    python benchmarks/bench_scale.py --extra="--no-ledger --no-invoices" --label lean
    python benchmarks/bench_scale.py --src /tmp/main/src    # another checkout's sources
    python benchmarks/bench_scale.py --baseline-src /tmp/main/src --extra=--no-ledger
        # each run alternating with one on another checkout's sources (default outputs, no
        # extra options: an older checkout may not know them), and the ratio of wall time

Each run is one child process, `python -m suanwang simulate --policy P --jobs N --days D
--seed S --out DIR [extra]`, timed from spawn to exit (imports, demand, energy, simulation
and every file written: the default outputs, without the ledger since issue 18's second round,
`--extra=--ledger` for it); its peak resident memory is the child's own (`os.wait4`: the
largest of it and the processes it forked, each counted with the pages it shares), and with
`--pss` the peak of the summed proportional set size of all of them (sampled). With
--runs N each figure is the median of N runs. The run folder is measured (MB on disk) and
deleted. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GREEDY = ("nearest", "cheapest", "greenest", "green-window")
DEFAULT_SIZES = "20000@7,200000@7,1000000@30"


def parse_sizes(text: str) -> list[tuple[int, float]]:
    """"N@D,..." (D days, 7 if left out) -> [(jobs, days)]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        jobs, _, days = part.partition("@")
        try:
            out.append((int(jobs.replace("_", "")), float(days) if days else 7.0))
        except ValueError:
            raise SystemExit(f"--sizes: {part!r} is not JOBS or JOBS@DAYS") from None
    return out


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def tree_pss_mb(pid: int) -> float:
    """The proportional set size of `pid` and its descendants, summed (MB): shared pages
    counted once in all (a forked child's copy-on-write pages are not counted twice)."""
    total_kb = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kb / 1024.0


def one_run(policy: str, jobs: int, days: float, seed: int, extra: list[str],
            src: str | None, timeout_s: float, pss: bool = False) -> dict[str, float]:
    """Spawn one `simulate --out` and measure it."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    out = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    cmd = [sys.executable, "-m", "suanwang", "simulate", "--policy", policy, "--jobs",
           str(jobs), "--days", str(days), "--seed", str(seed), "--out", str(out / "run"),
           *extra]
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        deadline = t0 + timeout_s
        pss_mb = 0.0
        while True:
            if pss:
                pss_mb = max(pss_mb, tree_pss_mb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise SystemExit(f"{' '.join(cmd)}: no answer in {timeout_s:.0f} s")
            time.sleep(0.02)
        wall_s = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
        return {"wall_s": wall_s, "cpu_s": usage.ru_utime + usage.ru_stime,
                "peak_mb": usage.ru_maxrss / 1024.0, "out_mb": folder_mb(out),
                "pss_mb": pss_mb}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES,
                    help=f"jobs[@days],... (default {DEFAULT_SIZES})")
    ap.add_argument("--policies", default=",".join(GREEDY), help="comma-separated policies")
    ap.add_argument("--runs", type=int, default=1, help="runs per figure (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra", default="", help="more simulate options, e.g. --no-ledger")
    ap.add_argument("--label", default="", help="what the outputs column says (default: the "
                                                "extra options, or 'all')")
    ap.add_argument("--src", default=None, help="PYTHONPATH of the children (another "
                                                "checkout's src/)")
    ap.add_argument("--baseline-src", default=None,
                    help="also run each figure on these sources (PYTHONPATH), alternating")
    ap.add_argument("--baseline-label", default="all (baseline)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument("--pss", action="store_true",
                    help="also sample the summed PSS of the run and its child processes "
                         "(Linux; every 20 ms): the peak memory of all of them together")
    args = ap.parse_args(argv)
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    sizes = parse_sizes(args.sizes)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    extra = shlex.split(args.extra)
    label = args.label or (" ".join(extra) if extra else "all")
    variants = [(label, extra, args.src)]
    if args.baseline_src is not None:
        variants.insert(0, (args.baseline_label, [], args.baseline_src))
    rows = []
    for jobs, days in sizes:
        for policy in policies:
            runs: dict[str, list[dict[str, float]]] = {v[0]: [] for v in variants}
            for _ in range(args.runs):
                for name, opts, src in variants:  # alternating: the same load on each
                    runs[name].append(one_run(policy, jobs, days, args.seed, opts, src,
                                              args.timeout, args.pss))
            base_wall = base_cpu = None
            for name, _, _ in variants:
                got = runs[name]
                wall = statistics.median(r["wall_s"] for r in got)
                cpu = statistics.median(r["cpu_s"] for r in got)
                base_wall = wall if base_wall is None else base_wall
                base_cpu = cpu if base_cpu is None else base_cpu
                rows.append((policy, jobs, days, name, wall, jobs / wall, cpu, jobs / cpu,
                             statistics.median(r["peak_mb"] for r in got),
                             statistics.median(r["out_mb"] for r in got), base_wall / wall,
                             base_cpu / cpu, statistics.median(r["pss_mb"] for r in got)))
                print(f"  {policy} {jobs:,} jobs / {days:g} d, {name}: {wall:.1f} s "
                      f"({cpu:.1f} s CPU)", file=sys.stderr, flush=True)
    print(f"\nWhole process `simulate --out`, median of {args.runs} run(s), seed {args.seed}"
          + (f", sources {args.src}" if args.src else "")
          + (f", baseline {args.baseline_src}" if args.baseline_src else "") + "\n")
    pss_head, pss_rule = (" peak PSS MB (all processes) |", " ---: |") if args.pss else ("", "")
    print("| policy | jobs | days | outputs | wall s | jobs/s | CPU s | jobs/CPU-s | peak MB "
          f"|{pss_head} folder MB | speed-up wall | speed-up CPU |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
          f"{pss_rule} ---: | ---: | ---: |")
    for (policy, jobs, days, what, wall, rate, cpu, cpu_rate, peak, size, up, cpu_up,
         pss_mb) in rows:
        pss_cell = f" {pss_mb:,.0f} |" if args.pss else ""
        print(f"| {policy} | {jobs:,} | {days:g} | {what} | {wall:.1f} | {rate:,.0f} | "
              f"{cpu:.1f} | {cpu_rate:,.0f} | {peak:,.0f} |{pss_cell} {size:,.0f} | "
              f"{up:.2f}x | {cpu_up:.2f}x |")


if __name__ == "__main__":
    main()
