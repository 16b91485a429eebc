"""Errors raised at the edge of the system, when input from outside is refused."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Input from outside (a network file, a trace, a job file) was refused.

    The message names where (`source`), which field, and the offending value, so that the user
    can fix it without reading code. A problem with the file itself (missing, a directory, not
    UTF-8) has no field: `InputError.file`. `line`, when known, is the file's line of the field.
    """

    def __init__(self, source: str, field: str | None, value: Any, problem: str, *,
                 line: int | None = None) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.problem = problem
        self.line = line  # the line of the file the field is on, when known
        at = "" if line is None else f"line {line}, "
        if field is None:
            super().__init__(f"{source}: {at}{problem}")
        else:
            super().__init__(f"{source}: {at}{field} = {_shown(value)}: {problem}")

    @classmethod
    def file(cls, path: str | Path, problem: str) -> InputError:
        """The file at `path` cannot be used as input, for the reason `problem`."""
        return cls(str(path), None, None, problem)


SHOWN_CHARS = 120  # a longer value is cut in the message (a 200,000-character field)


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS - 20]}... ({len(text):,} characters)"


_OS_PROBLEMS = {
    errno.ENOENT: "no such file or directory",
    errno.EISDIR: "is a directory, a file was expected",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EEXIST: "exists already and is not a directory",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "read-only file system",
}


def file_problem(exc: OSError | UnicodeDecodeError) -> str:
    """What is wrong with a file, in words, from the error reading or writing it raised."""
    if isinstance(exc, UnicodeDecodeError):
        return (f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start:,}); "
                "save it as UTF-8")
    return _OS_PROBLEMS.get(exc.errno or -1, exc.strerror or str(exc))


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Turn an OS or decoding error met while reading `path` into `InputError.file`."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise InputError.file(path, file_problem(exc)) from exc
    except OSError as exc:
        raise InputError.file(exc.filename or path, file_problem(exc)) from exc
