"""The LP bound under hard site power caps (grid events): still a bound, and never looser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from suanwang.core.power_ceiling import Ceiling, PowerCalendar
from suanwang.core.state import Topology
from suanwang.model import Network
from suanwang.planning.bound import lower_bound
from suanwang.planning.power_caps import hourly_cap_kwh
from suanwang.policies.registry import make_policy
from suanwang.sim.engine import simulate

H = 3600.0
LOCAL, WEST = 0, 1
GREEDY = ["nearest", "greenest", "cheapest", "green-window"]


def deferrable(make_job: Callable[..., Any], n: int = 48) -> list[Any]:
    return [make_job(f"d{i}", duration_s=H, submit_s=i * 300.0, deadline_s=i * 300.0 + 8 * H)
            for i in range(n)]


def test_hourly_caps_integrate_the_ceiling_and_leave_other_hours_free(
        tiny_net: Network) -> None:
    topo = Topology(tiny_net)
    cal = PowerCalendar([Ceiling(WEST, 1.5 * H, 3 * H, 2.0, True, "cap"),
                         Ceiling(LOCAL, 0.0, 2 * H, 0.5, False, "shed")])
    caps = hourly_cap_kwh(topo, cal, 0, 5)
    assert caps is not None
    assert np.isinf(caps[LOCAL]).all()  # a shed is no constraint for a bound
    site_kw = sum(c * k for c, k, s in zip(topo.slice_capacity, topo.slice_kw_facility,
                                           topo.slice_site, strict=True) if s == WEST)
    assert caps[WEST, 1] == pytest.approx(0.5 * site_kw + 0.5 * 2.0)
    assert caps[WEST, 2] == pytest.approx(2.0)
    assert np.isinf(caps[WEST, [0, 3, 4]]).all()
    assert hourly_cap_kwh(topo, PowerCalendar([]), 0, 5) is None


@pytest.mark.parametrize("site", [LOCAL, WEST])
def test_bound_with_caps_is_between_the_free_bound_and_every_plan_under_the_caps(
        tiny_net: Network, make_series: Callable[..., Any], make_forecaster: Callable[..., Any],
        make_job: Callable[..., Any], site: int) -> None:
    series = make_series(tiny_net, 72)
    jobs = deferrable(make_job)
    cap = PowerCalendar([Ceiling(site, 0.0, 6 * H, 1.0, True, "cap")])
    free = lower_bound(tiny_net, jobs, series)
    capped = lower_bound(tiny_net, jobs, series, power=cap)
    assert capped.value >= free.value - 1e-9 * max(free.value, 1.0)
    for policy in GREEDY:
        r = simulate(tiny_net, list(jobs), make_policy(policy), series,
                     make_forecaster(tiny_net, series), power=cap)
        assert r.summary()["rejected"] == 0
        assert capped.value <= r.summary()["carbon_t"] * 1000.0 * (1 + 1e-9), policy


def test_a_binding_cap_raises_the_bound(tiny_net: Network, make_series: Callable[..., Any],
                                        make_job: Callable[..., Any]) -> None:
    """Whichever site the free bound's plan uses most, a cap of 0 kW there costs carbon."""
    series = make_series(tiny_net, 72)
    jobs = deferrable(make_job)
    topo = Topology(tiny_net)
    free = lower_bound(tiny_net, jobs, series)
    site_energy = np.zeros(len(topo.sites))
    for site in range(len(topo.sites)):
        cap = PowerCalendar([Ceiling(site, 0.0, 12 * H, 0.0, True, "cap0")])
        site_energy[site] = lower_bound(tiny_net, jobs, series, power=cap).value
    assert site_energy.max() > free.value * (1 + 1e-6)


@pytest.mark.parametrize("site", [LOCAL, WEST])
def test_tight_bound_with_caps_is_between_the_free_bound_and_every_plan_under_the_caps(
        tiny_net: Network, make_series: Callable[..., Any], make_forecaster: Callable[..., Any],
        make_job: Callable[..., Any], site: int) -> None:
    from suanwang.planning.tight_bound import TIGHT, tight_lower_bound
    series = make_series(tiny_net, 72)
    jobs = deferrable(make_job)
    cap = PowerCalendar([Ceiling(site, 0.0, 6 * H, 1.0, True, "cap")])
    free = tight_lower_bound(tiny_net, jobs, series)
    capped = tight_lower_bound(tiny_net, jobs, series, power=cap)
    assert free.method == TIGHT and capped.method == TIGHT
    assert capped.value >= free.value - 1e-9 * max(free.value, 1.0)
    # no looser than the aggregated bound under the same caps
    assert capped.value >= lower_bound(tiny_net, jobs, series, power=cap).value * (1 - 1e-9)
    for policy in [*GREEDY, "rolling"]:
        r = simulate(tiny_net, list(jobs), make_policy(policy), series,
                     make_forecaster(tiny_net, series), power=cap)
        assert r.summary()["rejected"] == 0
        assert capped.value <= r.summary()["carbon_t"] * 1000.0 * (1 + 1e-9), policy


def test_tight_bound_under_a_cap_that_binds_is_above_the_free_bound(
        tiny_net: Network, make_series: Callable[..., Any], make_job: Callable[..., Any]) -> None:
    # west is the greenest site and takes every job without a cap; a 0 kW cap at west for
    # the whole window sends the work to dearer sites: the bound must rise
    from suanwang.planning.tight_bound import tight_lower_bound
    series = make_series(tiny_net, 72)
    jobs = deferrable(make_job, 12)
    cap = PowerCalendar([Ceiling(WEST, 0.0, 72 * H, 0.0, True, "cap0")])
    free = tight_lower_bound(tiny_net, jobs, series)
    capped = tight_lower_bound(tiny_net, jobs, series, power=cap)
    assert capped.value > free.value * 1.5
