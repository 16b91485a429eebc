"""Placement policies, one module each, chosen by name from `registry.POLICIES`."""

from suanwang.policies.registry import POLICIES, UnknownPolicyError, make_policy

__all__ = ["POLICIES", "UnknownPolicyError", "make_policy"]
