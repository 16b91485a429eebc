"""What a policy sees: the network's fixed topology, free capacity now, and the forecast.

`Topology` numbers sites, pools and provider pools ("slices": one provider's share of a pool,
the units it offers the platform) once and precomputes, per (origin, kind), the candidate
pools and the offers (slices) with their round trip and link bandwidth, so that per-job work
is a short list walk. A pool's capacity is the sum of its slices' offered units. A network
without providers has one slice per pool, numbered as the pools.
`SchedulerState` adds what changes: free units per pool and per slice, units each tenant holds
at slices with a per-tenant cap, drained sites, the forecaster, and the providers' hourly
prices on the run's clock.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from suanwang.core.power_ceiling import PowerCalendar
from suanwang.energy.forecast import Forecaster, ForecastView
from suanwang.model import Job, Kind, Network, Provider
from suanwang.pricing.table import PriceTable

GB_TO_GBIT = 8.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pool a job from some origin could run in."""

    pool: int  # pool index in Topology.pools
    site: int  # site index in Topology.sites / the energy series
    rtt_ms: float
    bandwidth_gbps: float
    capacity_units: int
    kw_per_unit_facility: float  # kW per busy unit including PUE

    def transfer_s(self, data_gb: float) -> float:
        return data_gb * GB_TO_GBIT / self.bandwidth_gbps if data_gb > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Offer(Candidate):
    """One provider's slice of a pool, as a job from some origin sees it; `capacity_units` is
    the slice's offered units."""

    slice: int  # slice index in Topology.slices
    provider: str  # provider id
    egress_yuan_per_gb: float
    capped: bool  # the provider caps the units one tenant may hold here

FilterKey = tuple[str, Kind, float | None, tuple[str, ...], tuple[str, ...]]


