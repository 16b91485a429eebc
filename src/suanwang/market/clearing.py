"""Clearing a round of the call auction: SBBA per market, with transit costs.

The rule as implemented (`clear`):

1. **Markets.** A market is one (kind, site, egress rate): the asks of that kind at that site
   whose providers charge the same `egress_yuan_per_gb`. A bid may enter a market when it is
   feasible (`feasibility`) with *every* ask of the market, so that any buyer can trade with
   any seller inside it; its transit there is the same with every seller of the market: its
   `data_gb_per_unit_h` x the market's egress rate (public numbers, not reports).
2. **Routing (no price report is read).** Each bid is sent to one market before any value or
   reserve is looked at: bids in order of (number of markets they may enter, bid id); each goes
   to the market with the lowest public cost -- the cheapest posted list price among its asks +
   the bid's transit there -- among those whose offered units are not yet taken by bids
   routed before it; when every market it may enter is full, to the one where the units routed
   so far (its own included) are the smallest multiple of the units offered (where it competes
   on price). A bid with no market is unmatched: `no_feasible_site`.
3. **SBBA in each market** (Segal-Halevi, Hassidim & Aumann 2016), on unit-slots: a bid of
   `units` is `units` unit-demand buyers with the same value per unit-hour, net of its
   transit charge (`w = limit - transit`); an ask of `units` is `units` unit-supply sellers at
   its reserve. Buyers slots sorted by w descending, sellers by reserve ascending (ties: by id,
   so that one order's slots are contiguous). k = the largest index with b_k >= s_k;
   s_{k+1} = +inf when the market has no (k+1)-th seller slot.
   - If s_{k+1} <= b_k: price p = s_{k+1}; the k highest buyer slots and the k lowest seller
     slots trade at p.
   - Else: p = b_k; the k-1 highest buyer slots trade; of the k lowest seller slots one is left
     out -- a slot of the ask whose id sorts last among them (a fixed, report-independent
     priority in place of the paper's lottery) -- and the other k-1 trade at p.
   A buyer pays p + its transit per unit-hour of the hours it runs; a seller receives p per
   unit-hour; the transit goes to the matched provider as its egress charge. Every yuan a buyer
   pays goes to a seller or to transit: the platform neither keeps nor adds money (strongly,
   hence weakly, budget balanced).
4. **Pairing inside a market** (who trades with whom among the trading slots) reads no report:
   bids in id order with asks in id order, a bid's units split across asks where needed (all
   pairs of a market cost the same transit, so the pairing changes no one's utility).

**Properties.** For unit-demand buyers and unit-supply sellers (units = 1) the mechanism is
dominant-strategy truthful, individually rational and weakly budget balanced: routing and
pairing read no report, and SBBA is truthful in each market. **Multi-unit caveat**: a bid or
ask of several units is several slot-traders with one value; truthfulness holds for each slot
but not for the order as a whole -- an order that owns the price-setting slot (seller k+1, or
buyer k) as well as trading slots may gain by shading it (a seller by raising its reserve in a
market that is not full). At most one bid per market is filled in part (the one straddling
the cut; at most two asks: that at the cut and the one a seller slot is left out of); a partly
filled bid is given the units that cleared and billed for them.

Unmatched reasons: `no_feasible_site`; `tenant_cap` (a market would take the bid but for a
provider's per-tenant cap: its tenant has no room there for its units, `feasibility`);
`trade_reduction` (the k-th buyer slot, left out when
its value sets the price); `capacity` (the market's offered units were all taken by bids at
or above the price); `price_below_clearing` (otherwise: its limit net of transit at or below
the clearing price, or below the lowest reserve when nothing trades).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from suanwang.market.feasibility import KINDS, Book
from suanwang.model import Kind

NO_FEASIBLE_SITE = "no_feasible_site"
PRICE_BELOW_CLEARING = "price_below_clearing"
CAPACITY = "capacity"
TRADE_REDUCTION = "trade_reduction"
TENANT_CAP = "tenant_cap"


@dataclass(frozen=True, slots=True)
class Match:
    """`units` of a bid placed on an ask, for the bid's `hours`."""

    bid_id: str
    ask_id: str
    provider_id: str
    site_id: str
    units: int
    hours: float
    buyer_yuan_per_unit_h: float  # clearing price + the bid's transit
    seller_yuan_per_unit_h: float  # the clearing price
    transit_yuan_per_unit_h: float  # the pair's transit (provider egress), to the provider

    @property
    def unit_h(self) -> float:
        return self.units * self.hours

    @property
    def buyer_pays_yuan(self) -> float:
        return self.buyer_yuan_per_unit_h * self.unit_h

    @property
    def seller_receives_yuan(self) -> float:
        return self.seller_yuan_per_unit_h * self.unit_h

    @property
    def transit_yuan(self) -> float:
        return self.transit_yuan_per_unit_h * self.unit_h


