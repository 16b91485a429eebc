"""`rolling` with and without its real-time reserve (a benchmark, not a test).

    python benchmarks/bench_rolling_reserve.py                       # the 2-day instances
    python benchmarks/bench_rolling_reserve.py --instances week:40000:0 --errors 0,1 \
        --variants plain,reserve

Each instance (`name:jobs:seed`; `2d` = 2 days at load 0.6, `week` = 7 days; `high` and
`lull` the weeks of `bench_planning.py` at load 0.9 and with its wind lull) is synthetic
demand on the bundled national network with the actual series. Per instance the aggregated
LP bound (carbon), then `rolling` as the service runs it and `rolling` with
`realtime_reserve=True` (phantom real-time demand, the same as a day earlier, planned with
the waiting work: `policies/rolling.py`), at each forecast error of `--errors`: carbon x the
bound, carbon of real-time and of other work, deadline misses, latency violations, run time.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from bench_planning import wind_lull

from suanwang.energy.forecast import Forecaster
from suanwang.network import load_network
from suanwang.planning.bound import lower_bound
from suanwang.policies.rolling import RollingPolicy
from suanwang.sim import DEFAULT_START, energy_for
from suanwang.sim.engine import simulate
from suanwang.workload.synthetic import DEFAULT_LOAD, synthetic_jobs

DAYS = {"2d": 2.0, "week": 7.0, "high": 7.0, "lull": 7.0}


# name -> RollingPolicy options over "plain" (no real-time reserve, no best fit, no whole-run
# check); "default" is what the service runs (`RollingPolicy()`)
PLAIN: dict[str, Any] = {"realtime_reserve": False, "realtime_own_cost": False,
                         "best_fit": False, "best_fit_pools": False, "whole_job_now": False}
VARIANTS: dict[str, dict[str, Any]] = {name: {**PLAIN, **over} for name, over in {
    "plain": {},
    "default": {k: v for k, v in RollingPolicy().__dict__.items() if k in PLAIN},
    "reserve": {"realtime_reserve": True},
    "own": {"realtime_own_cost": True},
    "both": {"realtime_reserve": True, "realtime_own_cost": True},
    # a start now takes the provider slice of its pool it fits most tightly ...
    "fit": {"best_fit": True},
    # ... or of any pool that prices it alike
    "fitall": {"best_fit": True, "best_fit_pools": True},
    "fitall+reserve": {"best_fit": True, "best_fit_pools": True, "realtime_reserve": True},
    # a deferrable start now must fit the bookings over its whole run
    "whole": {"whole_job_now": True},
    "whole+reserve": {"whole_job_now": True, "realtime_reserve": True},
    "whole+fitall": {"whole_job_now": True, "best_fit": True, "best_fit_pools": True},
    # all three: whole+fitall+reserve
    "packed": {"whole_job_now": True, "best_fit": True, "best_fit_pools": True,
               "realtime_reserve": True},
    "packed+own": {"whole_job_now": True, "best_fit": True, "best_fit_pools": True,
                   "realtime_reserve": True, "realtime_own_cost": True},
}.items()}


def instance(spec: str, errors: list[float], variants: list[str]) -> list[dict[str, Any]]:
    name, n_jobs, seed = spec.split(":")
    days = DAYS[name]
    net = load_network()
    load = 0.9 if name == "high" else DEFAULT_LOAD
    jobs = synthetic_jobs(net, int(n_jobs), days, seed=int(seed), load=load,
                          start_utc=DEFAULT_START)
    series = energy_for(net, jobs, int(seed), DEFAULT_START, days=days)
    if name == "lull":
        series = wind_lull(net, series)
    bound = lower_bound(net, jobs, series)
    rt = np.array([j.realtime for j in jobs])
    rows = []
    for error in errors:
        for variant in variants:
            options = VARIANTS[variant]
            forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                                    seed=int(seed), error_scale=error)
            t0, c0 = time.perf_counter(), time.process_time()
            res = simulate(net, jobs, RollingPolicy(**options), series, forecaster)
            run_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
            s = res.summary()
            carbon = np.asarray(res.carbon_kg, dtype=float)
            row = {"instance": spec, "error": error, "variant": variant, "options": options,
                   "carbon_to_bound": s["carbon_t"] * 1000.0 / bound.value,
                   "carbon_rt_t": float(np.nansum(carbon[rt])) / 1000.0,
                   "carbon_other_t": float(np.nansum(carbon[~rt])) / 1000.0,
                   "deadline_misses": s["deadline_misses"],
                   "latency_violations": s["latency_violations"], "run_s": run_s,
                   "cpu_s": cpu_s}
            rows.append(row)
            print(f"{spec:>14} error {error:g} {variant:>8}: carbon x"
                  f"{row['carbon_to_bound']:.3f} (real-time {row['carbon_rt_t']:,.0f} t, "
                  f"other {row['carbon_other_t']:,.0f} t)  late {row['deadline_misses']}  "
                  f"latency {row['latency_violations']}  ({run_s:.0f} s, {cpu_s:.0f} CPU s)",
                  flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", default="2d:5000:3,2d:5000:7,2d:5000:11")
    ap.add_argument("--errors", default="0")
    ap.add_argument("--variants", default="plain,reserve,own,both",
                    help="comma-separated: " + ", ".join(VARIANTS))
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    errors = [float(e) for e in args.errors.split(",")]
    variants = args.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"--variants: unknown {v!r}; choose from {', '.join(VARIANTS)}")
    rows = [r for spec in args.instances.split(",") for r in instance(spec, errors, variants)]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
