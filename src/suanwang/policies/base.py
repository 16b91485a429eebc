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
from collections.abc import Iterator, Sequence

from suanwang.core.policy import Decision, Unplaced
from suanwang.core.provider_choice import expected_bill
from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.energy.series import HOUR_S
from suanwang.model import Job, Placement


class Ranking:
    """Offers best first with their scores, as two parallel lists (iterates as pairs)."""

    __slots__ = ("_min_egress", "offers", "scores")

    def __init__(self, scores: list[float], offers: list[Offer]) -> None:
        self.scores = scores
        self.offers = offers
        self._min_egress: float | None = None

    @property
    def min_egress(self) -> float:
        """The least egress price of the offers (a floor under any offer's egress)."""
        if self._min_egress is None:
            self._min_egress = min((c.egress_yuan_per_gb for c in self.offers), default=0.0)
        return self._min_egress

    def __iter__(self) -> Iterator[tuple[float, Offer]]:
        return zip(self.scores, self.offers, strict=True)

    def __len__(self) -> int:
        return len(self.offers)


class RankingPolicy:
    name = "ranking"
    score_label = ""  # what score() measures, for reasons ("g CO2/unit-h")
    score_is_price = False  # score() is the tenant's price per unit-hour: rank by bill
    # (otherwise the score must not depend on the provider: it is computed once per pool)
    _rank_hour = -1

    def __init__(self) -> None:
        # value: (the offer list itself, its ranking). Holding the list keeps it alive, so
        # its id (part of the key) cannot be reused by another list while the entry exists.
        self._rank_cache: dict[tuple[int, int, int],
                               tuple[list[Offer], Ranking]] = {}
        self._held: dict[tuple[str, int], int] = {}  # tenant units placed in this decision
        self._pool_free: list[int] = []  # free units per pool in this decision
        self._rtt_cache: dict[int, tuple[list[Offer], Ranking]] = {}
        self._group_cache: dict[int, tuple[list[Offer], list[list[Offer]]]] = {}
        self._single = False  # deciding one job: read the state's lists, do not copy them
        self._reason_cache: dict[tuple[int, float, float, int], str] = {}

    def score(self, state: SchedulerState, view: ForecastView, job: Job, cand: Offer,
              start_s: float) -> float:
        raise NotImplementedError

    def ranked(self, state: SchedulerState, job: Job, cands: list[Offer],
               now_s: float) -> Ranking:
        """(score, offer) pairs, best first. Default: nearest first, score = rtt.

        A score may depend on the job only through the hours its run covers if it started
        now (the data transfer, minutes, is left out of ranking): rankings are cached per
        forecast issue, offer list and run window.
        """
        if type(self).score is RankingPolicy.score:
            hit = self._rtt_cache.get(id(cands))
            if hit is not None and hit[0] is cands:
                return hit[1]
            pairs = Ranking([c.rtt_ms for c in cands], cands)
            if len(self._rtt_cache) > 4096:
                self._rtt_cache.clear()
            self._rtt_cache[id(cands)] = (cands, pairs)
            return pairs
        view = state.forecast(now_s)
        end_s = now_s + job.duration_s
        key = (id(cands), int(now_s // HOUR_S), self.window_end_key(state, cands, now_s, end_s))
        if self._rank_hour != view.issued_hour:
            self._rank_hour = view.issued_hour
            self._rank_cache.clear()
        entry = self._rank_cache.get(key)
        if entry is not None and entry[0] is cands:
            return entry[1]
        scored = self.score_all(state, view, job, cands, now_s)
        self._rank_cache[key] = (cands, scored)
        return scored

    def window_end_key(self, state: SchedulerState, cands: list[Offer], now_s: float,
                       end_s: float) -> int:
        """The part of the rank cache key that stands for the run's end (its hour)."""
        return math.ceil(end_s / HOUR_S)

    def score_all(self, state: SchedulerState, view: ForecastView, job: Job,
                  cands: list[Offer], now_s: float) -> Ranking:
        """(score, offer) of every offer, sorted by (score, rtt, site, slice). This default
        scores once per pool (the score must not depend on the provider) and keeps each
        pool's offers together in slice order."""
        scored_pools = sorted(
            ((self.score(state, view, job, group[0], now_s), group[0].rtt_ms, group[0].site,
              group) for group in self._pool_groups(cands)),
            key=lambda x: (x[0], x[1], x[2]))
        scores = [score for score, _, _, group in scored_pools for _ in group]
        return Ranking(scores, [c for *_, group in scored_pools for c in group])

    def _pool_groups(self, cands: list[Offer]) -> list[list[Offer]]:
        """The offers of `cands` grouped by pool (each group in slice order), cached per
        list."""
        hit = self._group_cache.get(id(cands))
        if hit is not None and hit[0] is cands:
            return hit[1]
        groups: dict[int, list[Offer]] = {}
        for c in cands:
            groups.setdefault(c.pool, []).append(c)
        out = [sorted(g, key=lambda c: c.slice) for g in groups.values()]
        if len(self._group_cache) > 4096:
            self._group_cache.clear()
        self._group_cache[id(cands)] = (cands, out)
        return out

    def choose(self, state: SchedulerState, job: Job, cands: list[Offer],
               free: list[int], now_s: float) -> tuple[Offer, str] | None:
        ranked = self.ranked(state, job, cands, now_s)
        if (not job.providers_prefer and job.max_price_yuan_per_unit_h is None
                and job.max_bill_yuan is None):
            if self.score_is_price and job.data_gb > 0:
                return self._least_bill(state, job, ranked, free, now_s, len(cands))
            return self._first_free(state, job, ranked, free, now_s, len(cands))
        return self._choose_asked(state, job, ranked, free, now_s, len(cands))

    def _least_bill(self, state: SchedulerState, job: Job, ranked: Ranking,
                    free: list[int], now_s: float, n: int) -> tuple[Offer, str] | None:
        """The offer with room and the least expected bill (price x units x hours + egress),
        walking offers by price and stopping once no later one can beat the best."""
        units = job.units
        duration = job.duration_s
        uh = units * duration / HOUR_S
        data = job.data_gb
        floor = data * ranked.min_egress
        pool_free = self._pool_free
        drained = state.drained
        deadline = math.inf if job.deadline_s is None else job.deadline_s
        scores, offers = ranked.scores, ranked.offers
        best_bill = late_bill = math.inf
        best = late = -1
        for i in range(len(offers)):
            base = uh * scores[i]
            if base + floor >= best_bill:
                break  # sorted by price: no later offer can beat the best bill
            c = offers[i]
            if free[c.slice] < units or pool_free[c.pool] < units or c.site in drained:
                continue
            if c.capped and not state.tenant_room(job, c.slice, self._held):
                continue
            bill = base + data * c.egress_yuan_per_gb
            if now_s + c.transfer_s(data) + duration > deadline:
                if bill < late_bill:
                    late_bill, late = bill, i
                continue
            if bill < best_bill:
                best_bill, best = bill, i
        pick, bill = (best, best_bill) if best >= 0 else (late, late_bill)
        if pick < 0:
            return None
        c = offers[pick]
        why = self.reason(state, c, scores[pick], n) + f"; expected bill {bill:.4g} yuan"
        return c, why if best >= 0 else why + "; deadline cannot be met"

    def _first_free(self, state: SchedulerState, job: Job, ranked: Ranking,
                    free: list[int], now_s: float, n: int) -> tuple[Offer, str] | None:
        """The plain walk: the first offer with room that meets the deadline."""
        late_pick: tuple[float, Offer] | None = None
        pool_free = self._pool_free
        for score, c in ranked:
            if (free[c.slice] < job.units or pool_free[c.pool] < job.units
                    or c.site in state.drained):
                continue
            if c.capped and not state.tenant_room(job, c.slice, self._held):
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
                      ranked: Ranking, free: list[int], now_s: float,
                      n: int) -> tuple[Offer, str] | None:
        """The walk with the tenant's asks: preference order, price caps, tenant caps, and
        (for a price score) the expected bill with egress."""
        prefer = job.providers_prefer
        hours = job.duration_s / HOUR_S
        by_bill = self.score_is_price
        min_egress = ranked.min_egress
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
                if c.capped and not state.tenant_room(job, c.slice, self._held):
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
        """Why `c` was chosen; the same few texts recur, so they are kept once made."""
        key = (c.slice, c.rtt_ms, score, n)
        cache = self._reason_cache
        why = cache.get(key)
        if why is None:
            site = state.topology.site_ids[c.site]
            if self.score_label:
                why = (f"{self.name}: {site}/{c.provider} best of {n} feasible "
                       f"({score:.4g} {self.score_label})")
            else:
                why = f"{self.name}: {site}/{c.provider} best of {n} feasible ({c.rtt_ms:g} ms)"
            if len(cache) > 65536:
                cache.clear()
            cache[key] = why
        return why

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        decision = Decision()
        self._single = len(pending) == 1
        free = state.free_slice if self._single else list(state.free_slice)
        self._held = {}
        self._pool_free = state.free_units if self._single else list(state.free_units)
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
        if not self._single:  # later jobs of the batch see what this one takes
            free[c.slice] -= job.units
            self._pool_free[c.pool] -= job.units
        if c.capped:
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
