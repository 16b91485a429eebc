"""Real-time work steered off sites under a grid ceiling (issue 14).

A real-time job cannot wait, and its latency bound often leaves it one site. So that a
ceiling's room (its real-time reserve) is left to the real-time work that has nowhere else to
go, a planner prices a real-time job's options first without the sites whose ceiling is in
force now (`SchedulerState.power`); if one of its other sites within its bound has room now,
those options are its options. Else it keeps them all: a shed then yields to it
(`core.power_guard`: real-time work is never refused for a shed), and only a hard cap may
refuse it, saying why.
"""

from __future__ import annotations

from collections.abc import Sequence

from suanwang.core.state import Offer, SchedulerState
from suanwang.model import Job
from suanwang.planning.choose import Options, PriceBook, price_options


def ceilinged_now(state: SchedulerState, now_s: float) -> set[int]:
    """The sites with a ceiling in force at `now_s`."""
    cal = state.power
    if cal is None:
        return set()
    return {s for s in cal.sites if cal.active(s, now_s) is not None}


def steer_realtime(state: SchedulerState, jobs: Sequence[Job], cands: Sequence[Sequence[Offer]],
                   opts: list[Options | None], now_s: float,
                   book: PriceBook) -> list[Options | None]:
    """`opts` with each real-time job's options replaced by those off the ceilinged sites,
    where those have a slice with room now."""
    off = ceilinged_now(state, now_s) - state.drained
    if not off:
        return opts
    which = [i for i, j in enumerate(jobs) if j.realtime and opts[i] is not None
             and any(o.site in off for o in cands[i])]
    if not which:
        return opts
    alt = price_options([jobs[i] for i in which], [cands[i] for i in which], now_s, book,
                        state.drained | off)
    out = list(opts)
    for i, o in zip(which, alt, strict=True):
        if o is None:
            continue
        units = jobs[i].units
        if any(state.free_slice[c.slice] >= units and state.free_units[c.pool] >= units
               for c in o.cands):
            out[i] = o
    return out
