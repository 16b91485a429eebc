"""Hard site power caps (grid events, 有序用电) as the slot model's energy limits per site and hour.

A hard `Ceiling` (`suanwang.core.power_ceiling`) holds a site's facility power (units busy x
kW per unit x PUE, as the accounting counts it) at or below its kW at every instant of its
window. Over an hour that allows at most the integral of the cap, min(cap(t), the site's
installed facility power), a limit on the unit-hours the slot model may plan there:

    sum over the site's slices p of  kW_facility[p] x z[., p, h]  <=  cap_kwh[site, h]

Every plan that keeps the cap at every instant keeps it on average over each hour, so the
model's optimum stays a lower bound on such plans. Soft ceilings (a shed) yield to real-time
work and to deadlines, so they are no constraint a bound may assume.
"""

from __future__ import annotations

import itertools

import numpy as np

from suanwang.core.power_ceiling import PowerCalendar
from suanwang.core.state import Topology
from suanwang.energy.series import HOUR_S


def hourly_cap_kwh(topo: Topology, calendar: PowerCalendar | None, slot0: int,
                   n_slots: int) -> np.ndarray | None:
    """(sites, n_slots) the most facility kWh each site may draw in hours slot0 ..
    slot0 + n_slots - 1 under the calendar's hard ceilings (inf where none holds), or None
    if none falls in those hours."""
    if calendar is None or n_slots <= 0:
        return None
    hard = [c for c in calendar.ceilings if c.hard]
    lo_s, hi_s = slot0 * HOUR_S, (slot0 + n_slots) * HOUR_S
    hard = [c for c in hard if c.end_s > lo_s and c.start_s < hi_s]
    if not hard:
        return None
    site_max_kw = np.zeros(len(topo.sites))
    np.add.at(site_max_kw, np.asarray(topo.slice_site, dtype=np.int64),
              np.asarray(topo.slice_capacity, dtype=float)
              * np.asarray(topo.slice_kw_facility, dtype=float))
    out = np.full((len(topo.sites), n_slots), np.inf)
    for site in sorted({c.site for c in hard}):
        mine = [c for c in hard if c.site == site]
        cuts = {lo_s, hi_s} | {min(max(t, lo_s), hi_s) for c in mine
                               for t in (c.start_s, c.end_s)}
        first = int(np.floor(min(c.start_s for c in mine) / HOUR_S))
        last = int(np.ceil(max(c.end_s for c in mine) / HOUR_S))
        cuts |= {h * HOUR_S for h in range(max(first, slot0), min(last, slot0 + n_slots) + 1)}
        edges = sorted(cuts)
        kwh = np.zeros(n_slots)
        touched = np.zeros(n_slots, dtype=bool)
        for a, b in itertools.pairwise(edges):
            if b <= a:
                continue
            mid = (a + b) / 2
            caps = [c.kw for c in mine if c.start_s <= mid < c.end_s]
            h = int(mid // HOUR_S) - slot0
            kw = min([site_max_kw[site], *caps])
            kwh[h] += kw * (b - a) / HOUR_S
            touched[h] |= bool(caps)
        out[site, touched] = kwh[touched]
    return out
