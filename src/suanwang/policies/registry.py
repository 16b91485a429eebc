"""Policies by name. Adding a policy: one new module, one line here.

`POLICIES` decide online, on what the scheduler hands them. `OFFLINE_POLICIES` plan ahead on
the whole trace and the actual series (a `PolicyContext`): the simulator can run them, the live
service cannot.
"""

from __future__ import annotations

from collections.abc import Callable

from suanwang.core.policy import Policy
from suanwang.planning.context import PolicyContext
from suanwang.policies.cheapest import CheapestPolicy
from suanwang.policies.green_window import GreenWindowPolicy
from suanwang.policies.greenest import GreenestPolicy
from suanwang.policies.nearest import NearestPolicy
from suanwang.policies.optimal import OptimalPolicy
from suanwang.policies.rolling import RollingPolicy

POLICIES: dict[str, Callable[[], Policy]] = {
    "nearest": NearestPolicy,
    "cheapest": CheapestPolicy,
    "greenest": GreenestPolicy,
    "green-window": GreenWindowPolicy,
    "rolling": RollingPolicy,
}
OFFLINE_POLICIES: dict[str, Callable[[PolicyContext], Policy]] = {
    "optimal": OptimalPolicy,
}


class UnknownPolicyError(ValueError):
    pass


def make_policy(name: str, context: PolicyContext | None = None) -> Policy:
    """A fresh policy instance by name; an unknown name lists the valid ones. An offline
    policy needs `context`; online ones ignore it."""
    factory = POLICIES.get(name)
    if factory is not None:
        return factory()
    offline = OFFLINE_POLICIES.get(name)
    if offline is None:
        raise UnknownPolicyError(f"unknown policy {name!r}; choose one of: "
                                 f"{', '.join([*POLICIES, *OFFLINE_POLICIES])}")
    if context is None:
        raise ValueError(f"policy {name!r} plans offline: it needs the whole trace and the "
                         "actual energy series (a PolicyContext)")
    return offline(context)
