"""The price items of every provider pool as an hourly table over a run's clock.

Row r is one (provider, kind) at a site; column h the clock hour [h, h+1) h from the clock's
start. `yuan_per_unit_h[r, h]` is the price in force at the hour's start, time-of-use applied
(items and windows change on whole hours, so the price holds the whole hour when the clock
starts on a whole hour). Energy-priced rows are zero here: their price is the electricity
cost of a unit, which the energy series and forecasts give. The table grows as later hours are
asked for; past the items it extends like `tariff.item_in_force`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from suanwang.model import Kind, Provider
from suanwang.pricing.tariff import CHINA_TZ, PricingError

HOUR_S = 3600.0


def hourly_matrix(rows: Sequence[tuple[Provider, Kind]], clock_start: datetime,
                  hours: int) -> np.ndarray:
    """(rows, hours) yuan per unit-hour; raises `PricingError` for an hour with no item."""
    out = np.zeros((len(rows), hours))
    if hours <= 0:
        return out
    starts = [clock_start + timedelta(hours=h) for h in range(hours)]
    stamps = np.array([t.timestamp() for t in starts])
    local_hour = np.array([t.astimezone(CHINA_TZ).hour for t in starts])
    for r, (prov, kind) in enumerate(rows):
        if prov.energy_priced:
            continue
        items = prov.items(kind)
        if not items:
            if prov.units_of(kind) > 0:
                raise PricingError(f"{prov.id} at {prov.site_id} has no {kind.value} price")
            continue
        eff = np.array([i.effective_from.timestamp() for i in items])
        which = np.searchsorted(eff, stamps, side="right") - 1
        if which[0] < 0:
            raise PricingError(f"{prov.id} at {prov.site_id}, {kind.value}: no price in force "
                               f"at {starts[0].isoformat()} (the first item is effective from "
                               f"{items[0].effective_from.isoformat()})")
        base = np.array([i.yuan_per_unit_h for i in items])[which]
        factor = np.ones(hours)
        for k, item in enumerate(items):
            for w in item.tou:
                factor[(which == k) & (local_hour >= w.from_h) & (local_hour < w.to_h)] = w.factor
        out[r] = base * factor
    return out


class PriceTable:
    """Hourly prices of `rows` over the clock from `clock_start`, with their running integral
    (`cum[r, h]` = yuan per unit over hours 0..h-1), grown on demand."""

    def __init__(self, rows: list[tuple[Provider, Kind]], clock_start: datetime,
                 hours: int = 24 * 40) -> None:
        self.rows = rows
        self.clock_start = clock_start
        self.energy_priced = np.array([p.energy_priced for p, _ in self.rows], dtype=bool)
        self.egress_yuan_per_gb = np.array([p.egress_yuan_per_gb for p, _ in self.rows])
        self._build(max(hours, 1))

    def _build(self, hours: int) -> None:
        self._adopt(hourly_matrix(self.rows, self.clock_start, hours))

    def _adopt(self, yuan_per_unit_h: np.ndarray) -> None:
        """Take `yuan_per_unit_h` (rows x hours) as the table's prices; derive the rest."""
        hours = yuan_per_unit_h.shape[1]
        self.yuan_per_unit_h = yuan_per_unit_h
        self.cum = np.concatenate([np.zeros((len(self.rows), 1)),
                                   np.cumsum(self.yuan_per_unit_h, axis=1)], axis=1)
        self.hours = hours
        self.cum_rows: list[list[float]] = self.cum.tolist()
        self.price_rows: list[list[float]] = self.yuan_per_unit_h.tolist()
        # next_change[h]: the first hour after h at which some row's price differs from the
        # hour before (hours hours+1.. never change: the last hour's prices hold)
        moved = np.flatnonzero((self.yuan_per_unit_h[:, 1:]
                                != self.yuan_per_unit_h[:, :-1]).any(axis=0)) + 1
        nxt = np.full(hours, 2**62, dtype=np.int64)
        if len(moved):
            at = np.searchsorted(moved, np.arange(hours), side="right")
            ok = at < len(moved)
            nxt[ok] = moved[at[ok]]
        self.next_change: list[int] = nxt.tolist()
        self._covered_s = (hours - 1) * HOUR_S

    def ensure(self, t_s: float) -> None:
        """Make the table cover clock second `t_s`."""
        need = math.ceil(t_s / HOUR_S) + 1
        if need > self.hours:
            self._build(max(need, 2 * self.hours))

    def integral(self, rows: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Yuan per unit from clock second 0 to `t_s` (arrays of equal shape)."""
        t = np.asarray(t_s, dtype=float)
        if t.size:
            self.ensure(float(np.nanmax(t)))
        x = np.clip(t / HOUR_S, 0.0, None)
        k = np.minimum(np.floor(x).astype(np.int64), self.hours - 1)
        return self.cum[rows, k] + self.yuan_per_unit_h[rows, k] * (x - k)

    def mean(self, row: int, a_s: float, b_s: float) -> float:
        """Mean yuan per unit-hour of `row` over [a_s, b_s) (the price at a_s if empty)."""
        if b_s > self._covered_s:
            self.ensure(b_s)
        cum = self.cum_rows[row]
        price = self.price_rows[row]
        xa = (a_s if a_s > 0.0 else 0.0) / HOUR_S
        xb = (b_s if b_s > 0.0 else 0.0) / HOUR_S
        ka, kb = int(xa), int(xb)
        if xb - xa < 1e-9:
            return price[ka]
        return (cum[kb] + price[kb] * (xb - kb) - cum[ka] - price[ka] * (xa - ka)) / (xb - xa)

    def flat(self, a_s: float, b_s: float) -> bool:
        """Whether no row's price changes within [a_s, b_s)."""
        if b_s > self._covered_s:
            self.ensure(b_s)
        return math.ceil(b_s / HOUR_S) <= self.next_change[int(max(a_s, 0.0) // HOUR_S)]

    def means(self, rows: np.ndarray, a_s: float, b_s: float) -> np.ndarray:
        """`mean` of many rows over one window."""
        if b_s > self._covered_s:
            self.ensure(b_s)
        xa = max(a_s, 0.0) / HOUR_S
        xb = max(b_s, 0.0) / HOUR_S
        ka, kb = int(xa), int(xb)
        price = self.yuan_per_unit_h
        if xb - xa < 1e-9:
            return price[rows, ka].copy()
        return (self.cum[rows, kb] + price[rows, kb] * (xb - kb) - self.cum[rows, ka]
                - price[rows, ka] * (xa - ka)) / (xb - xa)
