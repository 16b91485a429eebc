"""Tenant accounts (租户账户): limits checked when a job is submitted, a prepaid balance with a
hold at placement and settlement at the end, and a monthly carbon budget. Pure functions on
immutable values; every change is an entry in the account's record."""

from suanwang.accounts.account import (
    Account,
    Entry,
    Limits,
    Refusal,
    check,
    hold,
    open_account,
    release,
    set_limits,
    settle,
    top_up,
)
from suanwang.accounts.worst_case import worst_case_bill

__all__ = ["Account", "Entry", "Limits", "Refusal", "check", "hold", "open_account", "release",
           "set_limits", "settle", "top_up", "worst_case_bill"]
