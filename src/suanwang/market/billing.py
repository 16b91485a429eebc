"""A job the call auction placed is billed at its round's clearing price: the same pieces
(hour by hour over its run) as the provider's price items would bill, each at the clearing
price per unit-hour, plus the provider's egress for its input data (the transit the buyer
paid in the clearing, `market.clearing`)."""

from __future__ import annotations

from dataclasses import replace

from suanwang.pricing.bill import Bill


def market_item_id(round_id: str) -> str:
    """The price item a market job's bill lines name: the round that set the price."""
    return f"market:{round_id}"


def at_clearing_price(bill: Bill, price_yuan_per_unit_h: float, round_id: str) -> Bill:
    """`bill` with every compute line at `price_yuan_per_unit_h` (egress unchanged)."""
    item = market_item_id(round_id)
    lines = tuple(replace(x, item_id=item, unit_price_yuan=price_yuan_per_unit_h,
                          cost_yuan=price_yuan_per_unit_h * x.unit_h) for x in bill.lines)
    return replace(bill, lines=lines, compute_yuan=sum(x.cost_yuan for x in lines))
