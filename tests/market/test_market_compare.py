"""The compute market in the simulator (`sim.market_run`, `sim.market_compare`, `suanwang
compare --market`) on the tiny market of tests/market/conftest.py, where the numbers can be
worked out: every intelligent card lists at 10 yuan/card-hour; the reserves (energy + wear:
kW x PUE x the site's price + 200,000 / (5 x 8,760 x 0.7) = 6.52) are local 7.42, mid 7.11,
west 6.88 yuan/card-hour."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.market import posted
from suanwang.market.feasibility import build_book
from suanwang.market.offline import (
    offline_optimum,
    optimum_assignment,
    pair_welfare_yuan_per_unit_h,
)
from suanwang.market.valuation import job_values_yuan_per_unit_h
from suanwang.model import Job, Kind, Network
from suanwang.policies.registry import make_policy
from suanwang.sim.market_compare import market_compare, peak_slice_units
from suanwang.sim.market_run import (
    CALL_AUCTION,
    MECHANISMS,
    OPTIMUM_ROUNDS,
    POSTED_PRICES,
    SCHEDULER_ALONE,
    MechanismRun,
    run_auction,
    run_posted,
    run_scheduler_alone,
)

H = 3600.0


def _forecaster(net: Network, series: EnergySeries) -> Forecaster:
    return Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites], seed=0,
                      error_scale=0.0)


def _runs(net: Network, jobs: list[Job], values: np.ndarray, series: EnergySeries,
          policy: str = "green-window") -> dict[str, MechanismRun]:
    return {
        SCHEDULER_ALONE: run_scheduler_alone(net, jobs, make_policy(policy), series,
                                             _forecaster(net, series)),
        POSTED_PRICES: run_posted(net, jobs, make_policy(policy), series,
                                  _forecaster(net, series), values),
        CALL_AUCTION: run_auction(net, jobs, make_policy(policy), series,
                                  _forecaster(net, series), values),
    }


def _random_jobs(n: int, seed: int) -> list[Job]:
    """Deferrable intelligent jobs from east and south over 6 hours, and a few real-time."""
    rng = np.random.default_rng(seed)
    out = []
    for i, t in enumerate(np.sort(rng.uniform(0, 6 * H, n)).tolist()):
        units = int(rng.integers(1, 4))
        dur = float(rng.choice([1.0, 2.0, 3.0])) * H
        realtime = rng.random() < 0.2
        out.append(Job(f"j{i:03d}", f"t{i % 3}", str(rng.choice(["east", "south"])),
                       Kind.INTELLIGENT, units, dur, round(t, 3),
                       rtt_bound_ms=40.0 if realtime else None,
                       deadline_s=None if realtime else round(t + dur + rng.uniform(1, 6) * H, 3),
                       data_gb=float(rng.uniform(0, 5))))
    return out


# ---- the posted-price rule ---------------------------------------------------------------

def test_posted_rule_by_hand() -> None:
    assert (posted.ALPHA, posted.U0, posted.STEP) == (1.0, 0.6, 0.10)
    assert posted.scarcity_target(10.0, 0.5) == 0.0  # below U0: no scarcity
    assert posted.scarcity_target(10.0, 0.8) == pytest.approx(5.0)  # 10 x (0.8-0.6)/0.4
    assert posted.scarcity_target(10.0, 1.0) == pytest.approx(10.0)
    assert posted.smoothed(None, 10.0, 5.0) == 15.0  # the first posting: f + s* at once
    assert posted.smoothed(10.0, 10.0, 5.0) == pytest.approx(11.0)  # at most 0.1 x floor
    assert posted.smoothed(15.0, 10.0, 0.0) == pytest.approx(14.0)
    assert posted.smoothed(10.5, 10.0, 0.0) == 10.0  # never below the floor
    assert posted.smoothed(9.0, 10.0, 0.0) == 10.0


def test_posted_revise_is_the_scalar_rule() -> None:
    rng = np.random.default_rng(1)
    floor = rng.uniform(1, 20, 200)
    util = rng.uniform(0, 1, 200)
    prev = np.where(rng.random(200) < 0.3, np.nan, rng.uniform(0, 40, 200))
    got = posted.revise(prev, floor, posted.utilisation_targets(floor, util))
    want = [posted.smoothed(None if math.isnan(p) else p, f, posted.scarcity_target(f, u))
            for p, f, u in zip(prev, floor, util, strict=True)]
    assert got == pytest.approx(want)


# ---- who runs, and what they pay ----------------------------------------------------------

def test_a_job_valued_below_every_price_runs_only_under_the_scheduler_alone(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=72)
    jobs = [
        Job("cheap", "t", "east", Kind.INTELLIGENT, 1, H, 0.0, deadline_s=6 * H),
        Job("dear", "t", "east", Kind.INTELLIGENT, 1, H, 60.0, deadline_s=6 * H),
        Job("live", "t", "east", Kind.INTELLIGENT, 1, H, 120.0, rtt_bound_ms=30.0),
    ]
    # 5 yuan/card-h is below every reserve (>= 6.88) and list price (10); 30 is above all
    values = np.array([5.0, 30.0, 1.0])
    runs = _runs(market_net, jobs, values, series)
    for name, run in runs.items():
        ran = dict(zip([j.job_id for j in jobs], run.result.ran.tolist(), strict=True))
        assert ran["cheap"] is (name == SCHEDULER_ALONE), name
        assert ran["dear"] and ran["live"], name  # real-time: placed in all three
    alone = runs[SCHEDULER_ALONE]
    assert alone.bill_yuan[0] == pytest.approx(10.0)  # the list price, above its value
    # the scheduler alone counts the loss: value 5 - reserve (>= 6.88)
    rows = {n: r for n, r in zip(MECHANISMS, market_compare(
        market_net, jobs, "green-window", series, with_optimum=False).rows, strict=True)}
    assert rows[SCHEDULER_ALONE]["jobs_run"] == 3
    # the real-time job is billed at the list price under every mechanism
    for run in runs.values():
        assert not run.market_billed[2]
        assert run.bill_yuan[2] == pytest.approx(10.0)
    # the auction bills the dear job at its clearing price, at least the reserve, at most 30
    auction = runs[CALL_AUCTION]
    assert auction.market_billed[1]
    assert 6.88 - 1e-6 <= auction.bill_yuan[1] <= 30.0
    assert "cheap" in {j.job_id for j, s in zip(jobs, auction.result.status, strict=True)
                       if s == "rejected"}


def test_posted_prices_rise_when_a_slice_is_booked_and_bill_at_least_the_floor(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    """(The utilisation source.) Jobs of 4 hours every half hour fill the greenest slices past
    U0: later postings of those hours are above the list price, by at most 1 yuan (0.1 x 10)
    a revision."""
    series = make_series(market_net, hours=72)
    jobs = [Job(f"f{i}", "t", "east", Kind.INTELLIGENT, 1, 4 * H, i * 1800.0,
                deadline_s=i * 1800.0 + 30 * H) for i in range(12)]
    values = np.full(len(jobs), 50.0)
    run = run_posted(market_net, jobs, make_policy("greenest"), series,
                     _forecaster(market_net, series), values,
                     posted.PostedRule(posted.UTILISATION))
    res = run.result
    unit_h = np.array([j.units * j.duration_s / H for j in jobs])
    floor_bill = 10.0 * unit_h
    assert np.all(run.compute_bill_yuan[res.ran] >= floor_bill[res.ran] - 1e-9)
    assert np.any(run.compute_bill_yuan[res.ran] > floor_bill[res.ran] + 1e-6)
    assert np.all(run.bill_yuan[res.ran] <= values[res.ran] * unit_h[res.ran] + 1e-9)


# ---- the auction's properties, round by round -----------------------------------------------

def test_every_round_is_individually_rational_and_weakly_budget_balanced(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=96)
    jobs = _random_jobs(80, seed=4)
    values = np.random.default_rng(5).uniform(4.0, 20.0, len(jobs))
    run = run_auction(market_net, jobs, make_policy("green-window"), series,
                      _forecaster(market_net, series), values)
    assert run.rounds and any(r.units_traded > 0 for r in run.rounds)
    for r in run.rounds:
        assert r.ir_violations == 0
        assert r.platform_yuan >= -1e-6
        assert r.units_traded <= r.units_offered
        assert r.welfare_yuan <= r.optimum_yuan + 1e-6
    # from the bills: no tenant pays above its value; no provider gets below its reserve
    res = run.result
    topo = res.topology
    unit_h = np.array([j.units * j.duration_s / H for j in jobs])
    market = run.market_billed
    assert market.any()
    assert np.all(run.bill_yuan[market] <= values[market] * unit_h[market] + 1e-6)
    reserve = {"local": 7.42, "mid": 7.105, "west": 6.88}
    for i in np.flatnonzero(market).tolist():
        site = topo.site_ids[int(res.site[i])]
        assert run.compute_bill_yuan[i] / unit_h[i] >= reserve[site] - 0.01
    # a traded job starts when its round clears, on a 15-minute boundary
    assert np.all(np.mod(res.placed_s[market], 900.0) == 0.0)


def test_capacity_is_never_exceeded(market_net: Network,
                                    make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=96)
    jobs = _random_jobs(150, seed=7)  # far more than the 24 cards for 6 hours
    values = np.random.default_rng(8).uniform(6.0, 30.0, len(jobs))
    topo = Topology(market_net)
    for name, run in _runs(market_net, jobs, values, series).items():
        peaks = peak_slice_units(run)
        assert all(p <= c for p, c in zip(peaks, topo.slice_capacity, strict=True)), name
        assert max(peaks) > 0


# ---- the comparison --------------------------------------------------------------------------

def test_the_comparison_is_deterministic_for_a_seed(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=96)
    jobs = _random_jobs(50, seed=2)

    def rows(seed: int) -> list[dict[str, Any]]:
        out = market_compare(market_net, jobs, "green-window", series, seed=seed,
                             forecast_error=0.0).rows
        return [{k: v for k, v in r.items() if k not in ("wall_s", "max_clear_s")}
                for r in out]

    first = rows(3)
    assert rows(3) == first
    assert [r["mechanism"] for r in first] == [*MECHANISMS, OPTIMUM_ROUNDS]
    assert first[-1]["welfare_to_optimum"] == pytest.approx(1.0)
    assert all(r["capacity_ok"] for r in first)
    v3 = job_values_yuan_per_unit_h(market_net, jobs, 3, series.start_utc)
    assert np.array_equal(v3, job_values_yuan_per_unit_h(market_net, jobs, 3, series.start_utc))
    assert not np.array_equal(v3, job_values_yuan_per_unit_h(market_net, jobs, 4,
                                                             series.start_utc))


def test_cli_names_the_three_mechanisms_and_writes_compare_json(tmp_path: Path) -> None:
    trace = tmp_path / "jobs.csv"
    trace.write_text(
        "job_id,tenant,origin,kind,units,duration_s,submit_s,rtt_bound_ms,deadline_s,data_gb\n"
        "a,t1,bth,intelligent,8,3600,0,5,,0\n"
        "b,t1,yrd,intelligent,64,7200,60,,90000,100\n"
        "c,t2,gba,general,1000,1800,120,,40000,1\n"
        "d,t2,bth,hpc,4,3600,1000,,30000,10\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["compare", "--market", "--trace", str(trace),
                                      "--energy", "simple", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("scheduler-alone", "posted-prices", "call-auction", "welfare", "optimum"):
        assert name in result.output
    doc = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert [r["mechanism"] for r in doc["mechanisms"]] == [*MECHANISMS, OPTIMUM_ROUNDS]
    assert all(r["jobs"] == 4 for r in doc["mechanisms"])


def test_cli_market_refuses_two_policies() -> None:
    result = CliRunner().invoke(app, ["compare", "--market", "--policies", "nearest,greenest",
                                      "--jobs", "10", "--days", "0.1"])
    assert result.exit_code == 2
    assert "--policies" in result.output


def test_optimum_assignment_is_whole_and_reaches_the_optimum(
        market_net: Network, make_bid: Any, make_ask: Any) -> None:
    bids = [make_bid(f"b{i}", v, units=u) for i, (v, u) in
            enumerate([(20.0, 2), (15.0, 1), (9.0, 3), (30.0, 1)])]
    asks = [make_ask("p1", "west", 7.0, units=2), make_ask("p2", "west", 8.0, units=2),
            make_ask("p1", "mid", 12.0, units=1)]
    book = build_book(market_net, bids, asks)
    trades = optimum_assignment(book)
    w = pair_welfare_yuan_per_unit_h(book)
    got = sum(w[i, j] * u * book.bid_hours[i] for i, j, u in trades)
    assert got == pytest.approx(offline_optimum(book).welfare_yuan)
    for i in range(len(bids)):
        assert sum(u for b, _, u in trades if b == i) <= bids[i].units
    for j in range(len(asks)):
        assert sum(u for _, a, u in trades if a == j) <= asks[j].units
