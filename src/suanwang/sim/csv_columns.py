"""CSV text from columns, a block of rows at a time, byte for byte as `csv.writer` (minimal
quoting, "\\r\\n" line ends) writes the same cells, built by Arrow's vectorised string kernels.

Floats are written with up to `digits` decimals, trailing zeros and a trailing point removed,
"-0" written "0" and NaN as an empty cell (`sim.output._cell`, the per-value reference). The
decimals come from round(x * 10**digits) as an integer; where that product lies so close to a
half that its float rounding could round the other way than the exact decimal value (or is too
large for exact integers), the cell is formatted by Python instead: the text is always
Python's own correctly rounded `f"{x:.{digits}f}"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from suanwang.sim.output_cells import number_cell

_EXACT_LIMIT = 2.0**52  # |x * 10**digits| below this: integers and halves are exact floats
_TIE_MARGIN = 1e-15  # relative error of x * 10**digits (one rounding) is below 2**-53


def float_cells(values: np.ndarray, digits: int = 6) -> pa.StringArray:
    """`values` as decimal text with up to `digits` places, "" for NaN."""
    x = np.asarray(values, dtype=np.float64)
    scale = 10**digits
    with np.errstate(invalid="ignore", over="ignore"):
        y = x * float(scale)
        finite = np.isfinite(y) & (np.abs(y) < _EXACT_LIMIT)
        y0 = np.where(finite, y, 0.0)
        near_tie = np.abs(y0 - np.floor(y0) - 0.5) <= np.abs(y0) * _TIE_MARGIN
    m = np.rint(y0).astype(np.int64)
    whole, frac = np.divmod(np.abs(m), scale)
    frac_text = pc.utf8_rtrim(pc.utf8_lpad(pc.cast(pa.array(frac), pa.string()), digits, "0"),
                              "0")
    text = pc.utf8_rtrim(pc.binary_join_element_wise(
        pc.cast(pa.array(whole), pa.string()), frac_text, "."), ".")
    negative = m < 0
    if negative.any():  # (most columns have none: skip the pass)
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    slow = (~finite & ~np.isnan(x)) | (finite & near_tie)
    if slow.any():
        idx = np.flatnonzero(slow)
        exact = pa.array([number_cell(v, digits) for v in x[idx].tolist()], type=pa.string())
        text = pc.replace_with_mask(text, pa.array(slow), exact)
    nan = np.isnan(x)
    if nan.any():
        text = pc.replace_with_mask(text, pa.array(nan),
                                    pa.repeat(pa.scalar("", pa.string()), int(nan.sum())))
    return text


def int_cells(values: np.ndarray) -> pa.StringArray:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def quote(cell: str) -> str:
    """A text cell as `csv.writer` writes it (QUOTE_MINIMAL)."""
    if not any(ch in cell for ch in ',"\r\n'):
        return cell
    return '"' + cell.replace('"', '""') + '"'


def text_cells(values: Sequence[str] | pa.Array) -> pa.StringArray:
    """Text cells, quoted where they hold a comma, a quote or a line break."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
    needs = pc.match_substring_regex(arr, '[,"\r\n]')
    if not pc.any(needs).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, arr)


def write_rows(f: BinaryIO, columns: Sequence[pa.Array]) -> None:
    """Write rows of formatted cells (one array per column), each ending "\\r\\n", as UTF-8."""
    if not columns or len(columns[0]) == 0:
        return
    last = pc.binary_join_element_wise(columns[-1], "\r\n", "")  # (a short column)
    write_text(f, pc.binary_join_element_wise(*columns[:-1], last, ","))


def write_text(f: BinaryIO, rows: pa.Array | pa.ChunkedArray) -> None:
    """Write the values of a string array one after the other, as UTF-8."""
    for chunk in _chunks(rows):
        f.write(_string_data(chunk))


def _chunks(arr: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]


def _string_data(arr: pa.Array) -> pa.Buffer:
    """The concatenated values of a string array without nulls (its data buffer)."""
    if arr.null_count:
        raise ValueError("a CSV cell is null")
    if arr.type == pa.large_string():
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    else:
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)
    a, b = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    return arr.buffers()[2].slice(a, b - a)


def header(names: Sequence[str]) -> bytes:
    return (",".join(quote(n) for n in names) + "\r\n").encode("utf-8")
