"""A task run in a forked child process beside the parent's own work: the way a run's files are
written on two cores at once (`sim.output.write_run`: some tenants' invoices in the child,
jobs.csv and the rest in the parent).

The child shares the parent's memory copy-on-write: it should read arrays (numpy, Arrow), not
millions of Python objects, whose reference counts it would write (each page it writes is
copied). The cyclic collector is frozen in the parent for the child's life and off in the
child, so that neither walks (and so copies) the other's objects. The task's return value
comes back pickled (the energy series made beside the jobs, `cli.simulate`); its error is
raised in the parent. Where `os.fork` does not exist, the task runs in the parent after its
own work.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["BesideError", "Outcome", "beside", "can_fork"]

_MESSAGE_CHARS = 8000  # the end of a failing child's traceback sent to the parent


class BesideError(RuntimeError):
    """The child process ended without a result (killed, or its result could not be sent)."""


class Outcome:
    """What the task returned (`value`), once the block has ended."""

    value: Any = None


def can_fork() -> bool:
    return hasattr(os, "fork")


@contextmanager
def beside(task: Callable[[], object], fork: bool = True) -> Iterator[Outcome]:
    """Run `task` in a child process while the block runs; wait for it when the block ends,
    and give its return value (pickled back) as the `Outcome`'s value. The task's own error is
    raised in the parent when the block ends (unless the block raised first). With `fork`
    False (or no `os.fork`), the task runs after the block, in this process."""
    outcome = Outcome()
    if not (fork and can_fork()):
        yield outcome
        outcome.value = task()
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
        try:
            payload = pickle.dumps(("value", task()))
        except BaseException as exc:  # whatever it is, the parent raises it
            try:
                payload = pickle.dumps(("error", exc))
            except Exception:  # (an error that cannot be pickled: its traceback)
                payload = pickle.dumps(("failed", traceback.format_exc()[-_MESSAGE_CHARS:]))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    if was_enabled:
        gc.enable()
    try:
        yield outcome
    except BaseException:
        _wait(pid, read_end)  # the block's error is the one raised
        raise
    code, payload = _wait(pid, read_end)
    if code != 0 or not payload:
        raise BesideError(f"the child process ended with code {code} and no result")
    kind, obj = pickle.loads(payload)
    if kind == "error":
        raise obj
    if kind == "failed":
        raise BesideError(f"the task in the child process failed:\n{obj}")
    outcome.value = obj


def _wait(pid: int, read_end: int) -> tuple[int, bytes]:
    """The child's exit code and what it sent, once it has ended."""
    try:
        payload = _read_all(read_end)
        _, status = os.waitpid(pid, 0)
    finally:
        gc.unfreeze()
    return os.waitstatus_to_exitcode(status), payload


def _read_all(fd: int) -> bytes:
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)