@dataclass(frozen=True, slots=True)
class Unmatched:
    """Units of a bid that did not trade, and why."""

    bid_id: str
    units: int
    reason: str  # NO_FEASIBLE_SITE, TENANT_CAP, PRICE_BELOW_CLEARING, CAPACITY, TRADE_REDUCTION
    detail: str


@dataclass(frozen=True, slots=True)
class MarketResult:
    """One market's clearing."""

    kind: Kind
    site_id: str
    egress_yuan_per_gb: float  # the egress rate of the market's providers
    price_yuan_per_unit_h: float | None  # None: nothing traded
    rule: str  # "seller-priced" (p = s_{k+1}), "buyer-priced" (p = b_k) or "no-trade"
    units_traded: int
    units_offered: int
    units_bid: int  # units of the bids routed here
    bids: int
    clear_s: float


@dataclass(frozen=True, slots=True)
class Clearing:
    markets: tuple[MarketResult, ...]
    matches: tuple[Match, ...]
    unmatched: tuple[Unmatched, ...]
    clear_s: float  # wall time of the whole clearing (routing included)

    @property
    def platform_yuan(self) -> float:
        """What the platform keeps: buyers' payments - sellers' receipts - transit (0 up to
        rounding under this rule)."""
        return sum(m.buyer_pays_yuan - m.seller_receives_yuan - m.transit_yuan
                   for m in self.matches)

    def market(self, kind: Kind, site_id: str, egress_yuan_per_gb: float) -> MarketResult:
        for m in self.markets:
            if (m.kind == kind and m.site_id == site_id
                    and m.egress_yuan_per_gb == egress_yuan_per_gb):
                return m
        raise KeyError((kind, site_id, egress_yuan_per_gb))