class Topology:
    def __init__(self, network: Network) -> None:
        self.network = network
        self.sites = network.sites
        self.site_ids = tuple(s.id for s in network.sites)
        self.pools = network.pools()
        site_index = {s.id: i for i, s in enumerate(network.sites)}
        self.pool_site = [site_index[p.site_id] for p in self.pools]
        self.pool_kind = [p.kind for p in self.pools]
        self._build_slices(network, site_index)
        self.pool_kw_facility = [
            p.kw_per_unit * network.sites[site_index[p.site_id]].pue for p in self.pools
        ]
        self.slice_kw_facility = [self.pool_kw_facility[p] for p in self.slice_pool]
        self.pools_of_kind: dict[Kind, list[int]] = {k: [] for k in Kind}
        for i, p in enumerate(self.pools):
            self.pools_of_kind[p.kind].append(i)
        self._by_origin_kind: dict[tuple[str, Kind], list[Candidate]] = {}
        for r in network.regions:
            for k in Kind:
                cands = [
                    Candidate(
                        pool=i, site=self.pool_site[i],
                        rtt_ms=network.rtt_ms[(r.id, self.pools[i].site_id)],
                        bandwidth_gbps=network.bandwidth_gbps[(r.id, self.pools[i].site_id)],
                        capacity_units=self.pool_capacity[i],
                        kw_per_unit_facility=self.pool_kw_facility[i],
                    )
                    for i in self.pools_of_kind[k]
                ]
                cands.sort(key=lambda c: (c.rtt_ms, c.site))
                self._by_origin_kind[(r.id, k)] = cands
                offers = [
                    Offer(pool=c.pool, site=c.site, rtt_ms=c.rtt_ms,
                          bandwidth_gbps=c.bandwidth_gbps,
                          capacity_units=self.slice_capacity[i],
                          kw_per_unit_facility=c.kw_per_unit_facility, slice=i,
                          provider=self.slice_provider[i],
                          egress_yuan_per_gb=self.slice_egress[i],
                          capped=self.slice_cap[i] is not None)
                    for c in cands for i in self.pool_slices[c.pool]
                    if self.slice_capacity[i] > 0]
                self._offers_by_origin_kind[(r.id, k)] = offers
        self._feasible_cache: dict[tuple[str, Kind, float | None],
                                   tuple[list[Candidate], int]] = {}
        self._offer_cache: dict[FilterKey, tuple[list[Offer], int]] = {}
        self._offer_sizes: dict[FilterKey, list[int]] = {}
        self._offer_big: dict[tuple[FilterKey, int], list[Offer]] = {}
        self._filtered_cands: dict[tuple[FilterKey, int], list[Candidate]] = {}

    def _build_slices(self, network: Network, site_index: dict[str, int]) -> None:
        self.slices: list[tuple[Provider, Kind]] = []
        self.slice_pool: list[int] = []
        self.pool_slices: list[list[int]] = []
        for p, pool in enumerate(self.pools):
            site = network.sites[site_index[pool.site_id]]
            own: list[int] = []
            for prov in site.providers:
                if pool.kind in dict(prov.units):
                    own.append(len(self.slices))
                    self.slices.append((prov, pool.kind))
                    self.slice_pool.append(p)
            self.pool_slices.append(own)
        self.slice_site = [self.pool_site[p] for p in self.slice_pool]
        self.slice_provider = [prov.id for prov, _ in self.slices]
        self.slice_capacity = [prov.offered(k) for prov, k in self.slices]
        self.slice_cap: list[int | None] = [prov.cap_of(k) for prov, k in self.slices]
        self.slice_egress = [prov.egress_yuan_per_gb for prov, _ in self.slices]
        self.slice_energy_priced = [prov.energy_priced for prov, _ in self.slices]
        self.has_tenant_caps = any(c is not None for c in self.slice_cap)
        self.pool_capacity = [sum(self.slice_capacity[i] for i in own)
                              for own in self.pool_slices]
        self.pool_max_slice = [max((self.slice_capacity[i] for i in own), default=0)
                               for own in self.pool_slices]
        self.slice_of: dict[tuple[str, str, Kind], int] = {
            (prov.site_id, prov.id, k): i for i, (prov, k) in enumerate(self.slices)}
        self._offers_by_origin_kind: dict[tuple[str, Kind], list[Offer]] = {}

    def offers(self, job: Job) -> list[Offer]:
        """The slices that could ever serve `job`: its kind, within its round-trip bound,
        allowed by its provider lists, offering at least its units. Nearest first (then site,
        then provider order). The same list object for jobs of one (origin, kind, bound,
        lists) that fit every slice, so callers may cache on it."""
        key = (job.origin, job.kind, job.rtt_bound_ms, job.providers_allow,
               job.providers_deny)
        entry = self._offer_cache.get(key)
        if entry is None:
            allow, deny = set(job.providers_allow), set(job.providers_deny)
            within = [o for o in self._offers_by_origin_kind.get((job.origin, job.kind), [])
                      if (job.rtt_bound_ms is None or o.rtt_ms <= job.rtt_bound_ms)
                      and (not allow or o.provider in allow) and o.provider not in deny]
            entry = (within, min((o.capacity_units for o in within), default=0))
            self._offer_cache[key] = entry
            self._offer_sizes[key] = sorted({o.capacity_units for o in within})
        if job.units <= entry[1]:
            return entry[0]
        # the offers big enough depend on units only through the smallest size >= units:
        # one list per such size, so rankings cached on the list keep serving
        sizes = self._offer_sizes[key]
        at = bisect.bisect_left(sizes, job.units)
        if at == len(sizes):
            return []
        fkey = (key, sizes[at])
        hit = self._offer_big.get(fkey)
        if hit is None:
            hit = self._offer_big[fkey] = [o for o in entry[0]
                                           if o.capacity_units >= sizes[at]]
        return hit

    def reachable(self, origin: str, kind: Kind, rtt_bound_ms: float | None) -> list[Candidate]:
        """Pools of `kind` within the round-trip bound from `origin`, nearest first, whatever
        their size. The same list object for the same arguments."""
        key = (origin, kind, rtt_bound_ms)
        entry = self._feasible_cache.get(key)
        if entry is None:
            within = [x for x in self._by_origin_kind.get((origin, kind), [])
                      if rtt_bound_ms is None or x.rtt_ms <= rtt_bound_ms]
            entry = (within, min((self.pool_max_slice[x.pool] for x in within), default=0))
            self._feasible_cache[key] = entry
        return entry[0]

    def candidates(self, job: Job) -> list[Candidate]:
        """Pools that could ever serve `job`: its kind, big enough, within its round-trip
        bound. Sorted by round trip (nearest first). The same list object is returned for all
        jobs of one (origin, kind, bound) that fit every pool, so callers may cache on it."""
        within = self.reachable(job.origin, job.kind, job.rtt_bound_ms)
        if job.providers_allow or job.providers_deny:
            offers = self.offers(job)
            fkey = ((job.origin, job.kind, job.rtt_bound_ms, job.providers_allow,
                     job.providers_deny), job.units)
            hit = self._filtered_cands.get(fkey)
            if hit is None:
                pools = {o.pool for o in offers}
                hit = self._filtered_cands[fkey] = [x for x in within if x.pool in pools]
            return hit
        if job.units <= self._feasible_cache[(job.origin, job.kind, job.rtt_bound_ms)][1]:
            return within
        big = self.pool_max_slice
        return [x for x in within if big[x.pool] >= job.units]

    def why_infeasible(self, job: Job) -> str:
        all_kind = self._by_origin_kind.get((job.origin, job.kind), [])
        if not all_kind:
            return f"no site has a {job.kind.value} pool reachable from {job.origin}"
        if job.providers_allow or job.providers_deny:
            allow, deny = set(job.providers_allow), set(job.providers_deny)
            ok = [o for o in self._offers_by_origin_kind.get((job.origin, job.kind), [])
                  if (not allow or o.provider in allow) and o.provider not in deny]
            if not ok:
                lists = (f"allow {', '.join(job.providers_allow)}" if allow else "") + (
                    f"{'; ' if allow else ''}deny {', '.join(job.providers_deny)}"
                    if deny else "")
                return f"no provider sells {job.kind.value} units within the job's lists " \
                       f"({lists})"
            if not any(o.capacity_units >= job.units for o in ok):
                largest = max(o.capacity_units for o in ok)
                return (f"needs {job.units} {job.kind.value} units; the largest allowed "
                        f"provider pool offers {largest}")
        big = [x for x in all_kind if self.pool_max_slice[x.pool] >= job.units]
        if not big:
            largest = max(self.pool_max_slice[x.pool] for x in all_kind)
            if largest < max(x.capacity_units for x in all_kind):
                return (f"needs {job.units} {job.kind.value} units; the largest provider "
                        f"pool offers {largest}")
            return f"needs {job.units} {job.kind.value} units; the largest pool has {largest}"
        best = min(x.rtt_ms for x in big)
        return (f"round-trip bound {job.rtt_bound_ms} ms from {job.origin}: "
                f"the nearest site large enough is {best} ms away")


