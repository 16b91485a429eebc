"""Domain objects of the compute network and its workload.

Everything here is a frozen dataclass: built once at the edge (network loader, trace readers,
synthetic generator), validated there, and trusted inside. Units are in the field names.
Times are UTC seconds on the run's clock (0 = the run's start instant, an aware datetime kept by
the caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    """A compute kind (算力类型). Each site has at most one pool of each kind."""

    GENERAL = "general"  # 通用算力, counted in CPU cores
    INTELLIGENT = "intelligent"  # 智能算力, counted in AI accelerators
    HPC = "hpc"  # 超算, counted in supercomputer nodes


KIND_NAMES_ZH: dict[Kind, str] = {
    Kind.GENERAL: "通用",
    Kind.INTELLIGENT: "智算",
    Kind.HPC: "超算",
}


@dataclass(frozen=True, slots=True)
class Hub:
    """One of the 8 national hub nodes (国家算力枢纽节点)."""

    id: str
    name_zh: str
    name_en: str
    west: bool = False  # a western supply hub (compute goes west under 东数西算)


@dataclass(frozen=True, slots=True)
class Region:
    """A demand region (需求地): where work and its data originate."""

    id: str
    name_zh: str
    name_en: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Pool:
    """A site's capacity of one compute kind."""

    site_id: str
    kind: Kind
    units: int  # installed units (cores, accelerators or nodes)
    pflops_per_unit: float  # PFLOPS one unit delivers, as the programme counts P
    kw_per_unit: float  # IT power of one busy unit, kW (facility power = this x PUE)

    @property
    def pflops(self) -> float:
        return self.units * self.pflops_per_unit


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A documented earlier state of a site's capacity (e.g. Hohhot in April 2024)."""

    as_of: str
    pflops_by_kind: tuple[tuple[Kind, float], ...]
    total_pflops: float
    source: str


@dataclass(frozen=True, slots=True)
class Contracts:
    """A site's contracted green supply (绿电直供): farms whose output is delivered to the site.

    The physical energy model turns these into hourly output; the green share of an hour is
    min(1, output / load), with load = the site's facility power at full use x the network's
    `contract_load_utilisation`. Output above the load is sold back to the grid.
    """

    wind_mw: float  # contracted wind-farm capacity (nameplate)
    solar_mw: float  # contracted PV capacity (DC nameplate)
    firm_mw: float = 0.0  # contracted flat green supply (hydro and the like)


class Docking(StrEnum):
    """How a provider is reached by the platform (对接方式)."""

    OPERATED = "operated"  # 运营层: sells its compute through the platform's own operation
    API = "api"  # 编排层: integrated through its cloud API, the platform orchestrates
    MANAGED = "managed"  # 纳管: its nodes are managed by the platform


@dataclass(frozen=True, slots=True)
class TouWindow:
    """A time-of-use window of a price item: local (UTC+8) hours [from_h, to_h) x factor."""

    from_h: int
    to_h: int
    factor: float


@dataclass(frozen=True, slots=True)
class PriceItem:
    """One immutable price of a provider for one kind, in force from `effective_from` until a
    later item of the same kind supersedes it."""

    item_id: str
    kind: Kind
    yuan_per_unit_h: float  # per CPU core-hour, accelerator card-hour or HPC node-hour
    effective_from: datetime  # aware, on a whole hour
    tou: tuple[TouWindow, ...] = ()  # hours not in a window are at factor 1
    source: str = ""

    def factor_at(self, local_hour: int) -> float:
        for w in self.tou:
            if w.from_h <= local_hour < w.to_h:
                return w.factor
        return 1.0


