"""`greenest`: spatial carbon-aware placement — the site with the lowest forecast carbon.

Score: kW per busy unit (with PUE) x mean forecast intensity over the job's run
(g CO2 per unit-hour). Starts now; only the place is chosen.
"""

from __future__ import annotations

from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.model import Job
from suanwang.policies.base import RankingPolicy


class GreenestPolicy(RankingPolicy):
    name = "greenest"
    score_label = "g CO2/unit-h"

    def score(self, state: SchedulerState, view: ForecastView, job: Job, cand: Offer,
              start_s: float) -> float:
        return cand.kw_per_unit_facility * view.mean_intensity(cand.site, start_s,
                                                               start_s + job.duration_s)
