"""Giving the memory a step has freed back to the operating system before the next step grows.

A million-job run frees hundreds of MB of temporary arrays between its steps (demand columns,
accounting, the outputs' blocks); the C heap (glibc's malloc) and Arrow's allocator keep such
memory for reuse, so the process's resident size keeps it too, and the next step's Python
objects, which come from their own arenas, cannot reuse it. `give_back` hands the free pages
back (glibc `malloc_trim`, Arrow's `release_unused`): a few milliseconds, nothing changes but
the resident size.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

__all__ = ["give_back"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:  # (glibc's name: find_library would run a subprocess to look for it)
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def give_back() -> None:
    """Return the free memory of the C heap and of Arrow's pool to the operating system."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
