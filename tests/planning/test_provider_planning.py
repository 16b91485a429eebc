"""Planning over provider slices: the planners and the bounds choose (site, provider, pool).

The hand-built network is the tiny one cut to its `west` site, whose 10 intelligent cards are
held by two providers (tests/conftest.py's provider fixture, west's price factor 0.8):

    provider   cards   yuan per card-hour   egress
    cheap      2        8                   2 yuan/GB
    dear       8        9.6                 none

Both run on west's power, so their carbon and electricity cost are the same; only the tenant's
bill tells them apart. Jobs are one card for an hour from `east` with no input data.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from plan_support import H, feasible_plan, random_jobs, random_series

from suanwang.core.policy import Policy
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.network.loader import parse_network
from suanwang.planning.bound import lower_bound
from suanwang.planning.context import PolicyContext
from suanwang.planning.objective import Objective
from suanwang.planning.tight_bound import TIGHT, tight_lower_bound
from suanwang.policies.optimal import OptimalPolicy
from suanwang.policies.registry import make_policy
from suanwang.policies.rolling import RollingPolicy
from suanwang.sim.engine import simulate
from suanwang.sim.result import SimResult

ProviderDoc = Callable[..., dict[str, Any]]
JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]
CHEAP, DEAR = 8.0, 9.6  # yuan per card-hour at west


@pytest.fixture
def west_net(tiny_doc: dict[str, Any], provider_doc: ProviderDoc) -> Network:
    doc = provider_doc(tiny_doc)
    doc["sites"] = [s for s in doc["sites"] if s["id"] == "west"]
    doc["latency"] = [e for e in doc["latency"] if e["site"] == "west"]
    cheap, dear = doc["sites"][0]["providers"]
    cheap["share"] = {**cheap["share"], "intelligent": 0.2}
    dear["share"] = {**dear["share"], "intelligent": 0.8}
    return parse_network(doc, "<west with a small cheap provider>")


@pytest.fixture
def pnet(tiny_doc: dict[str, Any], provider_doc: ProviderDoc) -> Network:
    """The three-site network with `cheap` and `dear` at every site, cheap's quota 1 card."""
    doc = provider_doc(copy.deepcopy(tiny_doc))
    for site in doc["sites"]:
        site["providers"][0]["quota"] = {"intelligent": 1, "source": "test: a small quota"}
    return parse_network(doc, "<small cheap quota>")


def planner(name: str, net: Network, jobs: list[Job], series: EnergySeries,
            objective: Objective) -> Policy:
    if name == "optimal":
        return OptimalPolicy(PolicyContext(net, jobs, series), objective=objective)
    return RollingPolicy(objective=objective)


def run(net: Network, jobs: list[Job], policy: Policy, series: EnergySeries,
        forecast_error: float = 0.0, seed: int = 0) -> SimResult:
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                            seed=seed, error_scale=forecast_error)
    return simulate(net, jobs, policy, series, forecaster)


def providers(r: SimResult) -> list[str]:
    return [r.topology.slice_provider[int(s)] for s in r.slice]


def real_time(make_job: JobMaker, n: int, **ask: Any) -> list[Job]:
    return [replace(make_job(f"j{i}", rtt_bound_ms=30.0), **ask) for i in range(n)]


# ---- the cheap provider fills, the rest overflows -----------------------------------------


