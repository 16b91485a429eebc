"""`cheapest`: lowest forecast electricity cost of the job, started now.

Score: kW per busy unit (with PUE) x mean forecast price over the job's run (yuan per unit-hour).
"""

from __future__ import annotations

from suanwang.core.state import Candidate
from suanwang.energy.forecast import ForecastView
from suanwang.model import Job
from suanwang.policies.base import RankingPolicy


class CheapestPolicy(RankingPolicy):
    name = "cheapest"
    score_label = "yuan/unit-h"

    def score(self, view: ForecastView, job: Job, cand: Candidate, start_s: float) -> float:
        return cand.kw_per_unit_facility * view.mean_price(cand.site, start_s,
                                                           start_s + job.duration_s)
