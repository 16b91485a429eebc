"""Every policy on the tiny network (see tests/conftest.py), with placements worked out by hand.

Per busy intelligent unit on the flat file-valued series (kW x PUE x ...):

    site   rtt from east  intensity (1-green) x grid  g CO2/h  price  yuan/h
    local   1             0.9 x 800 = 720             1080     0.60   0.9
    west   20             0.1 x 700 = 70                84     0.30   0.36
    mid    10             0.5 x 500 = 250              325     0.45   0.585

Policies are called directly: `policy.decide(state, [jobs], now)` on a `SchedulerState` whose
forecaster has error_scale 0, so the forecast is the series itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from suanwang.core.policy import Decision
from suanwang.core.state import SchedulerState
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job, Kind, Network
from suanwang.network.loader import parse_network
from suanwang.policies import POLICIES, UnknownPolicyError, make_policy

H = HOUR_S
SITE_INDEX = {"local": 0, "west": 1, "mid": 2}
ALL_POLICIES = list(POLICIES)

JobMaker = Callable[..., Job]
StateMaker = Callable[..., SchedulerState]
SeriesMaker = Callable[..., EnergySeries]


def pool_index(state: SchedulerState, site: str, kind: Kind) -> int:
    topo = state.topology
    for i, p in enumerate(topo.pools):
        if p.site_id == site and p.kind == kind:
            return i
    raise KeyError((site, kind))


def decide(policy_name: str, state: SchedulerState, jobs: list[Job],
           now_s: float = 0.0) -> Decision:
    free_before = list(state.free_units)
    d = make_policy(policy_name).decide(state, jobs, now_s)
    assert state.free_units == free_before, "a policy must not change the state"
    assert len(d.placed) + len(d.deferred) + len(d.unplaced) == len(jobs)
    return d


def placed_sites(d: Decision) -> list[str]:
    return [p.site_id for p in d.placed]


# ---- where each policy places one job ------------------------------------------------------

# (policy, job fields, expected site)
PLACEMENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("nearest", {}, "local"),
    ("nearest", {"origin": "south"}, "mid"),  # south: local 25, mid 12, west 30
    ("nearest", {"kind": Kind.GENERAL, "units": 30}, "local"),
    ("nearest", {"kind": Kind.HPC}, "west"),  # the only HPC pool
    ("greenest", {}, "west"),
    ("greenest", {"deadline_s": 24 * H}, "west"),
    ("greenest", {"rtt_bound_ms": 15.0}, "mid"),  # west (20 ms) excluded: mid 325 < local 1080
    ("greenest", {"rtt_bound_ms": 5.0}, "local"),  # only local within 5 ms
    ("greenest", {"origin": "south", "rtt_bound_ms": 26.0}, "mid"),
    ("greenest", {"kind": Kind.GENERAL, "units": 50}, "west"),  # local's 40 too small
    ("cheapest", {}, "west"),  # 0.36 < 0.585 < 0.9
    ("cheapest", {"rtt_bound_ms": 15.0}, "mid"),
    ("cheapest", {"rtt_bound_ms": 1.0}, "local"),  # the bound is inclusive
    ("green-window", {"rtt_bound_ms": 25.0}, "west"),  # real-time: like greenest
    ("green-window", {"rtt_bound_ms": 15.0}, "mid"),
    ("green-window", {}, "west"),  # no deadline: like greenest
    ("green-window", {"deadline_s": 24 * H}, "west"),  # flat series: nothing to wait for
]


@pytest.mark.parametrize(("policy", "fields", "site"), PLACEMENT_CASES,
                         ids=[f"{p}-{s}-{i}" for i, (p, _, s) in enumerate(PLACEMENT_CASES)])
def test_places_one_job_where_worked_out(policy: str, fields: dict[str, Any], site: str,
                                         tiny_net: Network, make_state: StateMaker,
                                         make_job: JobMaker) -> None:
    j = make_job(**fields)
    d = decide(policy, make_state(tiny_net), [j], now_s=0.0)
    assert placed_sites(d) == [site], d
    p = d.placed[0]
    assert p.job is j
    assert p.placed_s == 0.0
    assert p.reason.startswith(f"{policy}: {site}")
    bound = j.rtt_bound_ms
    assert bound is None or tiny_net.rtt_ms[(j.origin, site)] <= bound


# Prices and intensities by hand: the score counts kW x PUE, not the raw tariff or intensity.
# (policy, series overrides, expected site)
SCORE_CASES: list[tuple[str, dict[str, dict[str, Any]], str]] = [
    # local's tariff 0.25 < west's 0.3, but 1.5 x 0.25 = 0.375 > 1.2 x 0.3 = 0.36
    ("cheapest", {"price": {"local": 0.25}}, "west"),
    # 1.5 x 0.22 = 0.33 < 0.36
    ("cheapest", {"price": {"local": 0.22}}, "local"),
    # 1.3 x 0.27 = 0.351 < 0.36: mid wins over west
    ("cheapest", {"price": {"mid": 0.27}}, "mid"),
    # local intensity 60 < west 70, but 1.5 x 60 = 90 > 1.2 x 70 = 84
    ("greenest", {"intensity": {"local": 60.0}}, "west"),
    # 1.5 x 50 = 75 < 84
    ("greenest", {"intensity": {"local": 50.0}}, "local"),
    # a one-hour job now sees only hour 0, where west is dirty: mid (325) wins
    ("greenest", {"intensity": {"west": [2000.0] + [0.0] * 47}}, "mid"),
    # a dirty hour 1 at west: a one-hour job starting at 0 does not touch it
    ("greenest", {"intensity": {"west": [70.0, 5000.0] + [70.0] * 46}}, "west"),
]


@pytest.mark.parametrize(("policy", "overrides", "site"), SCORE_CASES,
                         ids=[f"{p}-{s}-{i}" for i, (p, _, s) in enumerate(SCORE_CASES)])
def test_scores_count_pue(policy: str, overrides: dict[str, dict[str, Any]], site: str,
                          tiny_net: Network, make_state: StateMaker, make_series: SeriesMaker,
                          make_job: JobMaker) -> None:
    state = make_state(tiny_net, make_series(tiny_net, **overrides))
    assert placed_sites(decide(policy, state, [make_job()])) == [site]


def test_greenest_averages_the_forecast_over_the_run(tiny_net: Network, make_state: StateMaker,
                                                      make_series: SeriesMaker,
                                                      make_job: JobMaker) -> None:
    # west: 70 for hour 0, 2000 after: a 1-hour job goes west (84), a 2-hour job sees a mean
    # of 1035 x 1.2 = 1242 > local 1080 > mid 325, so it goes to mid
    series = make_series(tiny_net, intensity={"west": [70.0] + [2000.0] * 47})
    state = make_state(tiny_net, series)
    assert placed_sites(decide("greenest", state, [make_job(duration_s=H)])) == ["west"]
    assert placed_sites(decide("greenest", state, [make_job(duration_s=2 * H)])) == ["mid"]


def test_transfer_time_is_data_over_link_bandwidth(tiny_net: Network, make_state: StateMaker,
                                                   make_job: JobMaker) -> None:
    state = make_state(tiny_net)
    d = decide("greenest", state, [make_job(data_gb=100.0)])
    assert placed_sites(d) == ["west"]
    assert d.placed[0].transfer_s == pytest.approx(100.0 * 8 / 40)  # east-west: 40 Gbps
    d = decide("nearest", state, [make_job(data_gb=100.0)])
    assert d.placed[0].transfer_s == pytest.approx(100.0 * 8 / 10)  # default 10 Gbps
    assert decide("nearest", state, [make_job()]).placed[0].transfer_s == 0.0


# ---- full sites: the next best is used ------------------------------------------------------

# (policy, the site made full, expected site)
FULL_CASES: list[tuple[str, str, str]] = [
    ("nearest", "local", "mid"),
    ("greenest", "west", "mid"),
    ("cheapest", "west", "mid"),
    ("green-window", "west", "mid"),
]


@pytest.mark.parametrize(("policy", "full", "site"), FULL_CASES)
def test_full_best_site_falls_back_to_next(policy: str, full: str, site: str, tiny_net: Network,
                                           make_state: StateMaker, make_job: JobMaker) -> None:
    state = make_state(tiny_net)
    state.free_units[pool_index(state, full, Kind.INTELLIGENT)] = 0
    assert placed_sites(decide(policy, state, [make_job(deadline_s=24 * H)])) == [site]


def test_partly_full_site_only_takes_what_fits(tiny_net: Network, make_state: StateMaker,
                                               make_job: JobMaker) -> None:
    state = make_state(tiny_net)
    state.free_units[pool_index(state, "west", Kind.INTELLIGENT)] = 3
    d = decide("greenest", state, [make_job(units=4)])
    assert placed_sites(d) == ["mid"]
    d = decide("greenest", state, [make_job(units=3)])
    assert placed_sites(d) == ["west"]


@pytest.mark.parametrize("policy", ["greenest", "cheapest"])
def test_one_decision_counts_its_own_placements(policy: str, tiny_net: Network,
                                                make_state: StateMaker,
                                                make_job: JobMaker) -> None:
    # west has 10, mid 6, local 8: 8 -> west (2 left), 5 -> mid (1 left), 5 -> local (3 left),
    # then 4 fits nowhere: queued (retry)
    jobs = [make_job(f"j{i}", units=u) for i, u in enumerate((8, 5, 5, 4))]
    d = decide(policy, make_state(tiny_net), jobs)
    assert placed_sites(d) == ["west", "mid", "local"]
    assert [u.job.job_id for u in d.unplaced] == ["j3"]
    assert d.unplaced[0].retry is True
    assert "no free capacity" in d.unplaced[0].reason


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_everything_full_is_unplaced_with_retry(policy: str, tiny_net: Network,
                                                make_state: StateMaker,
                                                make_job: JobMaker) -> None:
    state = make_state(tiny_net)
    for site in SITE_INDEX:
        state.free_units[pool_index(state, site, Kind.INTELLIGENT)] = 0
    d = decide(policy, state, [make_job(rtt_bound_ms=50.0)])
    assert not d.placed and not d.deferred
    assert d.unplaced[0].retry is True
    assert "no free capacity at 3 feasible sites" in d.unplaced[0].reason


# ---- jobs no site could ever serve: rejected with the cause ---------------------------------

# (name, job fields, text the reason must contain)
INFEASIBLE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("too big for every pool", {"units": 11},
     ["needs 11 intelligent units", "the largest pool has 10"]),
    ("too big for every general pool", {"kind": Kind.GENERAL, "units": 101},
     ["needs 101 general units", "the largest pool has 100"]),
    ("rtt bound below every site", {"rtt_bound_ms": 0.5},
     ["round-trip bound 0.5 ms from east", "1.0 ms away"]),
    ("big enough only beyond the bound", {"units": 9, "rtt_bound_ms": 15.0},
     ["round-trip bound 15.0 ms", "nearest site large enough is 20.0 ms away"]),
    ("hpc only out of reach", {"kind": Kind.HPC, "rtt_bound_ms": 10.0},
     ["round-trip bound 10.0 ms", "20.0 ms away"]),
]


@pytest.mark.parametrize("policy", ALL_POLICIES)
@pytest.mark.parametrize(("fields", "texts"), [c[1:] for c in INFEASIBLE_CASES],
                         ids=[c[0] for c in INFEASIBLE_CASES])
def test_infeasible_job_is_rejected_with_reason(policy: str, fields: dict[str, Any],
                                                texts: list[str], tiny_net: Network,
                                                make_state: StateMaker,
                                                make_job: JobMaker) -> None:
    j = make_job(**fields)
    d = decide(policy, make_state(tiny_net), [j])
    assert not d.placed and not d.deferred
    (u,) = d.unplaced
    assert u.job is j
    assert u.retry is False
    for text in texts:
        assert text in u.reason


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_kind_without_any_pool_is_rejected(policy: str, tiny_doc: dict[str, Any],
                                           make_state: StateMaker, make_job: JobMaker) -> None:
    west = next(s for s in tiny_doc["sites"] if s["id"] == "west")
    west["pools"] = [q for q in west["pools"] if q["kind"] != "hpc"]
    net = parse_network(tiny_doc, "<no hpc>")
    d = decide(policy, make_state(net), [make_job(kind=Kind.HPC)])
    (u,) = d.unplaced
    assert u.retry is False
    assert "no site has a hpc pool reachable from east" in u.reason


# ---- deadlines: a site that meets it is preferred -------------------------------------------


@pytest.fixture
def fast_south_local(tiny_doc: dict[str, Any]) -> Network:
    """The tiny network with a 100 Gbps link from south to local (others 10 Gbps)."""
    tiny_doc["bandwidth"].append({"region": "south", "site": "local", "gbps": 100,
                                  "source": "test"})
    return parse_network(tiny_doc, "<fast link>")


@pytest.mark.parametrize("policy", ["greenest", "cheapest"])
def test_a_site_meeting_the_deadline_is_preferred(policy: str, fast_south_local: Network,
                                                  make_state: StateMaker,
                                                  make_job: JobMaker) -> None:
    # 500 GB from south: 40 s to local, 400 s to west or mid. Deadline 100 s after the run:
    # only local makes it, though it is the worst by score.
    j = make_job(origin="south", data_gb=500.0, deadline_s=H + 100.0)
    d = decide(policy, make_state(fast_south_local), [j])
    assert placed_sites(d) == ["local"]
    assert d.placed[0].transfer_s == pytest.approx(40.0)
    assert "deadline cannot be met" not in d.placed[0].reason


@pytest.mark.parametrize("policy", ["greenest", "cheapest"])
def test_when_no_site_meets_the_deadline_the_best_is_taken(policy: str,
                                                           fast_south_local: Network,
                                                           make_state: StateMaker,
                                                           make_job: JobMaker) -> None:
    j = make_job(origin="south", data_gb=500.0, deadline_s=H + 10.0)
    d = decide(policy, make_state(fast_south_local), [j])
    assert placed_sites(d) == ["west"]
    assert d.placed[0].reason.endswith("deadline cannot be met")


# ---- green-window: waiting for greener hours ------------------------------------------------

STEP_H = 6  # west turns fully green (intensity 0) at hour 6


@pytest.fixture
def west_step(tiny_net: Network, make_series: SeriesMaker) -> EnergySeries:
    """West at its file values (green 0.9) for hours 0-5, fully green from hour 6."""
    return make_series(tiny_net, 48, green={"west": [0.9] * STEP_H + [1.0] * (48 - STEP_H)})


# (job fields, now_s, expected: ("defer", until_s) or ("place", site))
WINDOW_CASES: list[tuple[str, dict[str, Any], float, tuple[str, Any]]] = [
    ("defers to the green hour", {"deadline_s": 24 * H}, 0.0, ("defer", STEP_H * H)),
    ("defers from mid-hour", {"deadline_s": 24 * H, "submit_s": 1800.0}, 1800.0,
     ("defer", STEP_H * H)),
    # latest safe start = deadline - duration - margin (1 h) = 6 h: just room
    ("latest start exactly at the step", {"deadline_s": 8 * H}, 0.0, ("defer", STEP_H * H)),
    # latest start 5 h: the step is out of reach
    ("deadline before the step", {"deadline_s": 7 * H}, 0.0, ("place", "west")),
    ("deadline leaves no room", {"deadline_s": 2 * H}, 0.0, ("place", "west")),
    ("real-time job", {"rtt_bound_ms": 25.0}, 0.0, ("place", "west")),
    ("real-time job, west out of reach", {"rtt_bound_ms": 15.0}, 0.0, ("place", "mid")),
    ("no deadline", {}, 0.0, ("place", "west")),
    # the step is not in reach once we are past it: the job just runs
    ("already green now", {"deadline_s": 30 * H, "submit_s": 7 * H}, 7 * H, ("place", "west")),
]


@pytest.mark.parametrize(("fields", "now", "expected"), [c[1:] for c in WINDOW_CASES],
                         ids=[c[0] for c in WINDOW_CASES])
def test_green_window_defers_to_a_known_greener_hour(fields: dict[str, Any], now: float,
                                                     expected: tuple[str, Any],
                                                     tiny_net: Network, west_step: EnergySeries,
                                                     make_state: StateMaker,
                                                     make_job: JobMaker) -> None:
    j = make_job(**fields)
    d = decide("green-window", make_state(tiny_net, west_step), [j], now_s=now)
    what, value = expected
    if what == "defer":
        assert not d.placed and not d.unplaced
        (df,) = d.deferred
        assert df.job is j
        assert df.until_s == value
        assert "west" in df.reason
    else:
        assert not d.deferred and not d.unplaced
        assert placed_sites(d) == [value]
        assert d.placed[0].placed_s == now


def test_green_window_defers_to_another_site_that_turns_green(
        tiny_net: Network, make_series: SeriesMaker, make_state: StateMaker,
        make_job: JobMaker) -> None:
    # mid turns fully green at hour 3: 0 < west's 84 now
    series = make_series(tiny_net, green={"mid": [0.5] * 3 + [1.0] * 45})
    d = decide("green-window", make_state(tiny_net, series), [make_job(deadline_s=24 * H)])
    (df,) = d.deferred
    assert df.until_s == 3 * H
    assert "mid" in df.reason


def test_green_window_ignores_a_gain_below_min_gain(tiny_net: Network, make_series: SeriesMaker,
                                                     make_state: StateMaker,
                                                     make_job: JobMaker) -> None:
    # west 70 -> 68 g/kWh at hour 6: 1.2 x 68 = 81.6 is not 5% below 84 (79.8)
    series = make_series(tiny_net, intensity={"west": [70.0] * STEP_H + [68.0] * 42})
    d = decide("green-window", make_state(tiny_net, series), [make_job(deadline_s=24 * H)])
    assert placed_sites(d) == ["west"]
    # 60 g/kWh: 72 < 79.8, worth the wait
    series = make_series(tiny_net, intensity={"west": [70.0] * STEP_H + [60.0] * 42})
    d = decide("green-window", make_state(tiny_net, series), [make_job(deadline_s=24 * H)])
    assert [df.until_s for df in d.deferred] == [STEP_H * H]


def test_green_window_soft_reservations_fill_up(tiny_net: Network, west_step: EnergySeries,
                                                make_state: StateMaker,
                                                make_job: JobMaker) -> None:
    # west holds 10: a deferred 8-unit job plans 8 of them at hour 6; a second 8-unit job no
    # longer fits there, and no other site-hour is greener than now, so it runs now (west,
    # which is free now)
    policy = make_policy("green-window")
    state = make_state(tiny_net, west_step)
    a, b = make_job("a", units=8, deadline_s=24 * H), make_job("b", units=8, deadline_s=24 * H)
    d = policy.decide(state, [a, b], 0.0)
    assert [df.job.job_id for df in d.deferred] == ["a"]
    assert [(p.job.job_id, p.site_id) for p in d.placed] == [("b", "west")]


# ---- drained sites ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ALL_POLICIES)
@pytest.mark.parametrize("open_site", list(SITE_INDEX))
def test_drained_sites_are_never_chosen(policy: str, open_site: str, tiny_net: Network,
                                        make_state: StateMaker, make_job: JobMaker) -> None:
    state = make_state(tiny_net)
    state.drained = {i for s, i in SITE_INDEX.items() if s != open_site}
    jobs = [make_job("a", deadline_s=24 * H), make_job("b", rtt_bound_ms=50.0),
            make_job("c", data_gb=10.0)]
    d = decide(policy, state, jobs)
    assert placed_sites(d) == [open_site] * 3
    assert not d.deferred


def test_green_window_does_not_wait_for_a_drained_site(tiny_net: Network,
                                                        west_step: EnergySeries,
                                                        make_state: StateMaker,
                                                        make_job: JobMaker) -> None:
    state = make_state(tiny_net, west_step)
    state.drained = {SITE_INDEX["west"]}
    d = decide("green-window", state, [make_job(deadline_s=24 * H)])
    assert placed_sites(d) == ["mid"]


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_all_feasible_sites_drained_is_unplaced_with_retry(policy: str, tiny_net: Network,
                                                           make_state: StateMaker,
                                                           make_job: JobMaker) -> None:
    state = make_state(tiny_net)
    state.drained = set(SITE_INDEX.values())
    d = decide(policy, state, [make_job(deadline_s=24 * H)])
    assert not d.placed and not d.deferred
    assert d.unplaced[0].retry is True


# ---- the registry ----------------------------------------------------------------------------


def test_registry_names_match_policy_names() -> None:
    assert {"nearest", "cheapest", "greenest", "green-window"} <= set(POLICIES)
    for name in POLICIES:
        assert make_policy(name).name == name


def test_make_policy_gives_fresh_instances() -> None:
    assert make_policy("green-window") is not make_policy("green-window")


def test_unknown_policy_lists_the_valid_names() -> None:
    with pytest.raises(UnknownPolicyError) as info:
        make_policy("nope")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "'nope'" in message
    for name in POLICIES:
        assert name in message
