"""Which provider of a site a job takes, when its policy chose the site's pool only (the
planning policies, and placements that name no provider).

The same rule as the greedy policies' walk over offers: the pool's slices that the job's
provider lists allow, with the units free and room under its tenant's cap there; its preferred
providers first, in its order; then the cheapest for its bill (the unit price expected over
the run times units and hours, plus egress for its input data); a price cap excludes a slice
above it.
"""

from __future__ import annotations

from suanwang.core.state import SchedulerState
from suanwang.model import Job


def expected_bill(units: int, hours: float, unit_price: float, data_gb: float,
                  egress_yuan_per_gb: float) -> float:
    return units * hours * unit_price + data_gb * egress_yuan_per_gb


def slice_in_pool(state: SchedulerState, job: Job, pool: int, free_slice: list[int],
                  now_s: float, start_s: float,
                  held: dict[tuple[str, int], int] | None = None) -> int | None:
    """The slice of `pool` the job takes, decided at `now_s`, if it starts computing at
    `start_s`; None if no slice of the pool can take it now."""
    topo = state.topology
    allow, deny = job.providers_allow, job.providers_deny
    end_s = start_s + job.duration_s
    hours = job.duration_s / 3600.0
    eligible = [i for i in topo.pool_slices[pool]
                if free_slice[i] >= job.units and topo.slice_provider[i] not in deny
                and (not allow or topo.slice_provider[i] in allow)
                and state.tenant_room(job, i, held or {})]
    if len(eligible) <= 1 and job.max_price_yuan_per_unit_h is None \
            and job.max_bill_yuan is None:
        return eligible[0] if eligible else None
    best: tuple[int, float, int] | None = None  # (preference rank, bill, slice)
    n_pref = len(job.providers_prefer)
    for i in eligible:
        prov = topo.slice_provider[i]
        price = state.unit_price_of_slice(i, start_s, end_s, now_s)
        cap = job.max_price_yuan_per_unit_h
        if cap is not None and price > cap + 1e-12:
            continue
        bill = expected_bill(job.units, hours, price, job.data_gb, topo.slice_egress[i])
        if job.max_bill_yuan is not None and bill > job.max_bill_yuan + 1e-9:
            continue
        rank = job.providers_prefer.index(prov) if prov in job.providers_prefer else n_pref
        key = (rank, bill, i)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]