@pytest.mark.parametrize("name", ["optimal", "rolling"])
def test_the_plan_fills_the_cheap_provider_and_overflows_to_the_dear_one(
        name: str, west_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # four jobs that must start at once: cheap holds two, the other two go to dear
    jobs = real_time(make_job, 4)
    series = make_series(west_net, 24)
    r = run(west_net, jobs, planner(name, west_net, jobs, series, Objective.bill()), series)
    assert sorted(providers(r)) == ["cheap", "cheap", "dear", "dear"]
    assert all(p == 0.0 for p in r.placed_s)
    assert r.bill_yuan.sum() == pytest.approx(2 * CHEAP + 2 * DEAR)
    # the bounds know cheap's quota: neither lets all four run at 8
    assert lower_bound(west_net, jobs, series, Objective.bill()).value == pytest.approx(35.2)
    tight = tight_lower_bound(west_net, jobs, series, Objective.bill())
    assert tight.method == TIGHT and tight.value == pytest.approx(35.2)


def test_jobs_that_may_wait_queue_for_the_cheap_provider(
        west_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # with a day to finish, two run at cheap now and two at cheap an hour later: 4 x 8
    jobs = [make_job(f"j{i}", deadline_s=24 * H) for i in range(4)]
    series = make_series(west_net, 48)
    bound = lower_bound(west_net, jobs, series, Objective.bill())
    assert bound.value == pytest.approx(4 * CHEAP)
    r = run(west_net, jobs, planner("optimal", west_net, jobs, series, Objective.bill()),
            series)
    assert providers(r) == ["cheap"] * 4
    assert r.bill_yuan.sum() == pytest.approx(4 * CHEAP)


def test_a_carbon_plan_breaks_ties_between_providers_by_the_tenants_bill(
        west_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # both providers burn the same power: the carbon objective cannot tell them apart, the
    # tenant's bill can (provider_choice's rule: the cheapest bill)
    jobs = real_time(make_job, 3)
    series = make_series(west_net, 24)
    r = run(west_net, jobs, make_policy("rolling"), series)
    assert providers(r) == ["cheap", "cheap", "dear"]


# ---- the tenant's lists, preferences and caps ---------------------------------------------


@pytest.mark.parametrize("name", ["optimal", "rolling"])
def test_a_deny_list_is_honoured_by_the_plan_and_the_bound(
        name: str, west_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    jobs = real_time(make_job, 3, providers_deny=("cheap",))
    series = make_series(west_net, 24)
    r = run(west_net, jobs, planner(name, west_net, jobs, series, Objective.bill()), series)
    assert providers(r) == ["dear"] * 3
    assert r.bill_yuan.sum() == pytest.approx(3 * DEAR)
    assert lower_bound(west_net, jobs, series, Objective.bill()).value == pytest.approx(
        3 * DEAR)


def test_an_allow_list_only_dear_is_honoured(west_net: Network, make_series: SeriesMaker,
                                             make_job: JobMaker) -> None:
    jobs = [replace(make_job(f"j{i}", deadline_s=24 * H), providers_allow=("dear",))
            for i in range(2)]
    series = make_series(west_net, 48)
    r = run(west_net, jobs, planner("optimal", west_net, jobs, series, Objective.bill()),
            series)
    assert providers(r) == ["dear", "dear"]


@pytest.mark.parametrize("name", ["optimal", "rolling"])
def test_a_preferred_provider_comes_before_the_cheaper_one(
        name: str, west_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    jobs = real_time(make_job, 1, providers_prefer=("dear",))
    series = make_series(west_net, 24)
    r = run(west_net, jobs, planner(name, west_net, jobs, series, Objective.bill()), series)
    assert providers(r) == ["dear"]
    assert "preferred provider dear" in r.reasons[0]


@pytest.mark.parametrize("cap", [{"max_price_yuan_per_unit_h": 9.0}, {"max_bill_yuan": 9.0}],
                         ids=["unit price", "bill"])
@pytest.mark.parametrize("name", ["optimal", "rolling"])
def test_a_price_cap_keeps_jobs_off_the_dear_provider(
        name: str, cap: dict[str, float], west_net: Network, make_series: SeriesMaker,
        make_job: JobMaker) -> None:
    # four jobs that would start at once (two at dear, as above); at most 9 yuan per
    # card-hour (or 9 yuan in all) dear's 9.6 is no option: the two that cheap cannot take
    # now wait for it
    jobs = real_time(make_job, 4, **cap)
    series = make_series(west_net, 24)
    r = run(west_net, jobs, planner(name, west_net, jobs, series, Objective.bill()), series)
    assert providers(r) == ["cheap"] * 4
    assert sorted(r.placed_s.tolist()) == pytest.approx([0.0, 0.0, H, H])
    assert r.bill_yuan.sum() == pytest.approx(4 * CHEAP)


# ---- bounds stay bounds, runs repeat -------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_bound_is_never_above_a_feasible_plan_with_providers(
        seed: int, pnet: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed)
    series = random_series(make_series, pnet, seed)
    bounds = {o.name: lower_bound(pnet, jobs, series, o)
              for o in (Objective.carbon(), Objective.cost(), Objective.bill())}
    tight_bill = tight_lower_bound(pnet, jobs, series, Objective.bill())
    assert bounds["bill"].value <= tight_bill.value * (1 + 1e-7) + 1e-9
    checked = 0
    for name in ["nearest", "cheapest", "greenest", "green-window", "rolling", "optimal"]:
        policy = make_policy(name, PolicyContext(pnet, jobs, series))
        r = run(pnet, jobs, policy, series)
        if not feasible_plan(r):
            continue
        checked += 1
        assert bounds["carbon"].value <= r.carbon_kg.sum() * (1 + 1e-9) + 1e-9, name
        assert bounds["cost"].value <= r.cost_yuan.sum() * (1 + 1e-9) + 1e-9, name
        assert bounds["bill"].value <= r.bill_yuan.sum() * (1 + 1e-9) + 1e-9, name
        assert tight_bill.value <= r.bill_yuan.sum() * (1 + 1e-7) + 1e-9, name
    for name in ["optimal", "rolling"]:  # the planners on the tenants' bill
        r = run(pnet, jobs, planner(name, pnet, jobs, series, Objective.bill()), series)
        if feasible_plan(r):
            checked += 1
            assert tight_bill.value <= r.bill_yuan.sum() * (1 + 1e-7) + 1e-9, name
    assert checked >= 4


@pytest.mark.parametrize("name", ["optimal", "rolling"])
def test_a_seed_repeats_the_same_plan(name: str, pnet: Network,
                                      make_series: SeriesMaker) -> None:
    jobs = random_jobs(11, n=30)
    series = random_series(make_series, pnet, 11)
    runs = [run(pnet, jobs, planner(name, pnet, jobs, series, Objective.weighted(
        200.0, bill_weight=1.0)), series, forecast_error=1.0, seed=5) for _ in range(2)]
    a, b = ([(int(s), p, float(t)) for s, p, t in zip(r.site, providers(r), r.placed_s,
                                                      strict=True)] for r in runs)
    assert a == b
    assert len({p for _, p, _ in a}) == 2  # both providers are used


def test_the_bill_weight_is_checked_and_named() -> None:
    assert Objective.bill().bill_weight == 1.0 and Objective.bill().unit == "yuan"
    assert Objective.carbon().bill_weight == 0.0  # the default: energy and carbon only
    assert Objective.weighted(200.0, bill_weight=0.5).name == "weighted(200 yuan/t, bill x0.5)"
    with pytest.raises(ValueError, match="bill_weight must be >= 0, got -1"):
        Objective.weighted(200.0, bill_weight=-1.0)
