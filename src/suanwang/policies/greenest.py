"""`greenest`: spatial carbon-aware placement — the site with the lowest forecast carbon.

Score: kW per busy unit (with PUE) x mean forecast intensity over the job's run
(g CO2 per unit-hour). Starts now; only the place is chosen.
"""

from __future__ import annotations

import math

from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.policies.base import Ranking, RankingPolicy


class GreenestPolicy(RankingPolicy):
    name = "greenest"
    score_label = "g CO2/unit-h"

    def score(self, state: SchedulerState, view: ForecastView, job: Job, cand: Offer,
              start_s: float) -> float:
        return cand.kw_per_unit_facility * view.mean_intensity(cand.site, start_s,
                                                               start_s + job.duration_s)

    def window_end_key(self, state: SchedulerState, view: ForecastView, cands: list[Offer],
                       now_s: float, end_s: float) -> int:
        """The mean over the run counts its hours within the forecast horizon only: every run
        ending past the horizon ranks alike (one cache entry)."""
        return min(math.ceil(end_s / HOUR_S), view.issued_hour + view.horizon_h)

    def score_all(self, state: SchedulerState, view: ForecastView, job: Job,
                  cands: list[Offer], now_s: float) -> Ranking:
        """`RankingPolicy.score_all` with this score computed inline: the run's forecast
        hours once, then kW x mean intensity per pool (the same arithmetic as `score`)."""
        if type(self).score is not GreenestPolicy.score:
            return super().score_all(state, view, job, cands, now_s)
        k0, k1 = view.hours(now_s, now_s + job.duration_s)
        span = k1 - k0
        cum = view.cum_intensity
        pools = []
        for group in self._pool_groups(cands):
            c = group[0]
            row = cum[c.site]
            pools.append((c.kw_per_unit_facility * ((row[k1] - row[k0]) / span), c.rtt_ms,
                          c.site, group))
        return self.rank_pools(pools)
