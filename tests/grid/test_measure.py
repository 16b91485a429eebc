"""Measurement against the baseline (the same run without events) on the tiny network."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from grid_support import H, event, steady

from suanwang.grid.event import EventKind
from suanwang.grid.run import run_with_events
from suanwang.model import Network
from tiny_support import build_series


def _series(net: Network):  # west turns green from hour 10: green-window defers to then
    g = np.full(72, 0.1)
    g[10:20] = 0.95
    return build_series(net, 72, green={"west": g, "mid": 0.1})


def test_shed_target_met_when_deferrable_work_allows(tiny_net: Network) -> None:
    # nearest puts every job at local: 6 units busy = 9 kW; a 50% shed asks 4.5 kW, which
    # moving the work to mid (no latency bound) allows
    shed = replace(event(EventKind.SHED, ("local",), 1, 3, target_share=0.5),
                   price_yuan_per_kwh=2.0, penalty_yuan_per_kwh=1.0)
    gr = run_with_events(tiny_net, steady(30, slack_h=20.0), "nearest", [shed],
                         series=_series(tiny_net), forecast_error=0.0)
    (rep,) = gr.reports
    site = rep.sites[0]
    assert len(site.baseline_kw) == 8  # 15-minute intervals of a 2-hour window
    np.testing.assert_allclose(site.baseline_kw, 9.0)
    np.testing.assert_allclose(site.requested_kw, 4.5)
    assert (site.actual_kw <= 4.5 + 1e-9).all()
    assert rep.delivered_share is not None and rep.delivered_share >= 0.95
    assert rep.requested_kwh == pytest.approx(9.0)  # 4.5 kW x 2 h
    assert rep.credit_yuan == pytest.approx(2.0 * rep.delivered_kwh)
    assert rep.penalty_yuan == pytest.approx(1.0 * (rep.requested_kwh - rep.delivered_kwh))
    assert rep.jobs_moved > 0
    s = gr.summary()
    assert s["latency_violations"] == 0 and s["deadline_misses_added"] == 0
    assert s["grid_events"][0]["baseline"].startswith("the same run without the events")


@pytest.mark.parametrize("policy", ["green-window", "rolling"])
def test_fill_pulls_deferred_work_forward(tiny_net: Network, policy: str) -> None:
    # the policy defers to west's green hours (10-20); a 6 kW fill at west in hours 4-6
    # pulls deferred jobs forward there (5 units x 1.2 kW)
    fill = event(EventKind.FILL, ("west",), 4, 6, target_kw=6.0)
    gr = run_with_events(tiny_net, steady(30, slack_h=20.0), policy, [fill],
                         series=_series(tiny_net), forecast_error=0.0)
    (rep,) = gr.reports
    np.testing.assert_allclose(rep.sites[0].baseline_kw, 0.0)
    assert rep.delivered_share == pytest.approx(1.0)
    assert rep.jobs_pulled > 0
    assert gr.result.summary()["deadline_misses"] == 0
    r = gr.result
    if policy == "rolling":  # the fill is in its plan: it brings the work forward itself
        early = [i for i in range(len(r.jobs)) if r.start_s[i] < 10 * H]
        assert early and all(r.reasons[i].startswith("rolling:") for i in early)
        assert all(r.start_s[i] + H > 4 * H and r.start_s[i] < 6 * H for i in early)
        return
    pulled = [i for i, why in r.reasons.items() if "pulls deferred work" in why]
    assert pulled and all(4 * H <= r.start_s[i] < 6 * H for i in pulled)


def test_cap_measured_peak_under_the_cap(tiny_net: Network) -> None:
    cap = event(EventKind.CAP, ("local",), 1, 3, target_kw=3.0)
    gr = run_with_events(tiny_net, steady(30, slack_h=20.0), "nearest", [cap],
                         series=_series(tiny_net), forecast_error=0.0)
    (rep,) = gr.reports
    assert rep.sites[0].peak_kw <= 3.0 + 1e-9 and not rep.cap_exceeded
    np.testing.assert_allclose(rep.sites[0].requested_kw, 9.0 - 3.0)
    assert rep.delivered_share == pytest.approx(1.0)


def test_fill_steers_deferrable_arrivals_of_a_policy_that_never_defers(tiny_net: Network) -> None:
    # nearest runs everything at local; during a 6 kW fill at west (hours 1-3) deferrable
    # arrivals are decided with only west open and go there, up to the level (5 units)
    fill = event(EventKind.FILL, ("west",), 1, 3, target_kw=6.0)
    gr = run_with_events(tiny_net, steady(30, slack_h=20.0), "nearest", [fill],
                         series=_series(tiny_net), forecast_error=0.0)
    (rep,) = gr.reports
    site = rep.sites[0]
    np.testing.assert_allclose(site.baseline_kw, 0.0)
    assert (site.actual_kw <= 6.0 + 1.2 + 1e-9).all()  # at most one job above the level
    assert rep.delivered_share is not None and rep.delivered_share > 0.5
    steered = [i for i, why in gr.result.reasons.items() if "fill 消纳 draws it here" in why]
    assert steered and all(1 * H <= gr.result.start_s[i] < 3 * H for i in steered)


def test_baseline_is_the_run_without_events(tiny_net: Network) -> None:
    from suanwang.grid.power import mean_kw
    from suanwang.sim.runner import run

    jobs = steady(30, slack_h=20.0)
    shed = event(EventKind.SHED, ("local",), 1, 3, target_share=0.5)
    series = _series(tiny_net)
    gr = run_with_events(tiny_net, jobs, "nearest", [shed], series=series, forecast_error=0.0)
    alone = run(tiny_net, jobs, "nearest", series=series, forecast_error=0.0)
    sp = gr.plans[0].sites[0]
    np.testing.assert_allclose(sp.baseline_kw, mean_kw(alone, 0, sp.edges_s))
    assert not np.allclose(sp.baseline_kw, mean_kw(gr.result, 0, sp.edges_s))
