"""Tables as a user sees them: on terminals 80, 120 and 200 columns wide and written to a file,
every figure is printed in full (never cut, never an ellipsis), and no line is wider than the
terminal."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.cli_output import Column, print_table

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = set("┃│━─┏┓┗┛┡┩╇┼├┤└┘┴┬")
DEMAND = ["--jobs", "600", "--days", "1", "--seed", "3",
          "--policies", "nearest,cheapest,greenest,green-window"]


def run_compare(tmp_path: Path, env: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    result = runner.invoke(app, ["compare", *DEMAND, "--out", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "compare.json").read_text(encoding="utf-8"))
    return ANSI.sub("", result.stdout), rows


def figures(row: dict[str, Any]) -> list[str]:
    """Every figure compare prints for a policy, formatted as compare formats it."""
    return [f"{row['energy_kwh'] / 1000:,.0f}", f"{row['green_share']:.1%}",
            f"{row['carbon_t']:,.0f}", f"{row['cost_yuan'] / 1e4:,.0f}",
            f"{row['west_energy_share']:.0%}", f"{row['carbon_to_bound']:.2f}",
            f"{row['cost_to_bound']:.2f}", f"{row['jobs_per_s']:,.0f}"]


def cells(text: str) -> set[str]:
    """The cells of every table row printed (box or plain), stripped."""
    out: set[str] = set()
    for line in text.splitlines():
        for cell in re.split(r"[│┃]| {2,}", line):
            out.add(cell.strip())
    return out


@pytest.mark.parametrize("width", [80, 120, 200])
def test_compare_on_a_terminal_prints_every_figure_in_full(tmp_path: Path, width: int) -> None:
    text, rows = run_compare(tmp_path, {"COLUMNS": str(width), "TTY_COMPATIBLE": "1"})
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    printed = cells(text)
    for row in rows:
        for figure in figures(row):
            assert any(c == figure or c.startswith(figure + " (") or c.startswith(figure + ",")
                       or c.endswith(", " + figure) for c in printed), (row["policy"], figure)
    # narrower than the table: split into parts, each naming the policies again
    parts = text.count(rows[0]["network"])
    if width < 160:
        assert parts >= 2
        assert text.count("green-window") == parts
    else:
        assert parts == 1


def test_compare_into_a_file_is_a_plain_table_one_line_per_policy(tmp_path: Path) -> None:
    text, rows = run_compare(tmp_path, {"TTY_COMPATIBLE": "0"})
    assert not BOX & set(text), "no box drawing in a file"
    assert "…" not in text
    lines = text.splitlines()
    for row in rows:
        [line] = [x for x in lines if x.split(" ")[0] == row["policy"]]
        for figure in figures(row):
            assert figure in line.split("  ") or f" {figure}" in line, (row["policy"], figure)
        assert line == line.rstrip()
    assert any(line.startswith("LP bound 下界") for line in lines)


def test_a_column_added_later_is_laid_out_by_the_same_rules() -> None:
    # as a 'tenant bill' column would be: a wide figure and a two-language header
    columns = [Column("policy\n策略", "left", key=True), Column("energy MWh\n能耗"),
               Column("carbon t\n碳排"), Column("tenant bill ¥\n租户账单")]
    rows = [["nearest", "331,491", "95,596 (-44%)", "123,456,789,012"],
            ["green-window", "327,518", "44,209 (-54%)", "98,765,432,101"]]
    for width in (40, 60, 200):
        buf = io.StringIO()
        print_table("bills", columns, rows, console=Console(file=buf, width=width,
                                                             force_terminal=True,
                                                             color_system=None))
        text = buf.getvalue()
        for row in rows:
            for cell in row:
                assert cell in text, (width, cell)
        assert "…" not in text
        assert max(len(line) for line in text.splitlines()) <= width
