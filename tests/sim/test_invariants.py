"""Simulator invariants, for every policy, on the tiny network and the bundled national one.

Each scenario's result is computed once per policy (module cache) and checked from its arrays:
capacity, latency bounds, energy bookkeeping, statuses, determinism. Then small hand-built
runs: queueing, data transfer, input checks, and a policy that breaks the rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from suanwang.core.policy import Decision, Deferral, Policy, Unplaced
from suanwang.core.state import SchedulerState
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job, Kind, Network, Placement
from suanwang.network.loader import load_network
from suanwang.policies import POLICIES, make_policy
from suanwang.sim import PolicyError, SimResult, run, simulate
from suanwang.sim.output import write_jobs_csv
from suanwang.workload.synthetic import WORKLOAD_CLASSES, synthetic_jobs

H = HOUR_S
ALL_POLICIES = list(POLICIES)
STATUSES = {"done", "late", "rejected"}

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]

# The synthetic classes, with origins moved to the tiny network's two regions.
TINY_CLASSES = tuple(dataclasses.replace(c, origins=(("east", 0.7), ("south", 0.3)))
                     for c in WORKLOAD_CLASSES)


@dataclasses.dataclass(frozen=True)
class Scenario:
    network: str  # "tiny" or "national"
    n_jobs: int
    days: float
    load: float
    seed: int


SCENARIOS: dict[str, Scenario] = {
    # overloaded: long queues, late and rejected jobs (5 ms-bound jobs from `south`)
    "tiny-overloaded": Scenario("tiny", 800, 1.0, 1.5, 3),
    "national": Scenario("national", 3000, 2.0, 0.6, 1),
    "national-overloaded": Scenario("national", 1000, 1.0, 3.0, 2),
}


@pytest.fixture(scope="module")
def networks(tiny_net: Network) -> dict[str, Network]:
    return {"tiny": tiny_net, "national": load_network()}


def make_jobs(net: Network, sc: Scenario, seed: int | None = None) -> list[Job]:
    classes = TINY_CLASSES if sc.network == "tiny" else WORKLOAD_CLASSES
    return synthetic_jobs(net, sc.n_jobs, sc.days, seed=sc.seed if seed is None else seed,
                          load=sc.load, classes=classes)


@pytest.fixture(scope="module")
def results(networks: dict[str, Network]) -> Callable[[str, str], SimResult]:
    cache: dict[tuple[str, str], SimResult] = {}
    jobs: dict[str, list[Job]] = {}

    def get(scenario: str, policy: str) -> SimResult:
        if (scenario, policy) not in cache:
            sc = SCENARIOS[scenario]
            net = networks[sc.network]
            if scenario not in jobs:
                jobs[scenario] = make_jobs(net, sc)
            cache[(scenario, policy)] = run(net, jobs[scenario], policy, seed=sc.seed)
        return cache[(scenario, policy)]

    return get


CASES = [(s, p) for s in SCENARIOS for p in ALL_POLICIES]
each_run = pytest.mark.parametrize(("scenario", "policy"), CASES,
                                   ids=[f"{s}-{p}" for s, p in CASES])


def units_of(r: SimResult) -> np.ndarray:
    return np.fromiter((j.units for j in r.jobs), dtype=float, count=len(r.jobs))


# ---- capacity ----------------------------------------------------------------------------


def usage_at(times: np.ndarray, units: np.ndarray, held_from: np.ndarray,
             held_to: np.ndarray) -> np.ndarray:
    """Units held at each instant in `times`, by brute force over jobs: a job holds its units
    over [held_from, held_to)."""
    out = np.empty(len(times))
    for lo in range(0, len(times), 512):
        t = times[lo:lo + 512, None]
        out[lo:lo + 512] = ((held_from[None, :] <= t) & (t < held_to[None, :])) @ units
    return out


@each_run
def test_no_pool_is_ever_over_capacity(scenario: str, policy: str,
                                       results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    units = units_of(r)
    topo = r.topology
    for p, capacity in enumerate(topo.pool_capacity):
        mask = r.ran & (r.pool == p)
        if not mask.any():
            continue
        # units are reserved from placement (the data transfer) until the end; usage only
        # rises at placements, so checking every placement and every start instant is complete
        held_from, held_to = r.placed_s[mask], r.end_s[mask]
        for times in (held_from, r.start_s[mask]):
            peak = usage_at(times, units[mask], held_from, held_to).max()
            assert peak <= capacity, (topo.site_ids[topo.pool_site[p]], topo.pool_kind[p])


@each_run
def test_jobs_run_in_a_pool_of_their_kind(scenario: str, policy: str,
                                          results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    topo = r.topology
    for i in np.flatnonzero(r.ran).tolist():
        assert topo.pool_kind[r.pool[i]] == r.jobs[i].kind
        assert topo.pool_site[r.pool[i]] == r.site[i]


@each_run
def test_site_hours_busy_units_within_capacity(scenario: str, policy: str,
                                               results: Callable[[str, str], SimResult]) -> None:
    sh = results(scenario, policy).site_hours()
    # tolerance: the prefix-sum method cancels large unit-second sums (general pools hold
    # millions of cores), leaving rounding noise of ~1e-8 units
    tol = 1e-12 * sh["capacity_units"] + 1e-9
    assert np.all(sh["busy_units"] <= sh["capacity_units"] + tol)
    assert np.all(sh["busy_units"] >= -tol)


# ---- latency -------------------------------------------------------------------------------


@each_run
def test_latency_bounds_are_never_violated(scenario: str, policy: str,
                                           results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    bound = np.array([j.rtt_bound_ms if j.rtt_bound_ms is not None else np.inf
                      for j in r.jobs])
    ran = r.ran
    assert np.all(r.rtt_ms[ran] <= bound[ran])
    assert np.all(np.isnan(r.rtt_ms[~ran]))
    for i in np.flatnonzero(ran).tolist():
        j = r.jobs[i]
        assert r.rtt_ms[i] == r.network.rtt_ms[(j.origin, r.topology.site_ids[r.site[i]])]
    assert r.latency_violations() == 0


# ---- energy bookkeeping --------------------------------------------------------------------


@each_run
def test_job_energy_is_units_kw_pue_hours(scenario: str, policy: str,
                                          results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    net = r.network
    for i, j in enumerate(r.jobs):
        if r.site[i] < 0:
            assert r.energy_kwh[i] == 0.0 and r.green_kwh[i] == 0.0
            continue
        site = net.sites[r.site[i]]
        pool = site.pool(j.kind)
        assert pool is not None
        expected = j.units * pool.kw_per_unit * site.pue * j.duration_s / H
        assert r.energy_kwh[i] == pytest.approx(expected, rel=1e-9)


@each_run
def test_green_never_exceeds_energy(scenario: str, policy: str,
                                    results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    assert np.all(r.green_kwh >= 0.0)
    assert np.all(r.green_kwh <= r.energy_kwh * (1 + 1e-9) + 1e-12)


@each_run
def test_jobs_and_site_hours_add_up_to_the_same_totals(
        scenario: str, policy: str, results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    sh = r.site_hours()
    energy = sh["energy_kwh"]
    assert r.energy_kwh.sum() == pytest.approx(energy.sum(), rel=1e-6)
    assert r.green_kwh.sum() == pytest.approx((energy * sh["green_share"]).sum(), rel=1e-6)
    assert r.carbon_kg.sum() == pytest.approx(
        (energy * sh["intensity_g_per_kwh"]).sum() / 1000.0, rel=1e-6)
    assert r.cost_yuan.sum() == pytest.approx((energy * sh["price_yuan_per_kwh"]).sum(),
                                              rel=1e-6)
    # and per site
    for s in range(len(r.network.sites)):
        site_total = energy[sh["site"] == s].sum()
        assert r.energy_kwh[r.site == s].sum() == pytest.approx(site_total, rel=1e-6, abs=1e-9)


# ---- statuses ------------------------------------------------------------------------------


@each_run
def test_every_job_has_exactly_one_status(scenario: str, policy: str,
                                          results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    assert len(r.status) == len(r.jobs)
    assert set(r.status) <= STATUSES
    summary = r.summary()
    assert summary["done"] + summary["late"] + summary["rejected"] == len(r.jobs)
    rejected = np.array([s == "rejected" for s in r.status])
    np.testing.assert_array_equal(rejected, ~r.ran)
    for i in np.flatnonzero(rejected).tolist():
        assert r.reasons.get(i)


@each_run
def test_late_iff_end_after_deadline(scenario: str, policy: str,
                                     results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    for i, j in enumerate(r.jobs):
        if r.status[i] == "rejected":
            continue
        late = j.deadline_s is not None and r.end_s[i] > j.deadline_s + 1e-6
        assert (r.status[i] == "late") == late, (j, r.end_s[i])


@each_run
def test_no_job_starts_before_it_is_submitted(scenario: str, policy: str,
                                              results: Callable[[str, str], SimResult]) -> None:
    r = results(scenario, policy)
    ran = r.ran
    submit = np.array([j.submit_s for j in r.jobs])
    assert np.all(r.placed_s[ran] >= submit[ran])
    assert np.all(r.wait_s()[ran] >= -1e-9)
    np.testing.assert_allclose(r.end_s[ran] - r.start_s[ran],
                               [j.duration_s for j, x in zip(r.jobs, ran, strict=True) if x])


def test_scenarios_exercise_queues_lateness_and_rejection(
        results: Callable[[str, str], SimResult]) -> None:
    """The scenarios are not vacuous: jobs wait, some are late or rejected, some deferred."""
    tiny = results("tiny-overloaded", "nearest")
    submit = np.array([j.submit_s for j in tiny.jobs])
    assert np.sum(tiny.placed_s[tiny.ran] > submit[tiny.ran]) > 100
    assert tiny.status.count("late") > 0
    assert tiny.status.count("rejected") > 0
    heavy = results("national-overloaded", "nearest")
    submit = np.array([j.submit_s for j in heavy.jobs])
    assert np.sum(heavy.placed_s[heavy.ran] > submit[heavy.ran]) > 50
    assert results("national", "green-window").summary()["deferred_jobs"] > 0


# ---- determinism ----------------------------------------------------------------------------

JOB_ARRAYS = ("site", "pool", "placed_s", "start_s", "end_s", "transfer_s", "rtt_ms",
              "energy_kwh", "green_kwh", "carbon_kg", "cost_yuan", "deferrals")


def same_outcome(a: SimResult, b: SimResult) -> bool:
    return (all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True)
                for k in JOB_ARRAYS)
            and a.status == b.status and a.reasons == b.reasons)


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_same_seed_same_result(policy: str, networks: dict[str, Network],
                               results: Callable[[str, str], SimResult], tmp_path: Path) -> None:
    sc = SCENARIOS["national"]
    net = networks[sc.network]
    first = results("national", policy)
    jobs = make_jobs(net, sc)
    assert jobs == list(first.jobs)
    again = run(net, jobs, policy, seed=sc.seed)
    assert same_outcome(first, again)
    write_jobs_csv(first, tmp_path / "a.csv")
    write_jobs_csv(again, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_different_seed_different_result(policy: str, networks: dict[str, Network],
                                         results: Callable[[str, str], SimResult]) -> None:
    sc = SCENARIOS["national"]
    net = networks[sc.network]
    first = results("national", policy)
    other_jobs = make_jobs(net, sc, seed=sc.seed + 1)
    assert other_jobs != list(first.jobs)
    # same jobs, other energy/forecast seed: the charges differ
    other_energy = run(net, first.jobs, policy, seed=sc.seed + 1)
    assert not np.array_equal(first.green_kwh, other_energy.green_kwh)
    assert not same_outcome(first, run(net, other_jobs, policy, seed=sc.seed + 1))


# ---- jobs larger than the smallest pool -------------------------------------------------------


def big_mixed_jobs(n: int, seed: int, make_job: JobMaker) -> list[Job]:
    """Jobs of both kinds on the tiny network, each bigger than the smallest pool of its kind
    (so each job's candidate list is its own), from both regions, some with bounds."""
    rng = np.random.default_rng(seed)
    jobs: list[Job] = []
    t = 0.0
    for i in range(n):
        t += float(rng.exponential(60.0))
        general = bool(rng.integers(2))
        jobs.append(make_job(
            f"b{i:05d}", origin=("east", "south")[int(rng.integers(2))],
            kind=Kind.GENERAL if general else Kind.INTELLIGENT,
            units=int(rng.integers(41, 61)) if general else int(rng.integers(7, 9)),
            duration_s=float(rng.integers(60, 600)), submit_s=round(t, 3),
            rtt_bound_ms=(None, 15.0, 26.0)[int(rng.integers(3))]))
    return jobs


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_big_jobs_of_mixed_kinds_keep_every_invariant(policy: str, tiny_net: Network,
                                                      make_job: JobMaker) -> None:
    jobs = big_mixed_jobs(600, 0, make_job)
    r = run(tiny_net, jobs, policy, seed=0)
    units = units_of(r)
    assert r.latency_violations() == 0
    for i in np.flatnonzero(r.ran).tolist():
        assert r.topology.pool_kind[r.pool[i]] == jobs[i].kind
    for p, capacity in enumerate(r.topology.pool_capacity):
        mask = r.ran & (r.pool == p)
        if mask.any():
            held = usage_at(r.placed_s[mask], units[mask], r.placed_s[mask], r.end_s[mask])
            assert held.max() <= capacity


# ---- queueing, transfer, input checks on hand-built runs -----------------------------------


def simulate_exact(net: Network, jobs: Sequence[Job], policy: Policy,
                   series: EnergySeries) -> SimResult:
    """Simulate with forecasts equal to the actuals."""
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                            error_scale=0.0)
    return simulate(net, jobs, policy, series, forecaster)


