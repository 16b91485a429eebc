"""The compact ledger: Parquet columns from which every line is recomputed byte for byte; a
changed value is caught by the head and the checkpoints kept beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from typer.testing import CliRunner

from suanwang.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def expanded_beside(hand_dir: Path, compact: Path, tmp_path: Path) -> Path:
    out = tmp_path / "expanded"
    out.mkdir()
    for name in ("ledger.head.json", "ledger.checkpoints.jsonl", "ledger.pub",
                 "ledger.summaries.jsonl"):
        shutil.copy(hand_dir / name, out / name)
    code, text = invoke("ledger", "expand", str(compact), "--out", str(out / "ledger.jsonl"))
    assert code == 0, text
    return out


def test_compact_and_expand_give_the_same_bytes(hand_dir: Path, tmp_path: Path) -> None:
    code, out = invoke("ledger", "compact", str(hand_dir))
    assert code == 0 and "6 records" in out, out
    compact = hand_dir / "ledger.parquet"
    assert "hash" not in pq.read_schema(compact).names  # nothing derived is stored
    back = expanded_beside(hand_dir, compact, tmp_path)
    assert (back / "ledger.jsonl").read_bytes() == (hand_dir / "ledger.jsonl").read_bytes()
    code, out = invoke("ledger", "verify", str(back))
    assert code == 0, out


def test_a_changed_value_in_the_compact_file_is_caught(hand_dir: Path,
                                                       tmp_path: Path) -> None:
    invoke("ledger", "compact", str(hand_dir), "--out", str(tmp_path / "l.parquet"))
    table = pq.read_table(tmp_path / "l.parquet")
    green = table.column("green_ukwh")
    bumped = pc.add(green, pa.array([1] + [0] * (len(green) - 1), type=pa.int64()))
    pq.write_table(table.set_column(table.schema.get_field_index("green_ukwh"), "green_ukwh",
                                    bumped), tmp_path / "l.parquet")
    back = expanded_beside(hand_dir, tmp_path / "l.parquet", tmp_path)
    code, out = invoke("ledger", "verify", str(back))
    assert code == 1 and "FAILED" in out and "differs from the head" in out.replace("\n", " ")


def test_expand_refuses_what_is_not_a_compact_ledger(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_text("nope", encoding="utf-8")
    code, out = invoke("ledger", "expand", str(tmp_path / "x.parquet"), "--out",
                       str(tmp_path / "l.jsonl"))
    assert code == 2 and "not a compact ledger" in out.replace("\n", " ")
