"""Policies by name. Adding a policy: one new module, one line here."""

from __future__ import annotations

from collections.abc import Callable

from suanwang.core.policy import Policy
from suanwang.policies.cheapest import CheapestPolicy
from suanwang.policies.green_window import GreenWindowPolicy
from suanwang.policies.greenest import GreenestPolicy
from suanwang.policies.nearest import NearestPolicy

POLICIES: dict[str, Callable[[], Policy]] = {
    "nearest": NearestPolicy,
    "cheapest": CheapestPolicy,
    "greenest": GreenestPolicy,
    "green-window": GreenWindowPolicy,
}


class UnknownPolicyError(ValueError):
    pass


def make_policy(name: str) -> Policy:
    """A fresh policy instance by name; an unknown name lists the valid ones."""
    factory = POLICIES.get(name)
    if factory is None:
        raise UnknownPolicyError(
            f"unknown policy {name!r}; choose one of: {', '.join(POLICIES)}")
    return factory()