@dataclass(frozen=True, slots=True)
class Sla:
    """What a provider promises: availability (0..1) and time from placement to start."""

    availability: float
    start_s: float


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider selling compute at one site: its share of the site's pools, its price items,
    quota, service level, docking mode and the executor it is reached through.

    `units` is its share of the site's installed units per kind (the shares of a site add up
    to the site's pools); `quota` what it offers the platform (<= units); `tenant_cap` the units
    one tenant may hold at once per kind (absent: no cap). An implicit provider (a network file
    without providers) is `energy_priced`: it bills the electricity cost of the units, hour by
    hour, as the site's energy series gives it.
    """

    id: str  # the provider's id, the same at every site it sells at ("ctyun")
    site_id: str
    name_zh: str
    name_en: str
    docking: Docking
    executor: str
    units: tuple[tuple[Kind, int], ...]
    quota: tuple[tuple[Kind, int], ...]
    prices: tuple[PriceItem, ...]  # sorted by kind order, then effective_from
    egress_yuan_per_gb: float
    sla: Sla
    tenant_cap: tuple[tuple[Kind, int], ...] = ()
    energy_priced: bool = False

    def units_of(self, kind: Kind) -> int:
        return dict(self.units).get(kind, 0)

    def offered(self, kind: Kind) -> int:
        return dict(self.quota).get(kind, 0)

    def cap_of(self, kind: Kind) -> int | None:
        return dict(self.tenant_cap).get(kind)

    def items(self, kind: Kind) -> tuple[PriceItem, ...]:
        return tuple(i for i in self.prices if i.kind == kind)


@dataclass(frozen=True, slots=True)
class Site:
    """One place where compute runs (a cluster or one zone of a cluster)."""

    id: str
    name_zh: str
    name_en: str
    hub_id: str
    province_en: str
    lat: float
    lon: float
    pue: float  # facility power / IT power
    price_yuan_per_kwh: float  # annual mean electricity price
    green_share: float  # annual mean renewable fraction of the site's power, 0..1
    wind_fraction: float  # fraction of the site's green supply from wind, 0..1
    solar_fraction: float  # fraction of the site's green supply from solar, 0..1 (rest: hydro/firm)
    grid_intensity_g_per_kwh: float  # provincial grid CO2 factor for the non-green part
    pools: tuple[Pool, ...]
    snapshots: tuple[Snapshot, ...] = ()
    contracts: Contracts | None = None  # None: the energy model sizes them from green_share
    providers: tuple[Provider, ...] = ()  # their units add up to the pools' units

    def provider(self, provider_id: str) -> Provider | None:
        for p in self.providers:
            if p.id == provider_id:
                return p
        return None

    def pool(self, kind: Kind) -> Pool | None:
        for p in self.pools:
            if p.kind == kind:
                return p
        return None

    @property
    def pflops(self) -> float:
        return sum(p.pflops for p in self.pools)


@dataclass(frozen=True, slots=True)
class Network:
    """The whole compute network: hubs, sites with their pools, demand regions, links.

    `rtt_ms[(region_id, site_id)]` is the round-trip time; `bandwidth_gbps[(region_id, site_id)]`
    the capacity of the link that moves a job's input data from its region to the site.
    """

    name: str
    hubs: tuple[Hub, ...]
    regions: tuple[Region, ...]
    sites: tuple[Site, ...]
    rtt_ms: dict[tuple[str, str], float] = field(hash=False)
    bandwidth_gbps: dict[tuple[str, str], float] = field(hash=False)
    rtt_source: dict[tuple[str, str], str] = field(hash=False, default_factory=dict)
    contract_load_utilisation: float = 0.6  # share of facility power contracts are sized for

    def site(self, site_id: str) -> Site:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def region(self, region_id: str) -> Region:
        for r in self.regions:
            if r.id == region_id:
                return r
        raise KeyError(region_id)

    def pools(self) -> list[Pool]:
        """Every pool of every site, in a fixed order (site order, then kind order)."""
        return [p for s in self.sites for p in s.pools]

    def provider_ids(self) -> tuple[str, ...]:
        """Every provider id of the network, in first-seen order."""
        return tuple(dict.fromkeys(p.id for s in self.sites for p in s.providers))

    def pflops_by_kind(self) -> dict[Kind, float]:
        out = {k: 0.0 for k in Kind}
        for p in self.pools():
            out[p.kind] += p.pflops
        return out


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of work: `units` of one kind for `duration_s`, from an origin region.

    Real-time jobs carry `rtt_bound_ms` (the round trip from origin to site must not exceed it);
    non-real-time jobs carry `deadline_s` (the job should end by then). A job has one or the other.
    """

    job_id: str
    tenant: str
    origin: str  # region id
    kind: Kind
    units: int
    duration_s: float
    submit_s: float
    rtt_bound_ms: float | None = None
    deadline_s: float | None = None
    data_gb: float = 0.0
    workload: str = ""  # the class of work (e.g. "llm-training"), informative
    # what the tenant asks of the providers (all optional):
    max_price_yuan_per_unit_h: float | None = None  # price cap over the run, per unit-hour
    max_bill_yuan: float | None = None  # cap on the job's whole bill (compute + egress)
    providers_allow: tuple[str, ...] = ()  # only these providers (empty: any)
    providers_deny: tuple[str, ...] = ()  # never these
    providers_prefer: tuple[str, ...] = ()  # these first, in order; then the policy's choice

    @property
    def realtime(self) -> bool:
        return self.rtt_bound_ms is not None


@dataclass(frozen=True, slots=True)
class Placement:
    """A decision to run a job at a site (with one of its providers), starting (its data
    transfer) at `placed_s`. An empty `provider_id` lets the scheduler pick the site's provider
    by the same rule as the greedy policies."""

    job: Job
    site_id: str
    placed_s: float
    transfer_s: float  # time to move the input data over the link before compute starts
    reason: str = ""
    provider_id: str = ""

    @property
    def start_s(self) -> float:
        return self.placed_s + self.transfer_s

    @property
    def end_s(self) -> float:
        return self.start_s + self.job.duration_s
