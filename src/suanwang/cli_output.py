"""What the offline commands print, and how tables are laid out so that no number is ever cut.

On a terminal a table is boxed and fits the terminal's width: headers wrap at their spaces,
names may wrap at theirs, numbers never wrap or shrink; when the columns do not fit side by side
the table is split into parts, each repeating the key columns (the row's name), in column order.
Written to a file or a pipe, the table is plain (no box drawing) at its full width, one line per
row. Every table-printing command goes through `print_table`, so a column added later is laid out
by the same rules.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

# the width of a line written to a file or a pipe: in effect, never wrap
PLAIN_WIDTH = 100_000
# a name column (it wraps at spaces, and folds a longer word) gets at least this width
WRAP_MIN_WIDTH = 24
# cells of a boxed table: one space of padding each side and one border, plus the outer border
BOX_OVERHEAD_PER_COLUMN = 3
BOX_OVERHEAD = 1


def stdout() -> Console:
    """The console a command prints to: the terminal at its width, or plain text at full width
    when stdout is a file or a pipe (Rich's detection: TTY_COMPATIBLE, FORCE_COLOR, isatty)."""
    console = Console()
    if console.is_terminal:
        return console
    return Console(width=PLAIN_WIDTH)


@dataclass(frozen=True)
class Column:
    """A table column: `header` ("energy MWh\\n能耗": English over Chinese) and its alignment.

    `key` columns name the row and are repeated in every part of a split table; `wrap` columns
    hold text that may wrap at its spaces (site names); all others hold figures, never wrapped.
    """

    header: str
    justify: Literal["left", "right"] = "right"
    key: bool = False
    wrap: bool = False


def _cell_width(markup: str) -> int:
    return max((Text.from_markup(line).cell_len for line in markup.split("\n")), default=0)


def _longest_word(markup: str) -> int:
    words = Text.from_markup(markup).plain.split()
    return max((Text(w).cell_len for w in words), default=0)


def column_widths(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[int]:
    """The width each column needs on a terminal: a figure's full width and a header's longest
    word; a name column's cells up to WRAP_MIN_WIDTH (longer ones wrap or fold)."""
    widths = []
    for i, col in enumerate(columns):
        cells = [r[i] for r in rows]
        header = _longest_word(col.header)
        full = max((_cell_width(c) for c in cells), default=0)
        if col.wrap:
            widths.append(max(header, min(full, WRAP_MIN_WIDTH)))
        else:
            widths.append(max(header, full))
    return widths


def natural_widths(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[int]:
    """The width each column takes when nothing wraps (its longest header line or cell)."""
    return [max([_cell_width(col.header), *(_cell_width(r[i]) for r in rows)])
            for i, col in enumerate(columns)]


def _box_width(widths: Sequence[int]) -> int:
    return sum(widths) + BOX_OVERHEAD_PER_COLUMN * len(widths) + BOX_OVERHEAD


def split_columns(columns: Sequence[Column], widths: Sequence[int], width: int) -> list[list[int]]:
    """Column indices of each part of a boxed table at most `width` wide: the key columns in
    every part, the others in their order, in as few parts as fit, as even as possible.

    A column too wide to share a part with the keys gets a part of its own (wider than `width`:
    the terminal folds it, never cuts it).
    """
    keys = [i for i, c in enumerate(columns) if c.key]
    others = [i for i, c in enumerate(columns) if not c.key]
    key_width = sum(widths[i] for i in keys)

    def part_width(group: Sequence[int]) -> int:
        return _box_width([key_width, *(widths[i] for i in group)]) - (
            BOX_OVERHEAD_PER_COLUMN * (1 - len(keys)))

    # the fewest parts: greedily, in order
    count, current = 1, []
    for i in others:
        if current and part_width([*current, i]) > width:
            count, current = count + 1, [i]
        else:
            current.append(i)
    # the most even split into that many contiguous parts: least widest part (n is small)
    best: dict[tuple[int, int], tuple[int, list[list[int]]]] = {}

    def split(start: int, parts: int) -> tuple[int, list[list[int]]]:
        if (start, parts) in best:
            return best[(start, parts)]
        rest = others[start:]
        if parts == 1:
            result = (part_width(rest), [rest])
        else:
            result = (10**9, [])
            for end in range(start + 1, len(others) - parts + 2):
                head = others[start:end]
                tail_w, tail = split(end, parts - 1)
                w = max(part_width(head), tail_w)
                if w < result[0]:
                    result = (w, [head, *tail])
        best[(start, parts)] = result
        return result

    groups = split(0, min(count, len(others))) if others else (0, [[]])
    return [sorted([*keys, *g]) for g in groups[1]]


def fit_widths(columns: Sequence[Column], need: Sequence[int], natural: Sequence[int],
               width: int) -> list[int]:
    """Widths of a part's columns: what each needs, then the room left given column by column
    towards its natural width, figures first (so that their headers wrap only as they must),
    then names."""
    out = list(need)
    room = width - _box_width(out)
    order = [i for i, c in enumerate(columns) if not c.wrap] + [
        i for i, c in enumerate(columns) if c.wrap]
    for i in order:
        grow = max(0, min(natural[i] - out[i], room))
        out[i] += grow
        room -= grow
    return out


def print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], *,
                section_ends: Collection[int] = (), console: Console | None = None) -> None:
    """Print rows of cells (Rich markup) under `columns`; `section_ends` are the indices of rows
    followed by a rule. See the module docstring for the layout."""
    con = console if console is not None else stdout()
    if not con.is_terminal:
        # plain text: the table at its natural width, without the padding after the last column
        with con.capture() as captured:
            con.print(_table(columns, rows, section_ends, None))
        lines = [line.rstrip() for line in captured.get().splitlines()]
        con.print("\n".join([title, *lines]), markup=False, highlight=False, soft_wrap=True)
        return
    need = column_widths(columns, rows)
    natural = natural_widths(columns, rows)
    parts = split_columns(columns, need, con.width)
    for n, part in enumerate(parts, start=1):
        widths = fit_widths([columns[i] for i in part], [need[i] for i in part],
                            [natural[i] for i in part], con.width)
        con.print(title if len(parts) == 1 else f"{title} ({n}/{len(parts)})", highlight=False)
        con.print(_table([columns[i] for i in part], [[r[i] for i in part] for r in rows],
                         section_ends, widths))


def _table(columns: Sequence[Column], rows: Sequence[Sequence[str]],
           section_ends: Collection[int], widths: Sequence[int] | None) -> Table:
    """A plain table (`widths` None: no box, every column at its natural width) or a boxed one
    with the columns at `widths` (headers and name columns wrap within them)."""
    t = Table(box=None, pad_edge=False) if widths is None else Table(box=box.HEAVY_HEAD)
    for i, col in enumerate(columns):
        if widths is None:
            t.add_column(col.header, justify=col.justify, no_wrap=True)
        else:
            # a fixed width that holds every figure in full; fold, never an ellipsis, at worst
            t.add_column(col.header, justify=col.justify, width=widths[i], overflow="fold")
    for k, row in enumerate(rows):
        t.add_row(*row, end_section=k in section_ends)
    return t
