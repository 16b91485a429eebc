"""Which (bid, ask) pairs can trade, and what moving the bid's data costs on each pair.

A pair can trade when all hold:
- same kind;
- real-time bid: the network's round trip `rtt_ms[(origin, site)]` is within `rtt_bound_ms`;
- deferrable bid: the provider's SLA start + the input transfer
  (`data_gb * 8 / bandwidth_gbps[(origin, site)]` seconds) + `duration_s` is within `deadline_s`;
- carbon cap: the job's location-based CO2 at the site,
  `units * kw_per_unit * PUE * hours * grid_g_per_kwh * (1 - green_share) / 1000` kg,
  is within `carbon_cap_kg` (when the bid gives one).

Per-tenant caps (optional, `caps` and `held`): a provider that caps the units one tenant may
hold at once at a slice (`Provider.tenant_cap`) can trade with a bid only while the bid's
tenant has room there for all the bid's units: `cap - held - units of the tenant's earlier
bids (in bid-id order) feasible with the same ask`. The room is reserved for those earlier
bids whether or not they trade there, so that it depends only on what the tenant holds (known
to the platform, not reported) and on the bids' units and ids (which the routing reads too),
never on a price: each bidder faces a feasible set its price report cannot change, and the
truthfulness argument of `clearing` is unchanged. `Book.cap_blocked[i, j]` marks a pair that
is feasible but for the cap (the reason `tenant_cap` when nothing else is left to the bid).

Transit cost of a pair, yuan per unit-hour: the provider's `egress_yuan_per_gb` x the bid's
`data_gb` spread over its unit-hours (`data_gb / (units * hours)`).

Everything is computed as numpy arrays over all bids x all asks at once (`Book`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.errors import InputError
from suanwang.market.orders import Ask, Bid, check_unique
from suanwang.model import Kind, Network

KINDS: tuple[Kind, ...] = tuple(Kind)


@dataclass(frozen=True)
class Book:
    """The round's orders as arrays (index i over bids, j over asks), checked against the
    network. `feasible[i, j]` and `transit_yuan_per_unit_h[i, j]` as the module describes."""

    bids: tuple[Bid, ...]
    asks: tuple[Ask, ...]
    bid_kind: np.ndarray  # int index into KINDS
    bid_units: np.ndarray  # int
    bid_hours: np.ndarray  # duration in hours
    bid_value: np.ndarray  # yuan per unit-hour (the price limit)
    bid_gb_per_unit_h: np.ndarray
    ask_kind: np.ndarray
    ask_site: np.ndarray  # index into network.sites
    ask_units: np.ndarray
    ask_reserve: np.ndarray  # yuan per unit-hour
    ask_egress_yuan_per_gb: np.ndarray
    ask_list: np.ndarray  # public posted price, yuan per unit-hour (0 when not given)
    feasible: np.ndarray  # bool [n_bids, n_asks]
    transit_yuan_per_unit_h: np.ndarray  # float [n_bids, n_asks]
    site_ids: tuple[str, ...]
    cap_blocked: np.ndarray | None = None  # bool [n_bids, n_asks]: feasible but for a cap


def build_book(network: Network, bids: Sequence[Bid], asks: Sequence[Ask],
               caps: Mapping[str, int] | None = None,
               held: Mapping[tuple[str, str], int] | None = None) -> Book:
    """The arrays of `bids` and `asks` on `network`; an order naming an unknown region, site or
    provider, or a kind its site does not have, is refused naming the field. `caps`: the
    per-tenant cap of the asks at capped slices (by ask id); `held`: units each tenant holds
    there now ((tenant, ask id) -> units); see the module's rule."""
    check_unique(list(bids), list(asks))
    site_ids = tuple(s.id for s in network.sites)
    site_ix = {s: k for k, s in enumerate(site_ids)}
    region_ids = tuple(g.id for g in network.regions)
    region_ix = {g: k for k, g in enumerate(region_ids)}
    kind_ix = {k: n for n, k in enumerate(KINDS)}

    for b in bids:
        if b.origin not in region_ix:
            raise InputError(f"bid {b.bid_id!r}", "origin", b.origin,
                             f"unknown region; known: {', '.join(region_ids)}")
    egress = np.empty(len(asks))
    sla_start_s = np.empty(len(asks))
    kw_per_unit = np.empty(len(asks))
    for j, a in enumerate(asks):
        if a.site_id not in site_ix:
            raise InputError(f"ask {a.ask_id!r}", "site_id", a.site_id,
                             f"unknown site; known: {', '.join(site_ids)}")
        site = network.sites[site_ix[a.site_id]]
        provider = site.provider(a.provider_id)
        if provider is None:
            known = ", ".join(p.id for p in site.providers)
            raise InputError(f"ask {a.ask_id!r}", "provider_id", a.provider_id,
                             f"no such provider at {a.site_id}; known: {known}")
        pool = site.pool(a.kind)
        if pool is None or provider.offered(a.kind) <= 0:
            raise InputError(f"ask {a.ask_id!r}", "kind", a.kind.value,
                             f"{a.provider_id} offers no {a.kind.value} units at {a.site_id}")
        if a.units > provider.offered(a.kind):
            raise InputError(f"ask {a.ask_id!r}", "units", a.units,
                             f"more than the provider's quota there "
                             f"({provider.offered(a.kind)} units)")
        egress[j] = provider.egress_yuan_per_gb
        sla_start_s[j] = provider.sla.start_s
        kw_per_unit[j] = pool.kw_per_unit

    n, m = len(bids), len(asks)
    bid_kind = np.array([kind_ix[b.kind] for b in bids], dtype=np.int64)
    bid_origin = np.array([region_ix[b.origin] for b in bids], dtype=np.int64)
    bid_units = np.array([b.units for b in bids], dtype=np.int64)
    duration_s = np.array([b.duration_s for b in bids], dtype=float)
    bid_hours = duration_s / 3600.0
    bid_value = np.array([b.value_yuan_per_unit_h for b in bids], dtype=float)
    data_gb = np.array([b.data_gb for b in bids], dtype=float)
    inf = np.inf
    rtt_bound = np.array([inf if b.rtt_bound_ms is None else b.rtt_bound_ms for b in bids])
    deadline = np.array([inf if b.deadline_s is None else b.deadline_s for b in bids])
    carbon_cap = np.array([inf if b.carbon_cap_kg is None else b.carbon_cap_kg for b in bids])

    ask_kind = np.array([kind_ix[a.kind] for a in asks], dtype=np.int64)
    ask_site = np.array([site_ix[a.site_id] for a in asks], dtype=np.int64)
    ask_units = np.array([a.units for a in asks], dtype=np.int64)
    ask_reserve = np.array([a.reserve_yuan_per_unit_h for a in asks], dtype=float)
    ask_list = np.array([a.list_yuan_per_unit_h or 0.0 for a in asks], dtype=float)

    sites = network.sites
    rtt = np.array([[network.rtt_ms[(g, s)] for s in site_ids] for g in region_ids])
    bw = np.array([[network.bandwidth_gbps[(g, s)] for s in site_ids] for g in region_ids])
    # kg CO2 per kW-hour of IT power at each site: PUE x grid factor x non-green share
    kg_per_it_kwh = np.array([s.pue * s.grid_intensity_g_per_kwh * (1.0 - s.green_share)
                              / 1000.0 for s in sites])

    if n == 0 or m == 0:
        empty_b = np.zeros((n, m), dtype=bool)
        return Book(tuple(bids), tuple(asks), bid_kind, bid_units, bid_hours, bid_value,
                    np.zeros(n), ask_kind, ask_site, ask_units, ask_reserve, egress, ask_list,
                    empty_b, np.zeros((n, m)), site_ids)

    pair_rtt = rtt[bid_origin[:, None], ask_site[None, :]]
    transfer_s = data_gb[:, None] * 8.0 / bw[bid_origin[:, None], ask_site[None, :]]
    carbon_kg = ((bid_units * bid_hours)[:, None] * kw_per_unit[None, :]
                 * kg_per_it_kwh[ask_site][None, :])
    feasible = ((bid_kind[:, None] == ask_kind[None, :])
                & (pair_rtt <= rtt_bound[:, None])
                & (sla_start_s[None, :] + transfer_s + duration_s[:, None] <= deadline[:, None])
                & (carbon_kg <= carbon_cap[:, None]))
    gb_per_unit_h = data_gb / (bid_units * bid_hours)
    transit = gb_per_unit_h[:, None] * egress[None, :]
    blocked = _apply_caps(bids, asks, feasible, caps, held) if caps else None
    return Book(tuple(bids), tuple(asks), bid_kind, bid_units, bid_hours, bid_value,
                gb_per_unit_h, ask_kind, ask_site, ask_units, ask_reserve, egress, ask_list,
                feasible, transit, site_ids, blocked)


def _apply_caps(bids: Sequence[Bid], asks: Sequence[Ask], feasible: np.ndarray,
                caps: Mapping[str, int], held: Mapping[tuple[str, str], int] | None
                ) -> np.ndarray:
    """Clear `feasible[i, j]` where bid i's tenant has no room for its units at capped ask j
    (in place); the pairs cleared."""
    blocked = np.zeros_like(feasible)
    held = held or {}
    order = sorted(range(len(bids)), key=lambda i: bids[i].bid_id)
    for j, a in enumerate(asks):
        cap = caps.get(a.ask_id)
        if cap is None or not feasible[:, j].any():
            continue
        taken: dict[str, int] = {}
        for i in order:
            if not feasible[i, j]:
                continue
            b = bids[i]
            used = held.get((b.tenant, a.ask_id), 0) + taken.get(b.tenant, 0)
            if used + b.units <= cap:
                taken[b.tenant] = taken.get(b.tenant, 0) + b.units
            else:
                feasible[i, j] = False
                blocked[i, j] = True
    return blocked
