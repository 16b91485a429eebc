"""Errors raised at the edge of the system, when input from outside is refused."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Input from outside (a network file, a trace, a job file) was refused.

    The message names where (`source`), which field, and the offending value, so that the user
    can fix it without reading code.
    """

    def __init__(self, source: str, field: str, value: Any, problem: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{source}: {field} = {value!r}: {problem}")
