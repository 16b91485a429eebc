"""Compute prices and the tenant's bill: price items in force hour by hour, plus egress.

- `tariff`: which price item is in force at an instant, and the hourly price of a provider's
  kind over a clock (time-of-use included).
- `bill`: the bill of one job (lines per hour and item, then egress), a pure function.
- `table`: the same prices as arrays per provider pool, for the simulator and the policies.
"""

from suanwang.pricing.bill import Bill, BillLine, job_bill
from suanwang.pricing.tariff import PricingError, item_in_force, unit_price_at

__all__ = ["Bill", "BillLine", "PricingError", "item_in_force", "job_bill", "unit_price_at"]
