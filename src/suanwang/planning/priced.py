"""The decision loop shared by the planning policies (`optimal`, `rolling`).

Both price every option of a job (provider slice and start) by its objective plus the
capacity prices of the slot model (`choose`), and answer through the `Policy` interface like
any other policy: a job whose best option starts now is placed (if the slice has the units
now: the scheduler's live capacity always rules), one whose best option starts later is
deferred to then (the scheduler wakes it and it is decided again), one with no option is
queued until capacity frees, and one no slice could ever serve is rejected with the cause. A
job whose deadline no slice can meet any more runs at once where it is cheapest, and its
reason says so.

The plan chooses the site, the provider and the pool at once: its options are the job's
offered slices (within its allow and deny lists), ordered by its preferences and priced within
its caps by the greedy policies' rule (`suanwang.core.provider_choice`). If the planned slice
cannot take the job now after all (its tenant's cap there is reached, or the units went to a
job decided earlier in the same call), the pool's other providers are tried by that rule
(`slice_in_pool`); if none can, the job waits for capacity like a job with no option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from suanwang.core.policy import Decision, Deferral, Unplaced
from suanwang.core.provider_choice import slice_in_pool
from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.series import HOUR_S
from suanwang.model import Job, Placement
from suanwang.planning.choose import Choice, Options


class PricedPolicy:
    """Subclasses provide `choice` (and may price a batch at once in `prepare`) and may react
    to outcomes."""

    name = "priced"

    def prepare(self, state: SchedulerState, jobs: list[Job], cands: list[list[Offer]],
                now_s: float) -> list[Options | None]:
        """Options of a batch, priced together (default: none, `choice` works alone)."""
        return [None] * len(jobs)

    def choice(self, state: SchedulerState, job: Job, options: Options | None,
               free: list[int], now_s: float) -> Choice | None:
        """The job's choice; `free` holds the units a job can take now per slice, as of this
        decision (the slice's free units, at most its pool's)."""
        raise NotImplementedError

    def defer_until(self, job: Job, choice: Choice, now_s: float) -> float:
        """When a job planned to start later is woken to be decided again."""
        return choice.placed_s

    def placed(self, job: Job, choice: Choice, now_s: float) -> None:
        """Called for each job placed now."""

    def deferred(self, job: Job, choice: Choice, until_s: float) -> None:
        """Called for each job deferred."""

    def order(self, pending: Sequence[Job], now_s: float) -> list[Job]:
        """The order in which a batch is decided: real-time jobs first, then by deadline."""
        return sorted(pending, key=lambda j: (
            j.rtt_bound_ms is None and j.deadline_s is not None,
            j.deadline_s - j.duration_s if j.deadline_s is not None else now_s))

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        decision = Decision()
        free = list(state.free_units)
        free_slice = list(state.free_slice)
        held: dict[tuple[str, int], int] = {}
        topo = state.topology
        room: list[int] = np.minimum(np.asarray(free_slice),
                                     np.asarray(free)[topo.slice_pool]).tolist()
        jobs: list[Job] = []
        cands: list[list[Offer]] = []
        for job in self.order(pending, now_s):
            c = topo.offers(job)
            if c:
                jobs.append(job)
                cands.append(c)
            else:
                decision.unplaced.append(Unplaced(job, topo.why_infeasible(job), retry=False))
                self.forget(job)
        capped = [i for i, cap in enumerate(topo.slice_cap) if cap is not None]
        for job, c, opt in zip(jobs, cands, self.prepare(state, jobs, cands, now_s),
                               strict=True):
            ch = self.choice(state, job, opt, _tenant_room(state, job, room, capped, held),
                             now_s)
            if ch is None:
                decision.unplaced.append(Unplaced(
                    job, f"no free capacity at {len({o.site for o in c})} feasible sites",
                    retry=True))
                continue
            site = topo.site_ids[ch.cand.site]
            if ch.now:
                transfer = ch.cand.transfer_s(job.data_gb)
                sl: int | None = ch.cand.slice
                if not (room[sl] >= job.units and state.tenant_room(job, sl, held)):
                    sl = None if free[ch.cand.pool] < job.units else slice_in_pool(
                        state, job, ch.cand.pool, free_slice, now_s, now_s + transfer, held)
                if sl is None:
                    decision.unplaced.append(Unplaced(
                        job, f"{self.name}: planned at {site}, where no provider it may use "
                             "has room now", retry=True))
                    continue
                if sl != ch.cand.slice:  # overflow within the pool: the slice taken
                    ch = replace(ch, cand=next(o for o in c if o.slice == sl))
                free[ch.cand.pool] -= job.units
                free_slice[sl] -= job.units
                for i in topo.pool_slices[ch.cand.pool]:
                    room[i] = min(free_slice[i], free[ch.cand.pool])
                if topo.slice_cap[sl] is not None:
                    held[(job.tenant, sl)] = held.get((job.tenant, sl), 0) + job.units
                provider = topo.slice_provider[sl]
                why = f"{self.name}: {site}/{provider} ({ch.cost:.4g} incl. capacity price)"
                if job.providers_prefer:
                    why += (f"; preferred provider {provider}" if provider in job.providers_prefer
                            else "; overflow: no preferred provider has room")
                if ch.late:
                    why += "; deadline cannot be met"
                decision.placed.append(Placement(job, site, now_s, transfer, why, provider))
                self.placed(job, ch, now_s)
            else:
                until = self.defer_until(job, ch, now_s)
                decision.deferred.append(Deferral(
                    job, until, f"{self.name}: planned at {site}/{ch.cand.provider} in "
                                f"{(ch.placed_s - now_s) / HOUR_S:.1f} h ({ch.cost:.4g})"))
                self.deferred(job, ch, until)
        return decision

    def forget(self, job: Job) -> None:
        """A job leaves the policy's hands (rejected)."""


def _tenant_room(state: SchedulerState, job: Job, room: list[int], capped: list[int],
                 held: dict[tuple[str, int], int]) -> list[int]:
    """`room` as the job's tenant sees it: at a slice with a per-tenant cap, at most what the
    cap leaves the tenant (`held`: units placed earlier in the same decision). Without it a
    job whose tenant is at the cap of its best slice would plan to start there now, be refused,
    and plan the same at every retry."""
    out = room
    for sl in capped:
        key = (job.tenant, sl)
        left = max(state.topology.slice_cap[sl] - state.tenant_units.get(key, 0)
                   - held.get(key, 0), 0)
        if left < out[sl]:
            if out is room:
                out = list(room)
            out[sl] = left
    return out
