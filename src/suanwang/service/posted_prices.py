"""Posted prices (issue 13 item 1): per (site, provider, kind, run-clock hour), a day ahead,
revised at every market round (`ROUND_S` of the run clock) and once when the scheduler starts,
in the market path (`MarketDesk.tick` starts a revision in a thread of its own; the
scheduler's tick never waits for it).

The rule is `market.posted`'s, the one the simulator's posted-price mechanism revises by:

- **floor** f: the provider's price item in force that hour (time-of-use applied), or for an
  energy-priced provider the forecast electricity cost of one busy unit
  (`SchedulerState.unit_price_of_slice`);
- **scarcity target** s*, by `PostedRule.scarcity_source` (`serve --posted-scarcity-source`):
  - `lp_dual` (default): the planner's capacity dual of the slice-hour, yuan per unit-hour,
    capped at ALPHA x f: the slot model (`planning.model`) solved at the revision over the
    jobs the scheduler holds (queued and deferred) and the room running jobs leave, electricity
    cost plus carbon at `yuan_per_t_co2` (`serve --posted-yuan-per-t-co2`, default 100) on
    the forecast issued for the hour (`market.scarcity`);
  - `utilisation` (fallback): booked utilisation u of the hour (units of the slice held that
    hour by the jobs placed or running now, over the slice's units),
    s* = f x ALPHA x max(0, u - U0) / (1 - U0);
- **smoothing**: the posted price p moves toward f + s* by at most STEP x f per revision
  (p' = p + clip(f + s* - p, -STEP f, +STEP f)), never below the floor; an hour posted for the
  first time takes f + s* at once.

Parameters: HORIZON_H = 24 hours ahead (plus the current hour), ALPHA = 1.0, U0 = 0.6,
STEP = 0.10. Every hour's row is kept (its last revision: price, floor, scarcity (price -
floor), booked utilisation, how many times it moved), so the history is the price each hour
was last posted at. `last_duals` holds the last revision's model (status, jobs, seconds);
`rule_view` (the rule, its parameters and that model's status, jobs and slices with a
positive dual) is kept in the database's meta for the API.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from typing import TYPE_CHECKING, Any

from suanwang.market.posted import (
    ALPHA,
    LP_DUAL,
    REVISION_S,
    STEP,
    U0,
    PostedRule,
    dual_target,
    scarcity_target,
    smoothed,
)
from suanwang.market.scarcity import Demand, Duals, capacity_duals

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

log = logging.getLogger("suanwang.service")
HORIZON_H = 24
HOUR_S = 3600.0
RULE_META = "posted_rule"  # meta key: the rule of the last revision (`rule_view`)

Key = tuple[str, str, str, int]  # site, provider, kind, hour


class PostedPrices:
    """Revisions of the posted prices. `start_revision` runs one in a thread of its own (the
    first builds the providers' price table and writes a day of rows, which takes a second
    or two: the scheduler's tick does not wait for it); `revise` runs one here."""

    def __init__(self, live: LiveScheduler, rule: PostedRule | None = None) -> None:
        self.live = live
        self.rule = rule or PostedRule()
        self.last_duals: Duals | None = None
        self._rule_written: str | None = None
        self._posted: dict[Key, dict[str, Any]] | None = None  # as last written
        self._thread: threading.Thread | None = None

    def start_revision(self, now_s: float) -> bool:
        """Revise in the background unless a revision is still running (then: False)."""
        if self._thread is not None and self._thread.is_alive():
            return False

        def run() -> None:
            try:
                self.revise(now_s)
            except Exception:  # posted prices never stop the scheduler
                log.exception("revising the posted prices failed")

        self._thread = threading.Thread(target=run, name="suanwang-posted-prices",
                                        daemon=True)
        self._thread.start()
        return True

    def rule_view(self) -> dict[str, Any]:
        """The rule in force and its parameters (served with the prices; stored in the
        database's meta so API replicas serve the scheduler's)."""
        out: dict[str, Any] = {
            "scarcity_source": self.rule.scarcity_source,
            "yuan_per_t_co2": self.rule.yuan_per_t_co2, "rule": self.rule.describe(),
            "alpha": ALPHA, "u0": U0, "step": STEP, "revision_s": REVISION_S,
            "horizon_h": HORIZON_H}
        d = self.last_duals
        if d is not None:
            out["model"] = {"status": d.status, "relaxed": d.relaxed, "jobs": d.n_jobs,
                            "slices_with_positive_dual": int((d.yuan_per_unit_h > 1e-9)
                                                             .any(axis=1).sum())}
        return out

    def quote(self, slice_: int, start_s: float, end_s: float, now_s: float) -> float:
        """Yuan per unit-hour of a job accepting the posted price that computes in `slice_`
        over [start_s, end_s): the posted prices of the hours it touches, weighted by its
        time in each (an hour not posted yet, or before the first revision: its floor)."""
        live = self.live
        topo = live.topology
        prov, kind = topo.slices[slice_]
        site = topo.site_ids[topo.slice_site[slice_]]
        posted = self._posted or {}
        state = live.scheduler.state
        if end_s <= start_s:
            end_s = start_s + 1e-6
        total = weighted = 0.0
        for h in range(int(start_s // HOUR_S), math.ceil(end_s / HOUR_S)):
            t0, t1 = max(start_s, h * HOUR_S), min(end_s, (h + 1) * HOUR_S)
            if t1 <= t0:
                continue
            got = posted.get((site, prov.id, kind.value, h))
            price = (got["price_yuan_per_unit_h"] if got is not None else
                     float(state.unit_price_of_slice(slice_, h * HOUR_S, (h + 1) * HOUR_S,
                                                     now_s)))
            weighted += price * (t1 - t0)
            total += t1 - t0
        return weighted / total

    def wait(self, timeout_s: float = 30.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def revise(self, now_s: float) -> int:
        """Post the prices of the current hour and the next HORIZON_H; the rows written."""
        live = self.live
        store = live.store.market
        h0 = int(now_s // HOUR_S)
        hours = range(h0, h0 + HORIZON_H + 1)
        if self._posted is None:
            self._posted = {k: {"price_yuan_per_unit_h": r.price_yuan_per_unit_h,
                                "first_posted_s": r.first_posted_s, "revisions": r.revisions}
                            for k, r in store.prices(list(hours)).items()}
        with live.lock:  # a snapshot of what is booked; the rest runs beside the scheduler
            topo = live.topology
            state = live.scheduler.state
            booked: dict[int, list[tuple[float, int]]] = {}
            for r in live.scheduler.running.values():
                if r.slice >= 0:
                    booked.setdefault(r.slice, []).append((r.end_s, r.job.units))
            demand = (Demand.of(live.scheduler, now_s)
                      if self.rule.scarcity_source == LP_DUAL else None)
        duals = None
        if demand is not None:  # solved here, outside the scheduler's lock
            duals = self.last_duals = capacity_duals(demand, self.rule.yuan_per_t_co2)
        rows: list[dict[str, Any]] = []
        for sl, (prov, kind) in enumerate(topo.slices):
            cap = topo.slice_capacity[sl]
            if cap <= 0:
                continue
            site = topo.site_ids[topo.slice_site[sl]]
            for h in hours:
                t0 = h * HOUR_S
                floor = float(state.unit_price_of_slice(sl, t0, t0 + HOUR_S, now_s))
                units = sum(u for end, u in booked.get(sl, ()) if end > t0)
                util = min(units / cap, 1.0)
                target = (dual_target(floor, duals.at(sl, h)) if duals is not None
                          else scarcity_target(floor, util))
                key = (site, prov.id, kind.value, h)
                prev = self._posted.get(key)
                price = smoothed(prev["price_yuan_per_unit_h"] if prev else None, floor,
                                 target)
                if prev is not None and abs(price - prev["price_yuan_per_unit_h"]) < 1e-9:
                    continue
                rows.append({
                    "site": site, "provider": prov.id, "kind": kind.value, "hour": h,
                    "floor_yuan_per_unit_h": floor,
                    "scarcity_yuan_per_unit_h": price - floor,
                    "price_yuan_per_unit_h": price, "utilisation": util,
                    "first_posted_s": prev["first_posted_s"] if prev else now_s,
                    "revised_s": now_s,
                    "revisions": prev["revisions"] + 1 if prev else 0})
        store.write_prices(rows)
        view = json.dumps(self.rule_view())
        if view != self._rule_written:  # the meta row is rewritten only when it changes
            live.store.set_meta(RULE_META, view)
            self._rule_written = view
        for r in rows:
            self._posted[(r["site"], r["provider"], r["kind"], r["hour"])] = {
                "price_yuan_per_unit_h": r["price_yuan_per_unit_h"],
                "first_posted_s": r["first_posted_s"], "revisions": r["revisions"]}
        for k in [k for k in self._posted if k[3] < h0]:  # hours gone: kept in the database
            del self._posted[k]
        return len(rows)


__all__ = ["ALPHA", "HORIZON_H", "STEP", "U0", "PostedPrices", "PostedRule", "dual_target",
           "scarcity_target", "smoothed"]
