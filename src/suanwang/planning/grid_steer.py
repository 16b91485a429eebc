"""Real-time work steered off sites under a grid ceiling (issue 14).

A real-time job cannot wait, and its latency bound often leaves it one site. So that a
ceiling's room (its real-time reserve) is left to the real-time work that has nowhere else to
go, a planner prices a real-time job's options first without the sites whose ceiling is in
force now or that its run would meet (`SchedulerState.power`); if one of its other sites
within its bound has room now,
those options are its options. Else it keeps them all: a shed then yields to it
(`core.power_guard`: real-time work is never refused for a shed), and only a hard cap may
refuse it, saying why.
"""

from __future__ import annotations

from collections.abc import Sequence

from suanwang.core.state import Offer, SchedulerState
from suanwang.model import Job
from suanwang.planning.choose import Options, PriceBook, price_options


def ceilinged(state: SchedulerState, start_s: float, end_s: float) -> set[int]:
    """The sites with a ceiling in force at some time of [start_s, end_s)."""
    cal = state.power
    if cal is None:
        return set()
    return {s for s in cal.sites if cal.overlapping(s, start_s, end_s)}


def steer_realtime(state: SchedulerState, jobs: Sequence[Job], cands: Sequence[Sequence[Offer]],
                   opts: list[Options | None], now_s: float,
                   book: PriceBook) -> list[Options | None]:
    """`opts` with each real-time job's options replaced by those off the ceilinged sites,
    where those have a slice with room now."""
    if state.power is None or not state.power.sites:
        return opts
    out = list(opts)
    for i, job in enumerate(jobs):
        if not job.realtime or opts[i] is None:
            continue
        off = ceilinged(state, now_s, now_s + job.duration_s) - state.drained
        if not off or not any(o.site in off for o in cands[i]):
            continue
        (o,) = price_options([job], [cands[i]], now_s, book, state.drained | off)
        if o is None:
            continue
        units = job.units
        if any(state.free_slice[c.slice] >= units and state.free_units[c.pool] >= units
               for c in o.cands):
            out[i] = o
    return out
