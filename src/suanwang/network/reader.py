"""Typed access to a parsed YAML tree that raises `InputError` naming file and field."""

from __future__ import annotations

import math
import re
from typing import Any

from suanwang.bounds import NETWORK, Bound
from suanwang.errors import InputError


def network_bound(field: str, lo: float | None = None, hi: float | None = None,
                  lo_open: bool = False) -> Bound:
    """The documented range of a numeric field (`bounds.NETWORK` by its key), else lo..hi."""
    parts = [p for p in re.sub(r"\[\d+\]", "", field).split(".") if p != "value"]
    key = "snapshot_pflops" if len(parts) > 1 and parts[-2] == "pflops" else parts[-1]
    if key in NETWORK:
        return NETWORK[key]
    low = -math.inf if lo is None else lo
    if lo is not None and hi is not None:
        example = f"{(lo + hi) / 2:g}"
    else:
        example = f"{lo + 1:g}" if lo is not None else f"{hi - 1:g}" if hi is not None else "1"
    return Bound(low, math.inf if hi is None else hi, "", example, lo_open=lo_open)


class _Reader:
    """Typed access to a parsed YAML tree that raises `InputError` naming file and field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, value: Any, problem: str) -> InputError:
        return InputError(self.source, field, value, problem)

    def get(self, obj: Any, key: str, path: str) -> Any:
        if not isinstance(obj, dict):
            raise self.fail(path, obj, "must be a mapping")
        if key not in obj:
            raise self.fail(f"{path}.{key}" if path else key, None, "missing")
        return obj[key]

    def text(self, obj: Any, key: str, path: str) -> str:
        value = self.get(obj, key, path)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{path}.{key}" if path else key, value, "must be non-empty text")
        return value

    def number(
        self,
        value: Any,
        field: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
    ) -> float:
        bound = network_bound(field, lo, hi, lo_open)
        problem = bound.problem(value)
        if problem is None and lo is not None and (value <= lo if lo_open else value < lo):
            problem = f"must be {'>' if lo_open else '>='} {lo:g}: {bound.expected()}"
        if problem is not None:
            raise self.fail(field, value, problem)
        return bound.check(value)

    def sourced(self, obj: Any, key: str, path: str, **bounds: Any) -> float:
        """A number written as {value: X, source: "..."}; the source is mandatory."""
        field = f"{path}.{key}" if path else key
        node = self.get(obj, key, path)
        if not isinstance(node, dict):
            raise self.fail(field, node, "must be {value: <number>, source: <text>}, e.g. "
                                          "{value: 1.25, source: \"seed 003\"}")
        source = node.get("source")
        if not isinstance(source, str) or not source.strip():
            raise self.fail(f"{field}.source", source, "every number needs a source")
        return self.number(node.get("value"), f"{field}.value", **bounds)

    def seq(self, obj: Any, key: str, path: str, *, required: bool = True) -> list[Any]:
        if not required and (not isinstance(obj, dict) or key not in obj):
            return []
        value = self.get(obj, key, path)
        if not isinstance(value, list):
            raise self.fail(f"{path}.{key}" if path else key, value,
                            "must be a list (lines starting with -, or [a, b])")
        return value
