"""A job the call auction placed is billed at its round's clearing price: the same pieces
(hour by hour over its run) as the provider's price items would bill, each at the clearing
price per unit-hour, plus the provider's egress for its input data (the transit the buyer
paid in the clearing, `market.clearing`).

A job whose tenant accepted the posted price (`accept_posted_price`, its `market_round` is
`POSTED_ROUND`) is billed the same way at its posted quote: the unit-hour-weighted mean of the
posted prices (`market.posted`) of its slice over the hours it was placed to compute in, as
posted when it was placed (an hour not posted yet: its floor), so that a run as placed costs
sum over its hours of posted price x unit-hours, plus egress. Its bill lines name the item
`POSTED_ITEM`."""

from __future__ import annotations

from dataclasses import replace

from suanwang.pricing.bill import POSTED_ITEM, Bill

POSTED_ROUND = "posted"  # a job's `market_round` when its tenant accepted the posted price


def market_item_id(round_id: str) -> str:
    """The price item a market job's bill lines name: the round that set the price, or
    `POSTED_ITEM` for a job billed at its posted quote."""
    return POSTED_ITEM if round_id == POSTED_ROUND else f"market:{round_id}"


def at_clearing_price(bill: Bill, price_yuan_per_unit_h: float, round_id: str) -> Bill:
    """`bill` with every compute line at `price_yuan_per_unit_h` (egress unchanged)."""
    item = market_item_id(round_id)
    lines = tuple(replace(x, item_id=item, unit_price_yuan=price_yuan_per_unit_h,
                          cost_yuan=price_yuan_per_unit_h * x.unit_h) for x in bill.lines)
    return replace(bill, lines=lines, compute_yuan=sum(x.cost_yuan for x in lines))
