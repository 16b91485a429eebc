"""Placement over (site, provider) on the tiny network with two providers at every site.

Both providers hold half of every pool. Per intelligent card-hour `cheap` lists 10 yuan with
2 yuan/GB egress, `dear` 12 yuan with none; the sites apply a factor to the list (local 1.0,
mid 0.9, west 0.8), so per card-hour:

    site   rtt from east   cheap   dear
    local   1              10      12
    mid    10               9      10.8
    west   20               8       9.6

A job from east of one card for an hour with no data is cheapest at west/cheap (8); with 10 GB
of input west/cheap costs 8 + 20 = 28 and west/dear 9.6, so it goes to west/dear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from suanwang.core.policy import Decision
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import SchedulerState, Topology
from suanwang.model import Job, Kind, Network, Placement
from suanwang.network.loader import parse_network
from suanwang.policies import make_policy

ProviderDoc = Callable[..., dict[str, Any]]


@pytest.fixture
def pnet(tiny_doc: dict[str, Any], provider_doc: ProviderDoc) -> Network:
    return parse_network(provider_doc(tiny_doc), "<tiny with providers>")


def ask(job: Job, **fields: Any) -> Job:
    return replace(job, **fields)


def decide(policy: str, state: SchedulerState, jobs: list[Job]) -> Decision:
    before = (list(state.free_units), list(state.free_slice))
    d = make_policy(policy).decide(state, jobs, 0.0)
    assert (list(state.free_units), list(state.free_slice)) == before
    return d


def where(d: Decision) -> list[str]:
    return [f"{p.site_id}/{p.provider_id}" for p in d.placed]


def slice_index(state: SchedulerState, site: str, provider: str,
                kind: Kind = Kind.INTELLIGENT) -> int:
    return state.topology.slice_of[(site, provider, kind)]


StateMaker = Callable[..., SchedulerState]
JobMaker = Callable[..., Job]


def test_each_site_offers_two_provider_pools_adding_up(pnet: Network) -> None:
    topo = Topology(pnet)
    assert len(topo.slices) == 2 * len(topo.pools)
    assert topo.pool_capacity == [p.units for p in topo.pools]


def test_cheapest_takes_the_cheapest_provider(pnet: Network, make_state: StateMaker,
                                              make_job: JobMaker) -> None:
    d = decide("cheapest", make_state(pnet), [make_job()])
    assert where(d) == ["west/cheap"]
    assert "west/cheap" in d.placed[0].reason and "8 yuan/unit-h" in d.placed[0].reason


def test_egress_of_the_input_data_can_change_the_cheapest(pnet: Network,
                                                          make_state: StateMaker,
                                                          make_job: JobMaker) -> None:
    d = decide("cheapest", make_state(pnet), [make_job(data_gb=10.0)])
    assert where(d) == ["west/dear"]
    assert "expected bill 9.6 yuan" in d.placed[0].reason


@pytest.mark.parametrize(("fields", "expected"), [
    ({"providers_deny": ("cheap",)}, "west/dear"),
    ({"providers_allow": ("dear",)}, "west/dear"),
    ({"providers_allow": ("cheap", "dear")}, "west/cheap"),
])
def test_allow_and_deny_lists(fields: dict[str, Any], expected: str, pnet: Network,
                              make_state: StateMaker, make_job: JobMaker) -> None:
    assert where(decide("cheapest", make_state(pnet), [ask(make_job(), **fields)])) == [
        expected]


def test_a_job_every_provider_of_which_is_denied_is_rejected(pnet: Network,
                                                             make_state: StateMaker,
                                                             make_job: JobMaker) -> None:
    d = decide("nearest", make_state(pnet), [ask(make_job(), providers_deny=("cheap", "dear"))])
    (u,) = d.unplaced
    assert not u.retry and "no provider sells intelligent units" in u.reason


def test_preference_comes_first_then_overflows_to_the_cheapest_other(
        pnet: Network, make_state: StateMaker, make_job: JobMaker) -> None:
    job = ask(make_job(), providers_prefer=("dear",))
    state = make_state(pnet)
    d = decide("cheapest", state, [job])
    assert where(d) == ["west/dear"]
    assert "preferred provider dear" in d.placed[0].reason
    for site in ("local", "mid", "west"):  # dear is full everywhere
        state.free_slice[slice_index(state, site, "dear")] = 0
    d = decide("cheapest", state, [job])
    assert where(d) == ["west/cheap"]
    assert "overflow: preferred dear has no room" in d.placed[0].reason


def test_nearest_honours_the_preference_at_the_nearest_site(pnet: Network,
                                                            make_state: StateMaker,
                                                            make_job: JobMaker) -> None:
    d = decide("nearest", make_state(pnet), [ask(make_job(), providers_prefer=("dear",))])
    assert where(d) == ["local/dear"]


def test_a_price_cap_skips_dearer_offers(pnet: Network, make_state: StateMaker,
                                         make_job: JobMaker) -> None:
    d = decide("nearest", make_state(pnet), [ask(make_job(), max_price_yuan_per_unit_h=8.5)])
    assert where(d) == ["west/cheap"]
    assert "4 offers over the price cap skipped" in d.placed[0].reason
    d = decide("nearest", make_state(pnet), [ask(make_job(), max_bill_yuan=9.0)])
    assert where(d) == ["mid/cheap"]  # 9 yuan for the hour


def test_a_job_no_offer_of_which_is_under_its_cap_waits(pnet: Network,
                                                        make_state: StateMaker,
                                                        make_job: JobMaker) -> None:
    d = decide("cheapest", make_state(pnet), [ask(make_job(), max_price_yuan_per_unit_h=5.0)])
    (u,) = d.unplaced
    assert u.retry and "within the job's price cap" in u.reason


def test_a_provider_whose_quota_is_spent_is_skipped(pnet: Network, make_state: StateMaker,
                                                    make_job: JobMaker) -> None:
    state = make_state(pnet)
    state.free_slice[slice_index(state, "west", "cheap")] = 0
    assert where(decide("cheapest", state, [make_job()])) == ["mid/cheap"]


def test_a_small_quota_keeps_bigger_jobs_off_the_provider(tiny_doc: dict[str, Any],
                                                          provider_doc: ProviderDoc,
                                                          make_state: StateMaker,
                                                          make_job: JobMaker) -> None:
    doc = provider_doc(tiny_doc)
    west = next(s for s in doc["sites"] if s["id"] == "west")
    west["providers"][0]["quota"] = {"intelligent": 2, "source": "test"}
    net = parse_network(doc, "<t>")
    topo = Topology(net)
    assert topo.pool_capacity[topo.slice_pool[topo.slice_of[("west", "cheap",
                                                             Kind.INTELLIGENT)]]] == 7
    assert where(decide("cheapest", make_state(net), [make_job(units=3)])) == ["mid/cheap"]
    assert where(decide("cheapest", make_state(net), [make_job(units=2)])) == ["west/cheap"]


def test_a_tenant_cap_sends_the_tenants_next_job_elsewhere(tiny_doc: dict[str, Any],
                                                           provider_doc: ProviderDoc,
                                                           make_state: StateMaker,
                                                           make_job: JobMaker) -> None:
    cap = {"intelligent": 2, "source": "test"}
    net = parse_network(provider_doc(tiny_doc, tenant_cap=cap), "<t>")
    state = make_state(net)
    d = decide("cheapest", state, [make_job("a", units=2), make_job("b", units=2)])
    assert where(d) == ["west/cheap", "mid/cheap"]


class Log:
    def __init__(self) -> None:
        self.placements: list[Placement] = []

    def placed(self, placement: Placement, pool: int) -> None:
        self.placements.append(placement)

    def deferred(self, job: Job, until_s: float, reason: str) -> None:
        pass

    def queued(self, job: Job, reason: str) -> None:
        pass

    def rejected(self, job: Job, reason: str) -> None:
        pass

    def finished(self, job: Job, pool: int, now_s: float) -> None:
        pass


@pytest.mark.parametrize("policy", ["nearest", "greenest", "green-window", "rolling"])
def test_the_scheduler_keeps_provider_pools_within_their_offer(
        policy: str, pnet: Network, make_series: Callable[..., Any],
        make_forecaster: Callable[..., Any], make_job: JobMaker) -> None:
    series = make_series(pnet, 96)
    log = Log()
    sched = Scheduler(Topology(pnet), make_forecaster(pnet, series), make_policy(policy), log)
    jobs = [ask(make_job(f"j{i}", units=2, submit_s=60.0 * i, deadline_s=60.0 * i + 30 * 3600),
                providers_allow=("dear",) if i % 3 == 0 else ()) for i in range(30)]
    for j in jobs:
        sched.advance(j.submit_s)
        sched.submit(j, j.submit_s)
        assert min(sched.state.free_slice) >= 0
        held = [sum(r.job.units for r in sched.running.values() if r.slice == i)
                for i in range(len(sched.topology.slices))]
        assert [c - f for c, f in zip(sched.topology.slice_capacity, sched.state.free_slice,
                                      strict=True)] == held
    assert log.placements and all(p.provider_id in ("cheap", "dear") for p in log.placements)
    for p in log.placements:
        if p.job.providers_allow:
            assert p.provider_id == "dear"


@pytest.mark.parametrize("policy", ["cheapest", "green-window", "rolling"])
def test_a_closed_provider_slice_takes_no_work_and_keeps_what_its_jobs_give_back(
        policy: str, pnet: Network, make_series: Callable[..., Any],
        make_forecaster: Callable[..., Any], make_job: JobMaker) -> None:
    """A provider whose own backend is down (`Scheduler.close_slice`): new work goes to the
    site's other provider (and the tenant's preference falls through to it), units its
    running jobs give back stay withheld, and they all come back when it opens."""
    series = make_series(pnet, 96)
    log = Log()
    sched = Scheduler(Topology(pnet), make_forecaster(pnet, series), make_policy(policy), log)
    topo = sched.topology
    cheap = topo.slice_of[("west", "cheap", Kind.INTELLIGENT)]
    first = ask(make_job("a", units=2, rtt_bound_ms=None, deadline_s=3600.0 * 2),
                providers_allow=("cheap",), providers_prefer=("cheap",))
    sched.submit(first, 0.0)
    assert sched.running["a"].slice == cheap
    free_before = sched.state.free_units[topo.slice_pool[cheap]]
    sched.close_slice(cheap, True, 0.0)
    pool = topo.slice_pool[cheap]
    assert sched.state.free_slice[cheap] == 0
    assert sched.state.free_units[pool] == free_before - (topo.slice_capacity[cheap] - 2)
    nxt = ask(make_job("b", units=1, rtt_bound_ms=None, deadline_s=3600.0 * 2),
              providers_prefer=("cheap",))
    sched.submit(nxt, 0.0)
    assert "b" not in sched.running or sched.running["b"].slice != cheap
    sched.release("a", 1800.0)  # its units stay withheld while the slice is closed
    assert sched.state.free_slice[cheap] == 0
    assert sched.state.withheld[cheap] == topo.slice_capacity[cheap]
    sched.close_slice(cheap, False, 1800.0)
    assert cheap not in sched.state.withheld
    assert sched.state.free_slice[cheap] == topo.slice_capacity[cheap]
    assert sum(sched.state.free_slice[i] for i in topo.pool_slices[pool]) \
        == sched.state.free_units[pool]


def test_rolling_plans_around_a_tenant_cap_instead_of_waiting_on_it(
        tiny_doc: dict[str, Any], provider_doc: ProviderDoc, make_series: Callable[..., Any],
        make_forecaster: Callable[..., Any], make_job: JobMaker) -> None:
    """The tenant holds the whole cap of its best slice: its next job starting on arrival
    (allowed on `cheap` only, so no other provider of the pool can take it) is placed at
    the next best site at once, not refused there and queued at every retry."""
    cap = {"intelligent": 2, "source": "test"}
    net = parse_network(provider_doc(tiny_doc, tenant_cap=cap), "<t>")
    log = Log()
    sched = Scheduler(Topology(net), make_forecaster(net, make_series(net, 96)),
                      make_policy("rolling"), log)
    for name in ("a", "b", "c"):
        sched.submit(ask(make_job(name, units=2, rtt_bound_ms=100.0),
                         providers_allow=("cheap",)), 0.0)
    assert not sched.waiting()
    assert [(p.job.job_id, p.site_id, p.provider_id) for p in log.placements] == [
        ("a", "west", "cheap"), ("b", "mid", "cheap"), ("c", "local", "cheap")]
