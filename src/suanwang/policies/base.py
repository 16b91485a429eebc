"""Shared machinery of the greedy policies: rank a job's offers (provider pools at sites), place
it at the best one with free capacity now.

A ranking policy supplies `score(state, view, job, offer, start_s)` (lower is better) or none
(keep the nearest-first order). Among offers with free units, one that meets the job's
deadline is preferred; if none does, the best one is taken and the job will be late.

What the tenant asks is honoured on the way: offers of providers its lists exclude are never
ranked (`Topology.offers`); an offer above its price cap (per unit-hour, or on the whole
expected bill) or over its tenant's cap at that provider is skipped; its preferred providers
are tried first, in its order, and only when none of them can take it does it overflow to the
policy's ranking of the others. A policy whose score is the tenant's price (`cheapest`) ranks
by the expected bill, egress of the input data included. The reason says which provider, and
why not a preferred one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from suanwang.core.policy import Decision, Unplaced
from suanwang.core.provider_choice import expected_bill
from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.energy.series import HOUR_S
from suanwang.model import Job, Placement


class RankingPolicy:
    name = "ranking"
    score_label = ""  # what score() measures, for reasons ("g CO2/unit-h")
    score_is_price = False  # score() is the tenant's price per unit-hour: rank by bill
    _rank_hour = -1

    def __init__(self) -> None:
        # value: (the offer list itself, its ranking). Holding the list keeps it alive, so
        # its id (part of the key) cannot be reused by another list while the entry exists.
        self._rank_cache: dict[tuple[int, int, int],
                               tuple[list[Offer], list[tuple[float, Offer]]]] = {}
        self._held: dict[tuple[str, int], int] = {}  # tenant units placed in this decision
        self._pool_free: list[int] = []  # free units per pool in this decision

    def score(self, state: SchedulerState, view: ForecastView, job: Job, cand: Offer,
              start_s: float) -> float:
        raise NotImplementedError

    def ranked(self, state: SchedulerState, job: Job, cands: list[Offer],
               now_s: float) -> list[tuple[float, Offer]]:
        """(score, offer) pairs, best first. Default: nearest first, score = rtt.

        A score may depend on the job only through the hours its run covers if it started
        now (the data transfer, minutes, is left out of ranking): rankings are cached per
        forecast issue, offer list and run window.
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
        scored = [(self.score(state, view, job, c, now_s), c) for c in cands]
        scored.sort(key=lambda sc: (sc[0], sc[1].rtt_ms, sc[1].site, sc[1].slice))
        self._rank_cache[key] = (cands, scored)
        return scored

    def choose(self, state: SchedulerState, job: Job, cands: list[Offer],
               free: list[int], now_s: float) -> tuple[Offer, str] | None:
        ranked = self.ranked(state, job, cands, now_s)
        if (not job.providers_prefer and job.max_price_yuan_per_unit_h is None
                and job.max_bill_yuan is None and not state.topology.has_tenant_caps
                and not (self.score_is_price and job.data_gb > 0)):
            return self._first_free(state, job, ranked, free, now_s, len(cands))
        return self._choose_asked(state, job, ranked, free, now_s, len(cands))

    def _first_free(self, state: SchedulerState, job: Job, ranked: list[tuple[float, Offer]],
                    free: list[int], now_s: float, n: int) -> tuple[Offer, str] | None:
        """The plain walk: the first offer with room that meets the deadline."""
        late_pick: tuple[float, Offer] | None = None
        pool_free = self._pool_free
        for score, c in ranked:
            if (free[c.slice] < job.units or pool_free[c.pool] < job.units
                    or c.site in state.drained):
                continue
            if job.deadline_s is not None and (
                    now_s + c.transfer_s(job.data_gb) + job.duration_s > job.deadline_s):
                if late_pick is None:
                    late_pick = (score, c)
                continue
            return c, self.reason(state, c, score, n)
        if late_pick is not None:
            score, c = late_pick
            return c, self.reason(state, c, score, n) + "; deadline cannot be met"
        return None

    def _choose_asked(self, state: SchedulerState, job: Job,
                      ranked: list[tuple[float, Offer]], free: list[int], now_s: float,
                      n: int) -> tuple[Offer, str] | None:
        """The walk with the tenant's asks: preference order, price caps, tenant caps, and
        (for a price score) the expected bill with egress."""
        prefer = job.providers_prefer
        hours = job.duration_s / HOUR_S
        by_bill = self.score_is_price
        min_egress = min((c.egress_yuan_per_gb for _, c in ranked), default=0.0)
        capped = 0
        notes: list[str] = []
        for rank, pid in enumerate([*prefer, None]):
            best: tuple[float, float, Offer] | None = None  # (bill or order, score, offer)
            late: tuple[float, float, Offer] | None = None
            for order, (score, c) in enumerate(ranked):
                if pid is not None and c.provider != pid:
                    continue
                if pid is None and c.provider in prefer:
                    continue
                if by_bill and best is not None and (
                        expected_bill(job.units, hours, score, job.data_gb, min_egress)
                        >= best[0]):
                    break  # sorted by price: no later offer can beat the best bill
                if (free[c.slice] < job.units or self._pool_free[c.pool] < job.units
                        or c.site in state.drained):
                    continue
                if not state.tenant_room(job, c.slice, self._held):
                    continue
                start_s = now_s + c.transfer_s(job.data_gb)
                price = score if by_bill else None
                if job.max_price_yuan_per_unit_h is not None or job.max_bill_yuan is not None:
                    if price is None:
                        price = state.unit_price(c, start_s, start_s + job.duration_s, now_s)
                    bill = expected_bill(job.units, hours, price, job.data_gb,
                                         c.egress_yuan_per_gb)
                    if ((job.max_price_yuan_per_unit_h is not None
                         and price > job.max_price_yuan_per_unit_h + 1e-12)
                            or (job.max_bill_yuan is not None
                                and bill > job.max_bill_yuan + 1e-9)):
                        capped += 1
                        continue
                key = (expected_bill(job.units, hours, score, job.data_gb,
                                     c.egress_yuan_per_gb) if by_bill else float(order))
                timely = job.deadline_s is None or (
                    start_s + job.duration_s <= job.deadline_s)
                if timely:
                    if best is None or key < best[0]:
                        best = (key, score, c)
                    if not by_bill:
                        break
                elif late is None or key < late[0]:
                    late = (key, score, c)
            pick = best or late
            if pick is None:
                if pid is not None:
                    notes.append(f"preferred {pid} has no room")
                continue
            _, score, c = pick
            why = self.reason(state, c, score, n)
            if by_bill:
                why += (f"; expected bill {pick[0]:.4g} yuan")
            if pid is not None:
                why += f"; preferred provider {pid}" + (f" (#{rank + 1})" if rank else "")
            elif prefer:
                why += f"; overflow: {', '.join(notes) if notes else 'no preferred room'}"
            if capped:
                why += f"; {capped} offers over the price cap skipped"
            if best is None:
                why += "; deadline cannot be met"
            return c, why
        return None

    def reason(self, state: SchedulerState, c: Offer, score: float, n: int) -> str:
        site = state.topology.site_ids[c.site]
        if self.score_label:
            return (f"{self.name}: {site}/{c.provider} best of {n} feasible "
                    f"({score:.4g} {self.score_label})")
        return f"{self.name}: {site}/{c.provider} best of {n} feasible ({c.rtt_ms:g} ms)"

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        decision = Decision()
        free = list(state.free_slice)
        self._held = {}
        self._pool_free = list(state.free_units)
        topo = state.topology
        for job in pending:
            cands = topo.offers(job)
            if not cands:
                decision.unplaced.append(Unplaced(job, topo.why_infeasible(job), retry=False))
                continue
            self.place_or_wait(state, job, cands, free, now_s, decision)
        return decision

    def place_or_wait(self, state: SchedulerState, job: Job, cands: list[Offer],
                      free: list[int], now_s: float, decision: Decision) -> None:
        pick = self.choose(state, job, cands, free, now_s)
        if pick is None:
            decision.unplaced.append(Unplaced(job, self.why_waiting(job, cands), retry=True))
            return
        c, why = pick
        free[c.slice] -= job.units
        self._pool_free[c.pool] -= job.units
        if state.topology.slice_cap[c.slice] is not None:
            key = (job.tenant, c.slice)
            self._held[key] = self._held.get(key, 0) + job.units
        decision.placed.append(Placement(job, state.topology.site_ids[c.site], now_s,
                                         c.transfer_s(job.data_gb), why, c.provider))

    @staticmethod
    def why_waiting(job: Job, cands: list[Offer]) -> str:
        sites = len({c.site for c in cands})
        why = f"no free capacity at {sites} feasible sites"
        if job.max_price_yuan_per_unit_h is not None or job.max_bill_yuan is not None:
            why += " within the job's price cap"
        return why
