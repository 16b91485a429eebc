"""Shared machinery of the greedy policies: rank a job's feasible pools, place it at the best
one with free capacity now.

A ranking policy supplies `score(view, job, cand, start_s)` (lower is better) or none (keep the
nearest-first order). Among pools with free units, one that meets the job's deadline is
preferred; if none does, the best one is taken and the job will be late.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from suanwang.core.policy import Decision, Unplaced
from suanwang.core.state import Candidate, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.energy.series import HOUR_S
from suanwang.model import Job, Placement


class RankingPolicy:
    name = "ranking"
    score_label = ""  # what score() measures, for reasons ("g CO2/unit-h")
    _rank_hour = -1

    def __init__(self) -> None:
        # value: (the candidate list itself, its ranking). Holding the list keeps it alive, so
        # its id (part of the key) cannot be reused by another list while the entry exists.
        self._rank_cache: dict[tuple[int, int, int],
                               tuple[list[Candidate], list[tuple[float, Candidate]]]] = {}

    def score(self, view: ForecastView, job: Job, cand: Candidate, start_s: float) -> float:
        raise NotImplementedError

    def ranked(self, state: SchedulerState, job: Job, cands: list[Candidate],
               now_s: float) -> list[tuple[float, Candidate]]:
        """(score, candidate) pairs, best first. Default: nearest first, score = rtt.

        A score may depend on the job only through the hours its run covers if it started
        now (the data transfer, minutes, is left out of ranking): rankings are cached per
        forecast issue, candidate list and run window.
        """
        if type(self).score is RankingPolicy.score:
            return [(c.rtt_ms, c) for c in cands]
        view = state.forecast(now_s)
        end_s = now_s + job.duration_s
        key = (id(cands), int(now_s // HOUR_S), math.ceil(end_s / HOUR_S))
        if self._rank_hour != view.issued_hour:
            self._rank_hour = view.issued_hour
            self._rank_cache.clear()
        entry = self._rank_cache.get(key)
        if entry is not None and entry[0] is cands:
            return entry[1]
        scored = [(self.score(view, job, c, now_s), c) for c in cands]
        scored.sort(key=lambda sc: (sc[0], sc[1].rtt_ms, sc[1].site))
        self._rank_cache[key] = (cands, scored)
        return scored

    def choose(self, state: SchedulerState, job: Job, cands: list[Candidate],
               free: list[int], now_s: float) -> tuple[Candidate, str] | None:
        late_pick: tuple[float, Candidate] | None = None
        for score, c in self.ranked(state, job, cands, now_s):
            if free[c.pool] < job.units or c.site in state.drained:
                continue
            if job.deadline_s is not None and (
                    now_s + c.transfer_s(job.data_gb) + job.duration_s > job.deadline_s):
                if late_pick is None:
                    late_pick = (score, c)
                continue
            return c, self.reason(state, c, score, len(cands))
        if late_pick is not None:
            score, c = late_pick
            return c, self.reason(state, c, score, len(cands)) + "; deadline cannot be met"
        return None

    def reason(self, state: SchedulerState, c: Candidate, score: float, n: int) -> str:
        site = state.topology.site_ids[c.site]
        if self.score_label:
            return f"{self.name}: {site} best of {n} feasible ({score:.4g} {self.score_label})"
        return f"{self.name}: {site} best of {n} feasible ({c.rtt_ms:g} ms)"

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        decision = Decision()
        free = list(state.free_units)
        topo = state.topology
        for job in pending:
            cands = topo.candidates(job)
            if not cands:
                decision.unplaced.append(Unplaced(job, topo.why_infeasible(job), retry=False))
                continue
            self.place_or_wait(state, job, cands, free, now_s, decision)
        return decision

    def place_or_wait(self, state: SchedulerState, job: Job, cands: list[Candidate],
                      free: list[int], now_s: float, decision: Decision) -> None:
        pick = self.choose(state, job, cands, free, now_s)
        if pick is None:
            decision.unplaced.append(
                Unplaced(job, f"no free capacity at {len(cands)} feasible sites", retry=True))
            return
        c, why = pick
        free[c.pool] -= job.units
        decision.placed.append(Placement(job, state.topology.site_ids[c.site], now_s,
                                         c.transfer_s(job.data_gb), why))