def test_queued_jobs_start_exactly_when_capacity_frees(tiny_net: Network,
                                                       make_series: SeriesMaker,
                                                       make_job: JobMaker) -> None:
    # bound 1.5 ms from east: only `local` (8 units) can serve them
    def rt(job_id: str, units: int, submit: float, duration: float) -> Job:
        return make_job(job_id, units=units, submit_s=submit, duration_s=duration,
                        rtt_bound_ms=1.5)

    jobs = [
        rt("a", 8, 0.0, 100.0),  # fills local: 0..100
        rt("b", 5, 10.0, 50.0),  # waits for a: 100..150
        rt("c", 3, 20.0, 200.0),  # fits beside b when a ends: 100..300
        rt("d", 4, 30.0, 10.0),  # b and c hold all 8 at 100; b's release at 150 frees 5
    ]
    r = simulate_exact(tiny_net, jobs, make_policy("nearest"), make_series(tiny_net))
    assert [tiny_net.sites[s].id for s in r.site] == ["local"] * 4
    np.testing.assert_array_equal(r.start_s, [0.0, 100.0, 100.0, 150.0])
    np.testing.assert_array_equal(r.end_s, [100.0, 150.0, 300.0, 160.0])
    np.testing.assert_array_equal(r.wait_s(), [0.0, 90.0, 80.0, 120.0])
    assert r.status == ["done"] * 4