def _rank(ids: list[str]) -> np.ndarray:
    """Rank of each id in sorted order (ties cannot occur: ids are unique)."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def clear(book: Book) -> Clearing:
    """Clear one round: route, then SBBA per market, then pair (see the module's rule)."""
    t0 = time.perf_counter()
    n = len(book.bids)
    bid_rank = _rank([b.bid_id for b in book.bids])
    ask_rank = _rank([a.ask_id for a in book.asks])

    # markets: (kind, site, egress) with at least one ask, in (kind, site order, egress)
    egress = book.ask_egress_yuan_per_gb
    keys = sorted({(int(k), int(s), float(e)) for k, s, e
                   in zip(book.ask_kind, book.ask_site, egress, strict=True)})
    market_asks = [np.flatnonzero((book.ask_kind == k) & (book.ask_site == s) & (egress == e))
                   for k, s, e in keys]
    n_m = len(keys)
    eligible = np.zeros((n, n_m), dtype=bool)
    ref_transit = np.zeros((n, n_m))
    public_cost = np.full((n, n_m), np.inf)
    for m, ((kind, _, rate), js) in enumerate(zip(keys, market_asks, strict=True)):
        of_kind = book.bid_kind == kind
        eligible[:, m] = of_kind & book.feasible[:, js].all(axis=1)
        ref_transit[:, m] = book.bid_gb_per_unit_h * rate
        cost = book.ask_list[js].min() + ref_transit[:, m]
        public_cost[:, m] = np.where(eligible[:, m], cost, np.inf)

    market_of = _route(book, eligible, public_cost, bid_rank, market_asks)

    matches: list[Match] = []
    unmatched: list[Unmatched] = []
    results: list[MarketResult] = []
    capped = _capped_out(book, keys, market_asks, market_of)
    for i in np.flatnonzero(market_of < 0):
        bid = book.bids[i]
        if capped is not None and capped[i]:
            blocked = sorted(book.asks[j].ask_id
                             for j in np.flatnonzero(book.cap_blocked[i]))  # type: ignore[index]
            unmatched.append(Unmatched(bid.bid_id, int(book.bid_units[i]), TENANT_CAP,
                                       f"tenant {bid.tenant} has no room for {bid.units} more "
                                       f"units under the per-tenant cap of {', '.join(blocked)}"
                                       "; no other market takes the bid"))
            continue
        unmatched.append(Unmatched(bid.bid_id, int(book.bid_units[i]), NO_FEASIBLE_SITE,
                                   _why_infeasible(book, int(i))))
    for m, ((kind, site, rate), js) in enumerate(zip(keys, market_asks, strict=True)):
        tm = time.perf_counter()
        ids = np.flatnonzero(market_of == m)
        res, mm, um = _clear_market(book, ids, js, ref_transit[ids, m], bid_rank, ask_rank)
        matches.extend(mm)
        unmatched.extend(um)
        price, rule, traded = res
        results.append(MarketResult(
            KINDS[kind], book.site_ids[site], rate, price, rule, traded,
            int(book.ask_units[js].sum()), int(book.bid_units[ids].sum()), len(ids),
            time.perf_counter() - tm))
    unmatched.sort(key=lambda u: u.bid_id)
    return Clearing(tuple(results), tuple(matches), tuple(unmatched), time.perf_counter() - t0)


def _capped_out(book: Book, keys: list[tuple[int, int, float]], market_asks: list[np.ndarray],
                market_of: np.ndarray) -> np.ndarray | None:
    """Per bid: routed nowhere, but a market would take it were it not for a per-tenant cap
    (None: no cap blocked any pair)."""
    blocked = book.cap_blocked
    if blocked is None or not blocked.any():
        return None
    loose = book.feasible | blocked
    out = np.zeros(len(book.bids), dtype=bool)
    for (kind, _, _), js in zip(keys, market_asks, strict=True):
        out |= (book.bid_kind == kind) & loose[:, js].all(axis=1)
    return out & (market_of < 0)


def _route(book: Book, eligible: np.ndarray, public_cost: np.ndarray, bid_rank: np.ndarray,
           market_asks: list[np.ndarray]) -> np.ndarray:
    """The market index of each bid (-1: none), by the report-free rule of the module."""
    n = len(book.bids)
    market_of = np.full(n, -1, dtype=np.int64)
    if n == 0 or not market_asks:
        return market_of
    offered = [int(book.ask_units[js].sum()) for js in market_asks]
    routed = [0] * len(market_asks)
    n_eligible = eligible.sum(axis=1)
    order = np.lexsort((bid_rank, n_eligible))
    prefs = np.argsort(public_cost, axis=1, kind="stable")
    units = book.bid_units.tolist()
    n_el = n_eligible.tolist()
    for i in order.tolist():
        k = n_el[i]
        if k == 0:
            continue
        cand = prefs[i, :k].tolist()
        chosen = -1
        for m in cand:
            if routed[m] < offered[m]:
                chosen = m
                break
        if chosen < 0:  # all full: the least overbooked (the earliest in cost order on a tie)
            chosen = min(cand, key=lambda m: (routed[m] + units[i]) / offered[m])
        market_of[i] = chosen
        routed[chosen] += units[i]
    return market_of


def _slot_value(cum: np.ndarray, values: np.ndarray, k: int) -> float:
    """The value of slot k (1-based) of orders whose cumulative units are `cum`."""
    return float(values[np.searchsorted(cum, k, side="left")])


def _clear_market(book: Book, ids: np.ndarray, js: np.ndarray, transit: np.ndarray,
                  bid_rank: np.ndarray, ask_rank: np.ndarray
                  ) -> tuple[tuple[float | None, str, int], list[Match], list[Unmatched]]:
    w = book.bid_value[ids] - transit  # buyers' values net of transit
    b_order = np.lexsort((bid_rank[ids], -w))
    b_ids, b_w = ids[b_order], w[b_order]
    b_units = book.bid_units[b_ids]
    cum_b = np.cumsum(b_units)
    s_order = np.lexsort((ask_rank[js], book.ask_reserve[js]))
    s_ids = js[s_order]
    s_res = book.ask_reserve[s_ids]
    s_units = book.ask_units[s_ids]
    cum_s = np.cumsum(s_units)
    demand = int(cum_b[-1]) if len(cum_b) else 0
    supply = int(cum_s[-1]) if len(cum_s) else 0

    # k: the largest slot index with b_k >= s_k (the predicate is true, then false)
    lo, hi = 0, min(demand, supply)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _slot_value(cum_b, b_w, mid) >= _slot_value(cum_s, s_res, mid):
            lo = mid
        else:
            hi = mid - 1
    k = lo
    if k == 0:
        lowest = float(s_res[0]) if supply else float("inf")
        um = [Unmatched(book.bids[i].bid_id, int(book.bid_units[i]), PRICE_BELOW_CLEARING,
                        f"limit net of transit {float(x):.6g} below the lowest reserve "
                        f"{lowest:.6g} yuan/unit-h") for i, x in zip(b_ids, b_w, strict=True)]
        return (None, "no-trade", 0), [], um
    b_k = _slot_value(cum_b, b_w, k)
    s_next = _slot_value(cum_s, s_res, k + 1) if k + 1 <= supply else float("inf")
    if s_next <= b_k:
        price, rule, kb, ks = s_next, "seller-priced", k, k
    else:
        price, rule, kb, ks = b_k, "buyer-priced", k - 1, k
    before_b = cum_b - b_units
    filled = np.clip(kb - before_b, 0, b_units)
    before_s = cum_s - s_units
    sold = np.clip(ks - before_s, 0, s_units)
    if rule == "buyer-priced":  # leave out one seller slot: of the trading ask whose id is last
        trading = np.flatnonzero(sold > 0)
        last = trading[np.argmax(ask_rank[s_ids[trading]])]
        sold[last] -= 1

    matches = _pair(book, b_ids[filled > 0], filled[filled > 0], s_ids[sold > 0],
                    sold[sold > 0], price, transit, ids, bid_rank, ask_rank)
    full = k == supply  # every offered unit was in the efficient set
    in_k = np.clip(k - before_b, 0, b_units)  # slots among the k efficient ones
    unmatched: list[Unmatched] = []
    for i, x, f, e in zip(b_ids.tolist(), b_w.tolist(), filled.tolist(), in_k.tolist(),
                          strict=True):
        bid_id, units = book.bids[i].bid_id, int(book.bid_units[i])
        net = f"limit net of transit {x:.6g} vs clearing price {price:.6g} yuan/unit-h"
        if e > f:
            unmatched.append(Unmatched(bid_id, int(e - f), TRADE_REDUCTION,
                                       f"{net}; the marginal buyer slot is left out so that "
                                       "its value can set the price (SBBA)"))
        if units > e:
            reason = CAPACITY if full else PRICE_BELOW_CLEARING
            extra = "; the market's offered units were all taken" if full else ""
            unmatched.append(Unmatched(bid_id, units - int(e), reason, net + extra))
    return (price, rule, int(filled.sum())), matches, unmatched


def _pair(book: Book, b_ids: np.ndarray, b_units: np.ndarray, s_ids: np.ndarray,
          s_units: np.ndarray, price: float, transit: np.ndarray, market_bids: np.ndarray,
          bid_rank: np.ndarray, ask_rank: np.ndarray) -> list[Match]:
    """Trading bid units with trading ask units, both in id order, cut where either's
    cumulative units end."""
    if len(b_ids) == 0:
        return []
    bo = np.argsort(bid_rank[b_ids], kind="stable")
    so = np.argsort(ask_rank[s_ids], kind="stable")
    b_ids, b_units = b_ids[bo], b_units[bo]
    s_ids, s_units = s_ids[so], s_units[so]
    cb, cs = np.cumsum(b_units), np.cumsum(s_units)
    cuts = np.union1d(cb, cs)
    starts = np.concatenate(([0], cuts[:-1]))
    bi = np.searchsorted(cb, starts, side="right")
    si = np.searchsorted(cs, starts, side="right")
    ref = dict(zip(market_bids.tolist(), transit.tolist(), strict=True))
    out: list[Match] = []
    for b_pos, s_pos, u in zip(bi.tolist(), si.tolist(), (cuts - starts).tolist(),
                                strict=True):
        i, j = int(b_ids[b_pos]), int(s_ids[s_pos])
        ask = book.asks[j]
        out.append(Match(book.bids[i].bid_id, ask.ask_id, ask.provider_id, ask.site_id, int(u),
                         float(book.bid_hours[i]), price + ref[i], price,
                         float(book.transit_yuan_per_unit_h[i, j])))
    return out


def _why_infeasible(book: Book, i: int) -> str:
    bid = book.bids[i]
    same_kind = book.ask_kind == book.bid_kind[i]
    if not same_kind.any():
        return f"no ask of kind {bid.kind.value} in this round"
    if not book.feasible[i, same_kind].any():
        bound = (f"rtt_bound_ms {bid.rtt_bound_ms:g}" if bid.rtt_bound_ms is not None
                 else f"deadline_s {bid.deadline_s:g}")
        extra = "" if bid.carbon_cap_kg is None else f" and carbon_cap_kg {bid.carbon_cap_kg:g}"
        return f"no {bid.kind.value} ask meets {bound}{extra} from {bid.origin}"
    return ("feasible with some asks, but in no market with every ask of it feasible "
            "(a market is one site's asks of one kind and one egress rate)")
