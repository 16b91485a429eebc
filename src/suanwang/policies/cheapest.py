"""`cheapest`: lowest bill for the tenant, started now.

Score: the provider's expected price per unit-hour over the job's run (its price items in
force, time-of-use applied; for the energy-priced implicit provider of a network without
providers, kW per busy unit with PUE x the mean forecast electricity price, as before). Jobs
with input data are ranked by their expected bill, egress included.
"""

from __future__ import annotations

import math

import numpy as np

from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.policies.base import Ranking, RankingPolicy


class CheapestPolicy(RankingPolicy):
    name = "cheapest"
    score_label = "yuan/unit-h"
    score_is_price = True

    def score(self, state: SchedulerState, view: ForecastView, job: Job, cand: Offer,
              start_s: float) -> float:
        end_s = start_s + job.duration_s
        if state.topology.slice_energy_priced[cand.slice]:
            return cand.kw_per_unit_facility * view.mean_price(cand.site, start_s, end_s)
        return state.prices.mean(cand.slice, start_s, end_s)

    def window_end_key(self, state: SchedulerState, cands: list[Offer], now_s: float,
                       end_s: float) -> int:
        """While no price changes over the run, the ranking is the one by the prices of the
        start hour, whatever the run's length: one cache entry serves every such window."""
        arrays = self._arrays.get(id(cands))
        if arrays is not None and arrays[0] is cands and not arrays[2] \
                and state.prices.flat(now_s, end_s):
            return -1
        return math.ceil(end_s / HOUR_S)

    def score_all(self, state: SchedulerState, view: ForecastView, job: Job,
                  cands: list[Offer], now_s: float) -> Ranking:
        """Every offer's price at once (the price table, vectorised; energy-priced offers
        from the forecast), sorted by (price, rtt, site, slice)."""
        arrays = self._arrays.get(id(cands))
        if arrays is None or arrays[0] is not cands:
            energy_priced = state.topology.slice_energy_priced
            rows = np.array([c.slice for c in cands], dtype=np.int64)
            energy = [i for i, c in enumerate(cands) if energy_priced[c.slice]]
            arrays = (cands, rows, energy)
            if len(self._arrays) > 4096:
                self._arrays.clear()
            self._arrays[id(cands)] = arrays
        _, rows, energy = arrays
        end_s = now_s + job.duration_s
        price = state.prices.means(rows, now_s, end_s)
        for i in energy:
            c = cands[i]
            price[i] = c.kw_per_unit_facility * view.mean_price(c.site, now_s, end_s)
        # offer lists are in (rtt, site, slice) order already: a stable sort on price alone
        # gives the (price, rtt, site, slice) order
        order = np.argsort(price, kind="stable")
        return Ranking(price[order].tolist(), [cands[i] for i in order.tolist()])

    def __init__(self) -> None:
        super().__init__()
        self._arrays: dict[int, tuple[list[Offer], np.ndarray, list[int]]] = {}