def test_a_queued_job_can_go_elsewhere_when_capacity_frees_there(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # no bound: nearest fills local (8) then mid (6) then west (10); the fourth job waits for
    # the first release, which is at west
    jobs = [make_job("a", units=8, duration_s=500.0),
            make_job("b", units=6, duration_s=400.0),
            make_job("c", units=10, duration_s=100.0),
            make_job("d", units=9, submit_s=1.0, duration_s=50.0)]
    r = simulate_exact(tiny_net, jobs, make_policy("nearest"), make_series(tiny_net))
    sites = [tiny_net.sites[s].id for s in r.site]
    assert sites == ["local", "mid", "west", "west"]
    assert r.start_s[3] == 100.0


@pytest.mark.parametrize(("policy", "site", "gbps"),
                         [("nearest", "local", 10.0), ("greenest", "west", 40.0)])
def test_data_transfer_delays_the_start(policy: str, site: str, gbps: float, tiny_net: Network,
                                        make_series: SeriesMaker, make_job: JobMaker) -> None:
    j = make_job(data_gb=250.0, submit_s=5.0, deadline_s=10 * H)
    r = simulate_exact(tiny_net, [j], make_policy(policy), make_series(tiny_net))
    assert tiny_net.sites[r.site[0]].id == site
    assert r.placed_s[0] == 5.0
    assert r.transfer_s[0] == pytest.approx(250.0 * 8 / gbps)
    assert r.start_s[0] == pytest.approx(5.0 + 250.0 * 8 / gbps)
    assert r.end_s[0] == pytest.approx(r.start_s[0] + j.duration_s)
    # energy is charged for the compute only, not the transfer
    s = tiny_net.sites[r.site[0]]
    assert r.energy_kwh[0] == pytest.approx(1.0 * s.pue * 1.0)


def test_unsorted_jobs_raise(tiny_net: Network, make_series: SeriesMaker,
                             make_job: JobMaker) -> None:
    jobs = [make_job("late-one", submit_s=10.0), make_job("early-one", submit_s=5.0)]
    with pytest.raises(ValueError, match="sorted by submit_s"):
        simulate_exact(tiny_net, jobs, make_policy("nearest"), make_series(tiny_net))


def test_series_of_other_sites_raise(tiny_net: Network, make_series: SeriesMaker,
                                     make_job: JobMaker) -> None:
    series = make_series(tiny_net)
    shuffled = dataclasses.replace(series, site_ids=tuple(reversed(series.site_ids)))
    with pytest.raises(ValueError, match="sites"):
        simulate_exact(tiny_net, [make_job()], make_policy("nearest"), shuffled)


# ---- policies that break the rules -----------------------------------------------------------


class FakePolicy:
    """Answers whatever `answer(state, job, now_s)` returns for each job."""

    name = "fake"

    def __init__(self, answer: Callable[[SchedulerState, Job, float], Decision]) -> None:
        self.answer = answer

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        out = Decision()
        for j in pending:
            d = self.answer(state, j, now_s)
            out.placed += d.placed
            out.deferred += d.deferred
            out.unplaced += d.unplaced
        return out


def _always_local(state: SchedulerState, j: Job, now_s: float) -> Decision:
    return Decision(placed=[Placement(j, "local", now_s, 0.0, "ignores capacity")])


def _placed_in_the_past(state: SchedulerState, j: Job, now_s: float) -> Decision:
    return Decision(placed=[Placement(j, "local", now_s - 1.0, 0.0, "")])


def _defers_to_now(state: SchedulerState, j: Job, now_s: float) -> Decision:
    return Decision(deferred=[Deferral(j, now_s, "")])


BAD_POLICIES: list[tuple[str, Callable[[SchedulerState, Job, float], Decision], list[int],
                         str]] = [
    # (name, answer, units of the jobs, message text)
    ("over-commits", _always_local, [5, 5], "with 3 free"),
    ("no such pool", _always_local, [0], "no such pool"),  # 0: an HPC job, see below
    ("places in the past", _placed_in_the_past, [1], "not now"),
    ("defers to now", _defers_to_now, [1], "not after now"),
]


@pytest.mark.parametrize(("answer", "units", "text"), [b[1:] for b in BAD_POLICIES],
                         ids=[b[0] for b in BAD_POLICIES])
def test_a_policy_that_breaks_the_rules_raises(answer: Callable[[SchedulerState, Job, float],
                                                                 Decision],
                                               units: list[int], text: str, tiny_net: Network,
                                               make_series: SeriesMaker,
                                               make_job: JobMaker) -> None:
    jobs = [make_job(f"j{i}", units=u, submit_s=float(i)) if u
            else make_job(f"j{i}", kind=Kind.HPC, submit_s=float(i))  # local has no HPC
            for i, u in enumerate(units)]
    with pytest.raises(PolicyError, match=text):
        simulate_exact(tiny_net, jobs, FakePolicy(answer), make_series(tiny_net))


def test_a_fake_policy_that_follows_the_rules_runs(tiny_net: Network, make_series: SeriesMaker,
                                                   make_job: JobMaker) -> None:
    """The fake is a fair test double: within capacity, it runs; unplaced jobs are handled."""
    def answer(state: SchedulerState, j: Job, now_s: float) -> Decision:
        if j.job_id == "never":
            return Decision(unplaced=[Unplaced(j, "not for us", retry=False)])
        return _always_local(state, j, now_s)

    jobs = [make_job("a", units=4), make_job("b", units=4, submit_s=1.0),
            make_job("never", submit_s=2.0)]
    r = simulate_exact(tiny_net, jobs, FakePolicy(answer), make_series(tiny_net))
    assert r.status == ["done", "done", "rejected"]
    assert r.reasons[2] == "not for us"
