"""Helpers of the grid tests: runs on the tiny network (see tests/conftest.py) with ceilings.

Tiny-network facts used here: from `east`, `local` is 1 ms away, `mid` 10 ms, `west` 20 ms;
an intelligent unit is 1 kW of IT power, so 1.5 kW facility at local (PUE 1.5), 1.3 at mid,
1.2 at west; local has 8 intelligent units, mid 6, west 10; only west has HPC (2 nodes of
3 kW, 3.6 kW facility each).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from suanwang.core.power_ceiling import PowerCalendar
from suanwang.energy.series import EnergySeries
from suanwang.grid.event import EventKind, GridEvent
from suanwang.model import Job, Network
from suanwang.policies.registry import make_policy
from suanwang.sim.engine import simulate
from suanwang.sim.result import SimResult
from tiny_support import T0, build_series, exact_forecaster, job

ONLINE = ["nearest", "greenest", "cheapest", "green-window", "rolling"]
H = 3600.0


def sim(net: Network, jobs: Sequence[Job], policy: str, power: PowerCalendar | None = None,
        series: EnergySeries | None = None) -> SimResult:
    s = series if series is not None else build_series(net, 72)
    return simulate(net, list(jobs), make_policy(policy), s, exact_forecaster(net, s),
                    power=power)


def steady(n: int = 36, every_s: float = 600.0, slack_h: float = 8.0, units: int = 1,
           prefix: str = "d") -> list[Job]:
    """Deferrable one-hour intelligent jobs from `east`, one every `every_s`."""
    return [job(f"{prefix}{i}", units=units, duration_s=H, submit_s=i * every_s,
                deadline_s=i * every_s + slack_h * H) for i in range(n)]


def realtime(n: int, start_s: float, every_s: float = 300.0, bound_ms: float = 5.0) -> list[Job]:
    """Real-time half-hour jobs from `east` that only `local` (1 ms) can serve."""
    return [job(f"r{i}", duration_s=H / 2, submit_s=start_s + i * every_s, rtt_bound_ms=bound_ms)
            for i in range(n)]


def event(kind: EventKind, sites: tuple[str, ...], from_h: float, to_h: float,
          **target: float) -> GridEvent:
    return GridEvent(f"{kind.value}-{'-'.join(sites)}", sites, kind,
                     T0 + timedelta(hours=from_h), T0 + timedelta(hours=to_h),
                     source="test", **target)  # type: ignore[arg-type]
