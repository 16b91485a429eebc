"""`cheapest`: lowest bill for the tenant, started now.

Score: the provider's expected price per unit-hour over the job's run (its price items in
force, time-of-use applied; for the energy-priced implicit provider of a network without
providers, kW per busy unit with PUE x the mean forecast electricity price, as before). Jobs
with input data are ranked by their expected bill, egress included.
"""

from __future__ import annotations

from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.model import Job
from suanwang.policies.base import RankingPolicy


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
