"""Grid events (`core.power_ceiling`) as rows of the planners' slot models (issue 14).

The bound takes hard caps as strict limits (`power_caps`). A planner (`rolling`, `optimal`)
takes every event in its plan, as rows per site and hour over the facility energy of the work
it plans there (units x kW per unit x PUE, as the accounting counts it):

- a **ceiling** (hard cap or soft shed) limits the site's energy in the hour to the integral of
  the ceiling less the real-time reserve (`Ceiling.limit_kw(False)`: the part left to
  deferrable work), less what the work already running there draws. Each row has an overflow
  column priced per kWh (`overflow_per_kwh`): a shed's overflow costs more than any job's own
  objective per kWh (a plan breaks it only where no deadline can wait), a cap's far more (so
  a plan breaks a cap only where nothing else is feasible; the scheduler's `PowerGuard` then
  holds it all the same);
- a **fill** asks for energy up to the integral of its level, less the running work's: a
  reward column u <= that target with u <= the site's planned energy, worth `reward_per_kwh`
  per kWh, pulls work into the fill window.

The rows' duals are prices per kWh at a site and hour (a ceiling's >= 0, a fill's <= 0);
`solve_slot_model` adds kW x that to the capacity price of each slice there, so a job's
options in a capped site-hour carry the cap's price and those in a fill window its reward
(`choose.price_options` on the `PriceBook`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.core.power_ceiling import PowerCalendar
from suanwang.core.state import Topology
from suanwang.energy.series import HOUR_S

SHED_OVERFLOW = 4.0  # x the largest objective per kWh: a shed's overflow price
CAP_OVERFLOW = 1e3  # x the largest objective per kWh: a cap's
FILL_REWARD = 1.0  # x the largest objective per kWh: what a kWh into a fill is worth


@dataclass(frozen=True)
class GridRows:
    """Rows over sites x slots (from `slot0`): kWh limits with an overflow price each, and
    fill targets with a reward per kWh (objective units)."""

    slot0: int
    limit_kwh: np.ndarray  # (sites, slots) inf where no ceiling
    overflow_per_kwh: np.ndarray  # (sites, slots) price of overflowing the limit; inf: strict
    fill_kwh: np.ndarray  # (sites, slots) 0 where no fill
    reward_per_kwh: float

    def __bool__(self) -> bool:
        return bool(np.isfinite(self.limit_kwh).any() or (self.fill_kwh > 0).any())

    def digest(self, used: int) -> bytes:
        return b"".join(np.ascontiguousarray(a[:, :used], dtype=float).tobytes() for a in (
            self.limit_kwh, self.overflow_per_kwh, self.fill_kwh)) + repr(
            (self.slot0, self.reward_per_kwh)).encode()


def site_max_kw(topo: Topology) -> np.ndarray:
    """Installed facility kW per site."""
    out = np.zeros(len(topo.sites))
    np.add.at(out, np.asarray(topo.slice_site, dtype=np.int64),
              np.asarray(topo.slice_capacity, dtype=float)
              * np.asarray(topo.slice_kw_facility, dtype=float))
    return out


def _integrate(windows: Sequence[tuple[int, float, float, float]], n_sites: int,
               slot0: int, n_slots: int, outside_kw: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per site and hour: the integral (kWh) of the lowest window's kW where windows hold and
    of `outside_kw[site]` elsewhere (0 with None), and whether a window touches the hour."""
    kwh = np.zeros((n_sites, n_slots))
    touched = np.zeros((n_sites, n_slots), dtype=bool)
    lo_s, hi_s = slot0 * HOUR_S, (slot0 + n_slots) * HOUR_S
    by_site: dict[int, list[tuple[float, float, float]]] = {}
    for site, a, b, kw in windows:
        if b > lo_s and a < hi_s:
            by_site.setdefault(site, []).append((a, b, kw))
    for site, mine in by_site.items():
        first = max(int(np.floor(min(a for a, _, _ in mine) / HOUR_S)), slot0)
        last = min(int(np.ceil(max(b for _, b, _ in mine) / HOUR_S)), slot0 + n_slots)
        cuts = {h * HOUR_S for h in range(first, last + 1)}
        cuts |= {min(max(t, lo_s), hi_s) for a, b, _ in mine for t in (a, b)}
        for a, b in itertools.pairwise(sorted(cuts)):
            if b <= a:
                continue
            mid = (a + b) / 2
            h = int(mid // HOUR_S) - slot0
            if not 0 <= h < n_slots:
                continue
            kws = [kw for s, e, kw in mine if s <= mid < e]
            if kws:
                kwh[site, h] += min(kws) * (b - a) / HOUR_S
                touched[site, h] = True
            elif outside_kw is not None:
                kwh[site, h] += outside_kw[site] * (b - a) / HOUR_S
    return kwh, touched


def grid_rows(topo: Topology, calendar: PowerCalendar | None, slot0: int, n_slots: int,
              objective_per_unit_h: np.ndarray, running_kwh: np.ndarray | None = None,
              running_rt_kwh: np.ndarray | None = None,
              reserve: bool = True) -> GridRows | None:
    """The rows of `calendar`'s events over hours slot0 .. slot0 + n_slots - 1, or None if
    none falls in them. `running_kwh[s, h]` is the facility energy the work outside the model
    (running now) draws there, `running_rt_kwh` its real-time part: the rows hold the model's
    work under what is left. With `reserve`, ceilings keep their real-time reserve from the
    modelled work (the model plans deferrable work only: `rolling`); without, the modelled
    work is all the site's work (`optimal`)."""
    if calendar is None or not calendar or n_slots <= 0:
        return None
    n_sites = len(topo.sites)
    site_kw = site_max_kw(topo)
    cap_w = [(c.site, c.start_s, c.end_s, min(c.limit_kw(not reserve), site_kw[c.site]))
             for c in calendar.ceilings]
    limit, touched = _integrate(cap_w, n_sites, slot0, n_slots, site_kw)
    hard_w = [(c.site, c.start_s, c.end_s, 0.0) for c in calendar.ceilings if c.hard]
    _, hard = _integrate(hard_w, n_sites, slot0, n_slots, None)
    res_w = [(c.site, c.start_s, c.end_s, c.reserve_kw) for c in calendar.ceilings]
    reserve_kwh, _ = _integrate(res_w, n_sites, slot0, n_slots, None)
    fill_w = [(f.site, f.start_s, f.end_s, min(f.kw, site_kw[f.site])) for f in calendar.fills]
    fill, filled = _integrate(fill_w, n_sites, slot0, n_slots, None)
    if not touched.any() and not filled.any():
        return None
    run = np.zeros((n_sites, n_slots)) if running_kwh is None else running_kwh[:, :n_slots]
    run_rt = (np.zeros_like(run) if running_rt_kwh is None
              else np.minimum(running_rt_kwh[:, :n_slots], run))
    # with a reserve, real-time work takes deferrable room only beyond the reserve
    held = (run - run_rt) + np.maximum(run_rt - reserve_kwh, 0.0) if reserve else run
    limit_kwh = np.where(touched, np.maximum(limit - held, 0.0), np.inf)
    fill_kwh = np.where(filled, np.maximum(fill - run, 0.0), 0.0)
    kw = np.maximum(np.asarray(topo.slice_kw_facility, dtype=float), 1e-12)
    per_kwh = float(np.abs(objective_per_unit_h[:, :n_slots] / kw[:, None]).max(initial=0.0))
    per_kwh = max(per_kwh, 1e-9)
    overflow = np.where(hard, CAP_OVERFLOW, SHED_OVERFLOW) * per_kwh
    return GridRows(slot0, limit_kwh, np.where(touched, overflow, np.inf), fill_kwh,
                    FILL_REWARD * per_kwh)