class SchedulerState:
    """Mutable scheduling state, owned by a driver (the simulator or the service)."""

    def __init__(self, topology: Topology, forecaster: Forecaster) -> None:
        self.topology = topology
        self.forecaster = forecaster
        self.free_units: list[int] = list(topology.pool_capacity)
        self.free_slice: list[int] = list(topology.slice_capacity)
        # per pool, the most free units of any one of its slices (what one job can get there)
        self.pool_room: list[int] = [0] * len(topology.pools)
        for p in range(len(topology.pools)):
            self.update_room(p)
        self.tenant_units: dict[tuple[str, int], int] = {}  # (tenant, slice) at capped slices
        self.drained: set[int] = set()  # site indices taking no new work
        # provider slices taking no new work (their own backend is down): their free units
        # are withheld here, so that every policy sees none free
        self.withheld: dict[int, int] = {}
        self._prices: PriceTable | None = None
        # grid events known now (the scheduler's calendar, set from an event's notice on:
        # `Scheduler.set_power`), and per slice the free units its ceilings hold back from
        # `free_slice` now: what planners need to plan around them (`planning.grid_rows`)
        self.power: PowerCalendar | None = None
        self.power_withheld_slice: list[int] | None = None

    def forecast(self, now_s: float) -> ForecastView:
        return self.forecaster.view(now_s)

    @property
    def prices(self) -> PriceTable:
        """The providers' hourly prices on the run's clock (built on first use)."""
        if self._prices is None or self._prices.rows is not self.topology.slices:
            self._prices = PriceTable(self.topology.slices, self.forecaster.series.start_utc,
                                      self.forecaster.series.hours)
        return self._prices

    def unit_price(self, offer: Offer, start_s: float, end_s: float, now_s: float) -> float:
        """Expected yuan per unit-hour of `offer` over [start_s, end_s), as known at `now_s`:
        its price items, or for an energy-priced provider the forecast electricity cost of a
        unit."""
        return self.unit_price_of_slice(offer.slice, start_s, end_s, now_s)

    def unit_price_of_slice(self, slice_: int, start_s: float, end_s: float,
                            now_s: float) -> float:
        topo = self.topology
        if topo.slice_energy_priced[slice_]:
            pool = topo.slice_pool[slice_]
            return topo.pool_kw_facility[pool] * self.forecast(now_s).mean_price(
                topo.pool_site[pool], start_s, end_s)
        return self.prices.mean(slice_, start_s, end_s)

    def update_room(self, pool: int) -> None:
        """Recompute `pool_room[pool]`: its largest free slice (a slice with a per-tenant cap
        counts at most the cap)."""
        free = self.free_slice
        cap = self.topology.slice_cap
        self.pool_room[pool] = max(
            (free[i] if cap[i] is None else min(free[i], cap[i] or 0)
             for i in self.topology.pool_slices[pool]), default=0)

    def tenant_room(self, job: Job, slice_: int, held: dict[tuple[str, int], int]) -> bool:
        """Whether the job's tenant may hold `job.units` more at the slice (its per-tenant
        cap; `held` adds units placed earlier in the same decision)."""
        cap = self.topology.slice_cap[slice_]
        if cap is None:
            return True
        key = (job.tenant, slice_)
        return self.tenant_units.get(key, 0) + held.get(key, 0) + job.units <= cap

    def usable(self, cand: Candidate, units: int, free: list[int]) -> bool:
        return free[cand.pool] >= units and cand.site not in self.drained
