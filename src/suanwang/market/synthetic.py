"""Synthetic bidders and asks for the call auction, from documented distributions.

**Bids.** Each bid belongs to a workload class (`CLASSES`), drawn by the class's `share`.
Per class (all draws from the caller's seeded generator):
- units: log-uniform on [units_lo, units_hi], rounded (at least 1);
- duration: uniform on [hours_lo, hours_hi] hours;
- input data: `gb_per_unit_h` log-uniform on [gb_lo, gb_hi] x the job's unit-hours;
- origin: one of the network's regions, uniformly;
- real-time with probability `realtime`: rtt bound uniform on [8, 30] ms; else a deadline of
  duration + uniform [1, 12] h after the window opens;
- a carbon cap with probability 0.1: the job's facility energy at PUE 1.2 x uniform
  [150, 500] g/kWh;
- value (the price limit, yuan per unit-hour): `value_factor` x the kind's reference price x
  lognormal(0, `sigma`), where the reference price is the median over the network's providers
  of their list price of the kind in force at `at`. assumption: tenants' willingness to pay
  centres on what the market posts, with a class premium (training and real-time inference pay
  more, batch analytics less) and a spread of sigma 0.35-0.5 (about x0.6-x1.6 for the middle
  two-thirds); no published bid data exists for Chinese compute exchanges (issue 13).
- half the bids state their limit as a total for the job (`limit_total_yuan`), half per
  unit-hour (the same value either way).

**Asks.** One ask per (provider, site, kind) with a quota. Reserve (yuan per unit-hour) =
energy + wear, never above the provider's list price in force at `at`:
energy = kw_per_unit x PUE x the site's mean electricity price; wear = `WEAR_YUAN_PER_UNIT_H`.
Offered units: the kind's units bid x `supply_ratio`, split over the kind's asks in proportion
to their quota (at least 1, at most the quota). assumption: providers put a slice of their
quota into each 15-minute round sized to the round's demand; `supply_ratio` (default 1.1)
makes the market a little long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from suanwang.market.orders import Ask, Bid
from suanwang.model import Kind, Network, Site
from suanwang.pricing.tariff import item_in_force, unit_price_at

# assumption: hardware wear per busy unit-hour = purchase price / (5 years x 8,760 h x 70 % use):
# a 2-socket 128-core server at 80,000 yuan -> 0.018 per core-hour; an 8-card AI server at
# 1.6 M yuan -> 200,000 a card -> 6.5 per card-hour; an HPC node at 150,000 -> 4.9 per node-hour.
WEAR_YUAN_PER_UNIT_H: dict[Kind, float] = {
    Kind.GENERAL: 80_000 / 128 / (5 * 8760 * 0.7),
    Kind.INTELLIGENT: 200_000 / (5 * 8760 * 0.7),
    Kind.HPC: 150_000 / (5 * 8760 * 0.7),
}


@dataclass(frozen=True, slots=True)
class WorkloadClass:
    name: str
    kind: Kind
    share: float  # of the bids
    units_lo: int
    units_hi: int
    hours_lo: float
    hours_hi: float
    gb_lo: float  # data per unit-hour, GB
    gb_hi: float
    realtime: float  # probability of a real-time bid
    value_factor: float  # median value / the kind's reference price
    sigma: float  # lognormal spread of the value


CLASSES: tuple[WorkloadClass, ...] = (
    WorkloadClass("llm-training", Kind.INTELLIGENT, 0.15, 8, 128, 2.0, 12.0, 0.5, 5.0,
                  0.0, 1.1, 0.35),
    WorkloadClass("ai-inference", Kind.INTELLIGENT, 0.20, 1, 32, 1.0, 4.0, 1.0, 20.0,
                  0.6, 1.2, 0.4),
    WorkloadClass("batch-analytics", Kind.GENERAL, 0.30, 32, 4096, 1.0, 8.0, 0.005, 0.1,
                  0.1, 0.8, 0.5),
    WorkloadClass("rendering", Kind.GENERAL, 0.15, 64, 2048, 2.0, 10.0, 0.001, 0.02,
                  0.0, 0.9, 0.4),
    WorkloadClass("hpc-simulation", Kind.HPC, 0.20, 2, 128, 2.0, 12.0, 0.1, 2.0,
                  0.0, 1.0, 0.35),
)


def list_price(network: Network, provider_id: str, site_id: str, kind: Kind,
               at: datetime) -> float:
    """A provider's posted price of `kind` at a site, in force at `at` (yuan per unit-hour)."""
    provider = network.site(site_id).provider(provider_id)
    if provider is None:
        raise KeyError((provider_id, site_id))
    return unit_price_at(item_in_force(provider.items(kind), at), at)


