"""The record of one cleared round (issue 13): what the ledger's `market_clearing` event and
`GET /v1/market/rounds/{id}` carry.

Per market (kind, site, egress rate): the clearing price, the rule that set it, units traded,
offered and bid, bids routed there and the fill ratio; per match: bid, tenant, ask, provider,
site, units, hours, what the buyer pays and the seller receives per unit-hour and in all, the
transit, the bid's limit and the ask's reserve (so that individual rationality can be checked
from the record alone) and the job made; per unmatched part of a bid: units, reason, detail;
the totals and the budget (buyers' payments - sellers' receipts - transit: what the platform
keeps; weak budget balance is that it is never below zero). Amounts are rounded to 6 decimals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from suanwang.market.clearing import Clearing, Unmatched
from suanwang.market.orders import Ask, Bid

BUDGET_TOLERANCE_YUAN = 1e-6


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def clearing_record(round_id: str, at_s: float, clearing: Clearing, bids: Sequence[Bid],
                    asks: Sequence[Ask], jobs: Mapping[tuple[str, str], str],
                    also_unmatched: Sequence[Unmatched] = ()) -> dict[str, Any]:
    """The record of `clearing` (round `round_id`, cleared at run time `at_s`); `jobs` names
    the job made of each (bid id, ask id) match; `also_unmatched` are bids refused before the
    clearing (e.g. a deadline that can no longer be met)."""
    bid_of = {b.bid_id: b for b in bids}
    ask_of = {a.ask_id: a for a in asks}
    markets = [{
        "kind": m.kind.value, "site": m.site_id, "egress_yuan_per_gb": m.egress_yuan_per_gb,
        "price_yuan_per_unit_h": _r(m.price_yuan_per_unit_h), "rule": m.rule,
        "units_traded": m.units_traded, "units_offered": m.units_offered,
        "units_bid": m.units_bid, "bids": m.bids,
        "fill_ratio": _r(m.units_traded / m.units_bid) if m.units_bid else 0.0,
    } for m in clearing.markets if m.bids or m.units_traded]
    matched = [{
        "bid": x.bid_id, "tenant": bid_of[x.bid_id].tenant, "ask": x.ask_id,
        "provider": x.provider_id, "site": x.site_id, "units": x.units, "hours": _r(x.hours),
        "buyer_yuan_per_unit_h": _r(x.buyer_yuan_per_unit_h),
        "seller_yuan_per_unit_h": _r(x.seller_yuan_per_unit_h),
        "transit_yuan_per_unit_h": _r(x.transit_yuan_per_unit_h),
        "buyer_pays_yuan": _r(x.buyer_pays_yuan),
        "seller_receives_yuan": _r(x.seller_receives_yuan), "transit_yuan": _r(x.transit_yuan),
        "limit_yuan_per_unit_h": _r(bid_of[x.bid_id].value_yuan_per_unit_h),
        "reserve_yuan_per_unit_h": _r(ask_of[x.ask_id].reserve_yuan_per_unit_h),
        "job": jobs.get((x.bid_id, x.ask_id)),
    } for x in clearing.matches]
    unmatched = sorted(({"bid": u.bid_id, "tenant": bid_of[u.bid_id].tenant
                         if u.bid_id in bid_of else None, "units": u.units,
                         "reason": u.reason, "detail": u.detail}
                        for u in (*clearing.unmatched, *also_unmatched)),
                       key=lambda u: (str(u["bid"]), str(u["reason"])))
    pays = sum(x.buyer_pays_yuan for x in clearing.matches)
    gets = sum(x.seller_receives_yuan for x in clearing.matches)
    transit = sum(x.transit_yuan for x in clearing.matches)
    units_bid = sum(b.units for b in bids) + sum(u.units for u in also_unmatched)
    traded = sum(x.units for x in clearing.matches)
    platform = pays - gets - transit
    return {
        "round": round_id, "at_s": _r(at_s), "clear_s": _r(clearing.clear_s),
        "markets": markets, "matched": matched, "unmatched": unmatched,
        "totals": {"bids": len(bids) + len({u.bid_id for u in also_unmatched}),
                   "units_bid": units_bid, "units_traded": traded,
                   "fill_ratio": _r(traded / units_bid) if units_bid else 0.0,
                   "buyers_pay_yuan": _r(pays), "sellers_receive_yuan": _r(gets),
                   "transit_yuan": _r(transit), "asks": len(asks),
                   "units_offered": sum(a.units for a in asks)},
        "budget": {"platform_yuan": _r(platform),
                   "weakly_balanced": platform >= -BUDGET_TOLERANCE_YUAN},
    }
