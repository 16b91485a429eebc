"""How the command line reports a user's error: one line naming what is wrong, exit code 2.

`Commands` is the command group of the `suanwang` app: whatever a command raises because of its
input (an `InputError`, a file that is missing, unreadable, a directory, or not UTF-8) ends as
that one line instead of a traceback, for every command, present and future.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from suanwang.errors import InputError, file_problem

USAGE_EXIT_CODE = 2


def fail(message: str, code: int = USAGE_EXIT_CODE) -> typer.Exit:
    """Print `error: message` on stderr (one line, never wrapped) and return the Exit to raise."""
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                               soft_wrap=True)
    return typer.Exit(code=code)


def user_error_message(exc: BaseException) -> str | None:
    """The one-line message for an error caused by the user's input, None for anything else."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"an input file is {file_problem(exc)}"
    if isinstance(exc, OSError) and exc.filename is not None:
        where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        return f"{where}: {file_problem(exc)}"
    return None


class Commands(TyperGroup):
    """A Typer group that turns the user's errors from any subcommand into `fail(...)`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (InputError, OSError, UnicodeDecodeError) as exc:
            message = user_error_message(exc)
            if message is None:
                raise
            raise fail(message) from None