def reference_prices(network: Network, at: datetime) -> dict[Kind, float]:
    """Per kind, the median list price over the providers offering it."""
    out: dict[Kind, float] = {}
    for kind in Kind:
        prices = [list_price(network, p.id, s.id, kind, at) for s in network.sites
                  for p in s.providers if p.offered(kind) > 0 and p.items(kind)]
        out[kind] = float(np.median(prices))
    return out


def synthetic_bids(network: Network, n: int, seed: int, at: datetime) -> list[Bid]:
    """`n` bids drawn as the module describes."""
    rng = np.random.default_rng(seed)
    ref = reference_prices(network, at)
    regions = [g.id for g in network.regions]
    shares = np.array([c.share for c in CLASSES])
    which = rng.choice(len(CLASSES), size=n, p=shares / shares.sum())
    kw = {k: _kw_per_unit(network, k) for k in Kind}
    bids: list[Bid] = []
    for i, ci in enumerate(which.tolist()):
        c = CLASSES[ci]
        units = max(1, round(math.exp(rng.uniform(math.log(c.units_lo), math.log(c.units_hi)))))
        hours = float(rng.uniform(c.hours_lo, c.hours_hi))
        gb = math.exp(rng.uniform(math.log(c.gb_lo), math.log(c.gb_hi))) * units * hours
        origin = regions[int(rng.integers(len(regions)))]
        value = c.value_factor * ref[c.kind] * float(rng.lognormal(0.0, c.sigma))
        realtime = rng.random() < c.realtime
        rtt = float(rng.uniform(8.0, 30.0)) if realtime else None
        deadline = None if realtime else (hours + float(rng.uniform(1.0, 12.0))) * 3600.0
        cap = None
        if rng.random() < 0.1:
            cap = units * kw[c.kind] * 1.2 * hours * float(rng.uniform(150.0, 500.0)) / 1000.0
        total = rng.random() < 0.5
        bids.append(Bid(
            bid_id=f"b{i:05d}", tenant=f"tenant-{int(rng.integers(200)):03d}", origin=origin,
            kind=c.kind, units=units, duration_s=hours * 3600.0, rtt_bound_ms=rtt,
            deadline_s=deadline,
            limit_yuan_per_unit_h=None if total else value,
            limit_total_yuan=value * units * hours if total else None,
            data_gb=gb, carbon_cap_kg=cap, workload=c.name))
    return bids


def synthetic_asks(network: Network, bids: list[Bid], at: datetime,
                   supply_ratio: float = 1.1) -> list[Ask]:
    """One ask per (provider, site, kind) with a quota, as the module describes."""
    if not supply_ratio > 0:
        raise ValueError(f"supply_ratio = {supply_ratio!r}: must be > 0")
    demand = {k: sum(b.units for b in bids if b.kind == k) for k in Kind}
    asks: list[Ask] = []
    for kind in Kind:
        sellers = [(s, p) for s in network.sites for p in s.providers
                   if p.offered(kind) > 0 and p.items(kind)]
        quota = sum(p.offered(kind) for _, p in sellers)
        for s, p in sellers:
            posted = list_price(network, p.id, s.id, kind, at)
            reserve = reserve_yuan_per_unit_h(s, kind, posted)
            offered = round(demand[kind] * supply_ratio * p.offered(kind) / quota)
            asks.append(Ask(p.id, s.id, kind, reserve, min(p.offered(kind), max(1, offered)),
                            list_yuan_per_unit_h=posted))
    return asks


def reserve_yuan_per_unit_h(site: Site, kind: Kind, list_yuan_per_unit_h: float) -> float:
    """A provider's reserve at `site` for `kind`: energy (kW per unit x PUE x the site's mean
    electricity price) + wear, never above its list price `list_yuan_per_unit_h`."""
    pool = site.pool(kind)
    if pool is None:
        raise KeyError((site.id, kind))
    energy = pool.kw_per_unit * site.pue * site.price_yuan_per_kwh
    return min(energy + WEAR_YUAN_PER_UNIT_H[kind], list_yuan_per_unit_h)


def _kw_per_unit(network: Network, kind: Kind) -> float:
    for pool in network.pools():
        if pool.kind == kind:
            return pool.kw_per_unit
    return 0.0
