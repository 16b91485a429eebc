"""Typed access to a parsed YAML tree that raises `InputError` naming file and field."""

from __future__ import annotations

import math
from typing import Any

from suanwang.errors import InputError


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
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, value, "must be a number")
        x = float(value)
        if not math.isfinite(x):
            raise self.fail(field, value, "must be finite")
        if lo is not None and (x <= lo if lo_open else x < lo):
            raise self.fail(field, value, f"must be {'>' if lo_open else '>='} {lo:g}")
        if hi is not None and x > hi:
            raise self.fail(field, value, f"must be <= {hi:g}")
        return x

    def sourced(self, obj: Any, key: str, path: str, **bounds: Any) -> float:
        """A number written as {value: X, source: "..."}; the source is mandatory."""
        field = f"{path}.{key}" if path else key
        node = self.get(obj, key, path)
        if not isinstance(node, dict):
            raise self.fail(field, node, "must be {value: <number>, source: <text>}")
        source = node.get("source")
        if not isinstance(source, str) or not source.strip():
            raise self.fail(f"{field}.source", source, "every number needs a source")
        return self.number(node.get("value"), f"{field}.value", **bounds)

    def seq(self, obj: Any, key: str, path: str, *, required: bool = True) -> list[Any]:
        if not required and (not isinstance(obj, dict) or key not in obj):
            return []
        value = self.get(obj, key, path)
        if not isinstance(value, list):
            raise self.fail(f"{path}.{key}" if path else key, value, "must be a list")
        return value
