"""A task run in a forked child process beside the parent's own work: the way a run's files are
written on two cores at once (`sim.output.write_run`: some tenants' invoices in the child,
jobs.csv and the rest in the parent).

The child shares the parent's memory copy-on-write: it should read arrays (numpy, Arrow), not
millions of Python objects, whose reference counts it would write (each page it writes is
copied). The cyclic collector is frozen in the parent for the child's life and off in the
child, so that neither walks (and so copies) the other's objects. A child that fails makes
the parent raise, with the child's traceback. Where `os.fork` does not exist, the task runs in
the parent after its own work.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["BesideError", "beside", "can_fork"]

_MESSAGE_BYTES = 8000  # the end of a failing child's traceback sent to the parent


class BesideError(RuntimeError):
    """The task run in the child process failed."""


def can_fork() -> bool:
    return hasattr(os, "fork")


@contextmanager
def beside(task: Callable[[], object], fork: bool = True) -> Iterator[None]:
    """Run `task` in a child process while the block runs; wait for it when the block ends.
    Raises BesideError if the task failed (after the block's own error, if any, is raised
    instead). With `fork` False (or no `os.fork`), the task runs after the block."""
    if not (fork and can_fork()):
        yield
        task()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()  # the objects alive now: never walked by the parent's collector meanwhile
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        code = 0
        try:
            task()
        except BaseException:  # whatever it is, the parent reports it
            os.write(write_end, traceback.format_exc().encode("utf-8")[-_MESSAGE_BYTES:])
            code = 1
        os._exit(code)
    os.close(write_end)
    if was_enabled:
        gc.enable()
    try:
        yield
    except BaseException:
        _wait(pid, read_end)  # the block's error is the one raised
        raise
    code, message = _wait(pid, read_end)
    if code != 0:
        raise BesideError(f"the task in the child process failed (exit {code}):\n"
                          f"{message.decode('utf-8', 'replace')}")


def _wait(pid: int, read_end: int) -> tuple[int, bytes]:
    """The child's exit code and what it wrote, once it has ended."""
    try:
        message = _read_all(read_end)
        _, status = os.waitpid(pid, 0)
    finally:
        gc.unfreeze()
    return os.waitstatus_to_exitcode(status), message


def _read_all(fd: int) -> bytes:
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)
