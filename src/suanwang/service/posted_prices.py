"""Posted prices (issue 13 item 1): per (site, provider, kind, run-clock hour), a day ahead,
revised at every market round (`ROUND_S` of the run clock) and once when the scheduler starts.

The rule (utilisation-based scarcity; the rolling planner's LP duals are not reachable from
the live scheduler without solving its LP in the tick, so they are not used):

- **floor** f: the provider's price item in force that hour (time-of-use applied), or for an
  energy-priced provider the forecast electricity cost of one busy unit
  (`SchedulerState.unit_price_of_slice`);
- **booked utilisation** u of the hour: units of the slice held that hour by the jobs placed
  or running now (each holds its units until its end) over the slice's offered units;
- **scarcity target** s* = f x ALPHA x max(0, u - U0) / (1 - U0): nothing below U0, up to
  ALPHA x the floor when the slice is fully booked;
- **smoothing**: the posted price p moves toward f + s* by at most STEP x f per revision
  (p' = p + clip(f + s* - p, -STEP f, +STEP f)), never below the floor; an hour posted for the
  first time takes f + s* at once.

Parameters: HORIZON_H = 24 hours ahead (plus the current hour), ALPHA = 1.0, U0 = 0.6,
STEP = 0.10; the rule is `market.posted`'s (`scarcity_target`, `smoothed`), the one the
simulator's posted-price mechanism revises by. Every hour's row is kept (its last revision:
price, floor, scarcity, utilisation, how many times it moved), so the history is the price
each hour was last posted at.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from suanwang.market.posted import ALPHA, STEP, U0, scarcity_target, smoothed

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

log = logging.getLogger("suanwang.service")
HORIZON_H = 24
HOUR_S = 3600.0

Key = tuple[str, str, str, int]  # site, provider, kind, hour


class PostedPrices:
    """Revisions of the posted prices. `start_revision` runs one in a thread of its own (the
    first builds the providers' price table and writes a day of rows, which takes a second
    or two: the scheduler's tick does not wait for it); `revise` runs one here."""

    def __init__(self, live: LiveScheduler) -> None:
        self.live = live
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
                target = scarcity_target(floor, util)
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
        for r in rows:
            self._posted[(r["site"], r["provider"], r["kind"], r["hour"])] = {
                "price_yuan_per_unit_h": r["price_yuan_per_unit_h"],
                "first_posted_s": r["first_posted_s"], "revisions": r["revisions"]}
        for k in [k for k in self._posted if k[3] < h0]:  # hours gone: kept in the database
            del self._posted[k]
        return len(rows)


__all__ = ["ALPHA", "HORIZON_H", "STEP", "U0", "PostedPrices", "scarcity_target", "smoothed"]
