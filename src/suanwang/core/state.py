"""What a policy sees: the network's fixed topology, free capacity now, and the forecast.

`Topology` numbers sites and pools once and precomputes, per (origin, kind), the candidate
pools with their round trip and link bandwidth, so that per-job work is a short list walk.
`SchedulerState` adds what changes: free units per pool, drained sites, and the forecaster.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.energy.forecast import Forecaster, ForecastView
from suanwang.model import Job, Kind, Network

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


class Topology:
    def __init__(self, network: Network) -> None:
        self.network = network
        self.sites = network.sites
        self.site_ids = tuple(s.id for s in network.sites)
        self.pools = network.pools()
        site_index = {s.id: i for i, s in enumerate(network.sites)}
        self.pool_site = [site_index[p.site_id] for p in self.pools]
        self.pool_kind = [p.kind for p in self.pools]
        self.pool_capacity = [p.units for p in self.pools]
        self.pool_kw_facility = [
            p.kw_per_unit * network.sites[site_index[p.site_id]].pue for p in self.pools
        ]
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
        self._feasible_cache: dict[tuple[str, Kind, float | None],
                                   tuple[list[Candidate], int]] = {}

    def reachable(self, origin: str, kind: Kind, rtt_bound_ms: float | None) -> list[Candidate]:
        """Pools of `kind` within the round-trip bound from `origin`, nearest first, whatever
        their size. The same list object for the same arguments."""
        key = (origin, kind, rtt_bound_ms)
        entry = self._feasible_cache.get(key)
        if entry is None:
            within = [x for x in self._by_origin_kind.get((origin, kind), [])
                      if rtt_bound_ms is None or x.rtt_ms <= rtt_bound_ms]
            entry = (within, min((x.capacity_units for x in within), default=0))
            self._feasible_cache[key] = entry
        return entry[0]

    def candidates(self, job: Job) -> list[Candidate]:
        """Pools that could ever serve `job`: its kind, big enough, within its round-trip
        bound. Sorted by round trip (nearest first). The same list object is returned for all
        jobs of one (origin, kind, bound) that fit every pool, so callers may cache on it."""
        within = self.reachable(job.origin, job.kind, job.rtt_bound_ms)
        if job.units <= self._feasible_cache[(job.origin, job.kind, job.rtt_bound_ms)][1]:
            return within
        return [x for x in within if x.capacity_units >= job.units]

    def why_infeasible(self, job: Job) -> str:
        all_kind = self._by_origin_kind.get((job.origin, job.kind), [])
        if not all_kind:
            return f"no site has a {job.kind.value} pool reachable from {job.origin}"
        big = [x for x in all_kind if x.capacity_units >= job.units]
        if not big:
            largest = max(x.capacity_units for x in all_kind)
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
        self.drained: set[int] = set()  # site indices taking no new work

    def forecast(self, now_s: float) -> ForecastView:
        return self.forecaster.view(now_s)

    def usable(self, cand: Candidate, units: int, free: list[int]) -> bool:
        return free[cand.pool] >= units and cand.site not in self.drained
