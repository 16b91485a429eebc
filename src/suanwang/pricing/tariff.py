"""Which price item is in force when: the latest item of the kind whose `effective_from` is at
or before the instant (a new item supersedes, nothing is edited). Time-of-use factors apply by
the local hour of day (China time, UTC+8)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from suanwang.model import Kind, PriceItem, Provider

CHINA_TZ = timezone(timedelta(hours=8))


class PricingError(ValueError):
    """No price is in force for a provider's kind at an instant."""


def item_in_force(items: Sequence[PriceItem], at: datetime) -> PriceItem:
    """The item of `items` (one kind, sorted by effective_from) in force at `at`."""
    best: PriceItem | None = None
    for item in items:
        if item.effective_from <= at:
            best = item
        else:
            break
    if best is None:
        first = items[0].effective_from.isoformat() if items else "never"
        raise PricingError(f"no price in force at {at.isoformat()} (the first item is "
                           f"effective from {first})")
    return best


def unit_price_at(item: PriceItem, at: datetime) -> float:
    """Yuan per unit-hour of `item` at `at`, its time-of-use factor applied."""
    return item.yuan_per_unit_h * item.factor_at(at.astimezone(CHINA_TZ).hour)


def hourly_unit_prices(provider: Provider, kind: Kind, clock_start: datetime,
                       hours: int) -> tuple[list[float], list[str]]:
    """Yuan per unit-hour and the item id in force in each clock hour 0..hours-1 (the price at
    the hour's start; items and time-of-use windows change on whole hours)."""
    items = provider.items(kind)
    prices: list[float] = []
    ids: list[str] = []
    for h in range(hours):
        at = clock_start + timedelta(hours=h)
        try:
            item = item_in_force(items, at)
        except PricingError as exc:
            raise PricingError(f"{provider.id} at {provider.site_id}, {kind.value}: "
                               f"{exc}") from None
        prices.append(unit_price_at(item, at))
        ids.append(item.item_id)
    return prices, ids
