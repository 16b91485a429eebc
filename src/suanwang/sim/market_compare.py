"""`suanwang compare --market`: the same demand through the scheduler alone, posted prices
and the call auction (`sim.market_run`), and what each gave.

Per mechanism:
- **welfare** = over the jobs run, tenants' value - providers' cost, where a job's value is
  its valuation (`market.valuation`) x its unit-hours, and its providers' cost is the
  provider's reserve (energy + wear, capped at the list price of the hour it was placed:
  `synthetic.reserve_yuan_per_unit_h`) x its unit-hours, plus the egress of its input data
  (the transit of the auction). The same welfare as `market.offline`, so the ratios compare
  like with like. Under the scheduler alone a job below its cost still runs and counts,
  negative.
- **bill**: what tenants pay (compute + egress): list prices, posted prices or clearing
  prices for the deferrable jobs; list prices for real-time jobs in all three.
- **west utilisation**: busy facility power over installed facility power at the western
  hubs' sites over the demand's horizon (per kind: busy units over installed units).
- carbon, energy, green share, and jobs run / not run (deferrable and real-time).
- **optimum** (the reference row `optimum-rounds`): the call auction's rounds on the same
  demand, each round's bids and asks settled by the offline optimum of its book
  (`offline.optimum_assignment`) instead of SBBA; its deferrable jobs' welfare is the
  reference, and welfare / optimum of each mechanism is its deferrable jobs' welfare over it.
  It optimises each round on what the round knows (not the whole week at once: no bound over
  all schedules). The auction's row also gives, round by round on the same books, its
  clearing's welfare over the rounds' optima (`round_welfare_to_optimum`: the efficiency of
  the clearing rule itself, as `benchmarks/bench_market.py` measures it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.market.posted import PostedRule
from suanwang.market.synthetic import reserve_yuan_per_unit_h
from suanwang.market.valuation import job_values_yuan_per_unit_h
from suanwang.model import Job, Kind, Network
from suanwang.planning.context import PolicyContext
from suanwang.policies.registry import POLICIES, UnknownPolicyError, make_policy
from suanwang.pricing.table import PriceTable
from suanwang.sim.market_run import (
    CALL_AUCTION,
    MECHANISMS,
    MechanismRun,
    run_auction,
    run_posted,
    run_scheduler_alone,
)
from suanwang.sim.result import LATE, REJECTED


@dataclass
class MarketComparison:
    runs: list[MechanismRun]
    rows: list[dict[str, Any]]
    optimum_yuan: float | None  # the reference's deferrable welfare (`OPTIMUM_ROUNDS`)
    values_yuan_per_unit_h: np.ndarray


def market_compare(network: Network, jobs: Sequence[Job], policy: str, series: EnergySeries,
                   seed: int = 0, forecast_error: float = 1.0,
                   horizon_s: float | None = None,
                   mechanisms: Sequence[str] = MECHANISMS,
                   with_optimum: bool = True,
                   posted_rule: PostedRule | None = None) -> MarketComparison:
    """Run `jobs` through each mechanism under the online `policy`; one row per mechanism,
    then (`with_optimum`) the reference row. `posted_rule`: the posted prices' scarcity
    source and carbon price (`market.posted.PostedRule`; default lp_dual at 100 yuan/t)."""
    if policy not in POLICIES:
        raise UnknownPolicyError(f"policy {policy!r}: the market comparison runs an online "
                                 f"policy; choose one of: {', '.join(POLICIES)}")
    for m in mechanisms:
        if m not in MECHANISMS:
            raise ValueError(f"unknown mechanism {m!r}; choose from {', '.join(MECHANISMS)}")
    values = job_values_yuan_per_unit_h(network, jobs, seed, series.start_utc)
    runs: list[MechanismRun] = []
    for m in mechanisms:
        forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in network.sites],
                                seed=seed, error_scale=forecast_error)
        pol = make_policy(policy, PolicyContext(network, jobs, series))
        if m == CALL_AUCTION:
            runs.append(run_auction(network, jobs, pol, series, forecaster, values))
        elif m == "posted-prices":
            runs.append(run_posted(network, jobs, pol, series, forecaster, values,
                                   posted_rule))
        else:
            runs.append(run_scheduler_alone(network, jobs, pol, series, forecaster))
    reference = None
    if with_optimum:
        forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in network.sites],
                                seed=seed, error_scale=forecast_error)
        pol = make_policy(policy, PolicyContext(network, jobs, series))
        reference = run_auction(network, jobs, pol, series, forecaster, values,
                                assign="optimum")
    if horizon_s is None:
        horizon_s = max((j.submit_s for j in jobs), default=0.0) + HOUR_S
    optimum = None
    if reference is not None:
        ref_row = summarise(reference, values, horizon_s, None)
        optimum = ref_row["deferrable_welfare_yuan"]
    rows = [summarise(r, values, horizon_s, optimum) for r in runs]
    if reference is not None:
        rows.append(summarise(reference, values, horizon_s, optimum))
    return MarketComparison(runs, rows, optimum, values)


def provider_cost_yuan(run: MechanismRun) -> np.ndarray:
    """Per job run: the provider's reserve at the hour of placement x unit-hours, plus its
    egress (zeros for jobs not run)."""
    res = run.result
    topo = res.topology
    n = len(res.jobs)
    out = np.zeros(n)
    ran = np.flatnonzero(res.ran)
    if not len(ran):
        return out
    table = PriceTable(topo.slices, res.series.start_utc, res.series.hours)
    table.ensure(float(np.nanmax(res.placed_s[ran])))
    assert res.slice is not None and res.egress_yuan is not None
    for i in ran.tolist():
        sl = int(res.slice[i])
        _, kind = topo.slices[sl]
        hour = min(int(res.placed_s[i] // HOUR_S), table.hours - 1)
        site = topo.network.sites[topo.slice_site[sl]]
        reserve = reserve_yuan_per_unit_h(site, kind, table.price_rows[sl][hour])
        j = res.jobs[i]
        out[i] = reserve * j.units * j.duration_s / HOUR_S
    return out + res.egress_yuan * res.ran


def west_utilisation(run: MechanismRun, horizon_s: float) -> tuple[float, dict[str, float]]:
    """Busy over installed facility power at the western sites over [0, horizon_s), and per
    kind busy over installed units."""
    res = run.result
    net, topo = res.network, res.topology
    west_hubs = {h.id for h in net.hubs if h.west}
    west_sites = {i for i, s in enumerate(net.sites) if s.hub_id in west_hubs}
    ran = res.ran
    start = np.clip(np.nan_to_num(res.placed_s), 0.0, horizon_s)
    end = np.clip(np.nan_to_num(res.end_s), 0.0, horizon_s)
    busy_s = np.where(ran, end - start, 0.0)
    units = np.fromiter((j.units for j in res.jobs), dtype=float, count=len(res.jobs))
    busy_kw_s = 0.0
    cap_kw_s = 0.0
    by_kind: dict[str, float] = {}
    for kind in Kind:
        pools = [p for p in range(len(topo.pools))
                 if topo.pool_site[p] in west_sites and topo.pool_kind[p] == kind]
        if not pools:
            continue
        mask = ran & np.isin(res.pool, pools)
        unit_s = float((units * busy_s)[mask].sum())
        cap_units = sum(topo.pool_capacity[p] for p in pools)
        by_kind[kind.value] = unit_s / (cap_units * horizon_s) if cap_units else 0.0
        kw = np.asarray(topo.pool_kw_facility)
        busy_kw_s += float((units * busy_s * kw[np.maximum(res.pool, 0)])[mask].sum())
        cap_kw_s += sum(topo.pool_capacity[p] * topo.pool_kw_facility[p] for p in pools) \
            * horizon_s
    return (busy_kw_s / cap_kw_s if cap_kw_s > 0 else 0.0), by_kind


def peak_slice_units(run: MechanismRun) -> list[int]:
    """Per provider slice, the most units held at once over the run (releases before
    placements at the same instant, as the scheduler orders them)."""
    res = run.result
    assert res.slice is not None
    n_sl = len(res.topology.slices)
    events: list[list[tuple[float, int, int]]] = [[] for _ in range(n_sl)]
    for i in np.flatnonzero(res.ran).tolist():
        sl, u = int(res.slice[i]), res.jobs[i].units
        events[sl].append((float(res.placed_s[i]), 1, u))
        events[sl].append((float(res.end_s[i]), 0, -u))
    peaks = []
    for ev in events:
        level = peak = 0
        for _, _, du in sorted(ev):
            level += du
            peak = max(peak, level)
        peaks.append(peak)
    return peaks


def summarise(run: MechanismRun, values: np.ndarray, horizon_s: float,
              optimum_yuan: float | None) -> dict[str, Any]:
    res = run.result
    jobs = res.jobs
    ran = res.ran
    realtime = np.fromiter((j.realtime for j in jobs), dtype=bool, count=len(jobs))
    unit_h = np.fromiter((j.units * j.duration_s / HOUR_S for j in jobs), dtype=float,
                         count=len(jobs))
    value = np.where(ran, values * unit_h, 0.0)
    cost = provider_cost_yuan(run)
    welfare = value - cost
    bill = np.where(ran, run.bill_yuan, 0.0)
    west, west_kind = west_utilisation(run, horizon_s)
    peaks = peak_slice_units(run)
    capacity_ok = all(p <= c for p, c in zip(peaks, res.topology.slice_capacity, strict=True))
    deferrable_welfare = float(welfare[~realtime].sum())
    energy = float(res.energy_kwh.sum())
    row: dict[str, Any] = {
        "mechanism": run.mechanism,
        "policy": res.policy_name,
        "jobs": len(jobs),
        "jobs_run": int(ran.sum()),
        "jobs_not_run": int(res.status.count(REJECTED)),
        "deferrable_run": int((ran & ~realtime).sum()),
        "deferrable_not_run": int((~ran & ~realtime).sum()),
        "realtime_run": int((ran & realtime).sum()),
        "realtime_not_run": int((~ran & realtime).sum()),
        "late": int(res.status.count(LATE)),
        "value_yuan": float(value.sum()),
        "provider_cost_yuan": float(cost.sum()),
        "welfare_yuan": float(welfare.sum()),
        "deferrable_welfare_yuan": deferrable_welfare,
        "jobs_below_cost_run": int((ran & (welfare < 0)).sum()),
        "bill_yuan": float(bill.sum()),
        "market_billed_jobs": int(run.market_billed.sum()),
        "west_utilisation": west,
        "west_utilisation_by_kind": west_kind,
        "carbon_t": float(res.carbon_kg.sum()) / 1000.0,
        "energy_kwh": energy,
        "green_share": float(res.green_kwh.sum()) / energy if energy > 0 else 0.0,
        "capacity_ok": capacity_ok,
        "wall_s": res.wall_s,
    }
    if optimum_yuan is not None:
        row["optimum_yuan"] = optimum_yuan
        row["welfare_to_optimum"] = (deferrable_welfare / optimum_yuan
                                     if optimum_yuan > 0 else None)
    if run.mechanism == CALL_AUCTION:
        rounds = run.rounds
        rw = sum(r.welfare_yuan for r in rounds)
        ro = sum(r.optimum_yuan for r in rounds)
        row.update({
            "rounds": len(rounds),
            "rounds_with_trade": sum(1 for r in rounds if r.units_traded > 0),
            "round_welfare_yuan": rw,
            "round_optimum_yuan": ro,
            "round_welfare_to_optimum": rw / ro if ro > 0 else None,
            "ir_violations": sum(r.ir_violations for r in rounds),
            "min_platform_yuan": min((r.platform_yuan for r in rounds), default=0.0),
            "bids_void": sum(r.bids_void for r in rounds),
            "max_clear_s": max((r.clear_s for r in rounds), default=0.0),
        })
    return row
