"""The one rule for the text of an input file, applied by every reader (YAML and CSV alike).

Accepted: UTF-8, with or without a byte-order mark (it is dropped), with LF or CRLF line ends.
Refused, naming what was found and where (byte offset and line):

- UTF-16 or UTF-32 (by their byte-order mark, or by NUL bytes every other byte without one);
- text in another encoding (GBK/GB18030 is named when the bytes read as Chinese in it);
- a NUL byte, or another control byte (C0 other than tab, LF, CR), which no text file holds;
- binary data (an image, an archive, random bytes).

Every refusal is an `InputError.file(path, "not UTF-8 text: ...")` or `"... not a text file"`.
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path

from suanwang.errors import InputError, reading

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32 (little-endian)"),
    (codecs.BOM_UTF32_BE, "UTF-32 (big-endian)"),
    (codecs.BOM_UTF16_LE, "UTF-16 (little-endian)"),
    (codecs.BOM_UTF16_BE, "UTF-16 (big-endian)"),
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # C0 but tab, LF, CR
_CHUNK = 1 << 20
MAX_TABLE_BYTES = 512 * 1024 * 1024  # a CSV table (a trace, a job file, a measured series)
SAVE_AS = "save it as UTF-8 (with or without BOM)"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _where(data: bytes, offset: int) -> str:
    return f"at byte offset {offset:,} (line {_line_of(data, offset)})"


def _utf16_without_bom(data: bytes) -> str | None:
    """'UTF-16 (...)' when every other byte of the start is NUL, as in UTF-16 ASCII text."""
    head = data[:512]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.8 * len(odd) and even.count(0) < 0.2 * len(even):
        return "UTF-16 (little-endian)"
    if even.count(0) > 0.8 * len(even) and odd.count(0) < 0.2 * len(odd):
        return "UTF-16 (big-endian)"
    return None


def _looks_gbk(data: bytes) -> bool:
    """True when the bytes read as GBK text whose non-ASCII characters are mostly Chinese."""
    try:
        text = data.decode("gbk")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            return False
    wide = [ch for ch in text if ord(ch) > 127]
    cjk = sum(1 for ch in wide if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    return bool(wide) and cjk >= 0.8 * len(wide) and _CONTROL.search(text) is None


def _looks_binary(data: bytes) -> bool:
    head = data[:4096]
    return sum(1 for b in head if b < 9 or 13 < b < 32 or b == 11 or b == 12) > 2


def decode_input(path: str | Path, data: bytes, complete: bool = True) -> str:
    """The text of an input file's bytes by the rule above; `InputError` naming `path` if not.

    `complete=False`: `data` is only the start of the file (a character may be cut at its end).
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputError.file(path, f"not UTF-8 text: it is {name} (byte-order mark "
                                        f"{bom.hex(' ').upper()}); {SAVE_AS}")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        raise InputError.file(path, f"not UTF-8 text: it looks like {utf16} without a "
                                    f"byte-order mark (NUL bytes every other byte); {SAVE_AS}")
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        if _looks_binary(data):
            raise InputError.file(path, f"not a text file: binary data (byte 0x{byte:02x} "
                                        f"{_where(data, exc.start)}); a UTF-8 text file "
                                        "was expected") from None
        if _looks_gbk(data):
            found = "it looks like GBK/GB18030 (Chinese) text"
        else:
            found = "an encoding other than UTF-8"
        raise InputError.file(path, f"not UTF-8 text: {found} (byte 0x{byte:02x} "
                                    f"{_where(data, exc.start)}); {SAVE_AS}") from None
    bad = _CONTROL.search(text)
    if bad is not None:
        ch = bad.group()
        offset = len(text[:bad.start()].encode("utf-8"))
        what = "a NUL byte" if ch == "\0" else f"the control byte 0x{ord(ch):02x}"
        raise InputError.file(path, f"not a text file: {what} {_where(data, offset)}; "
                                    "a UTF-8 text file has none")
    return text


def read_input_text(path: str | Path, max_bytes: int | None = None) -> str:
    """The text of the input file at `path` (see the module's rule); OS errors as `InputError`.

    `max_bytes`: a larger file is refused before it is read.
    """
    file = Path(path)
    chunks: list[bytes] = []
    total, complete = 0, True
    with reading(file), file.open("rb") as f:
        while chunk := f.read(_CHUNK):
            chunks.append(chunk)
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise InputError.file(file, f"too large: over {max_bytes:,} bytes, the most "
                                            "such a file may have")
            if b"\0" in chunk:  # no text holds one: refused below, whatever follows
                complete = False  # (so /dev/zero or a huge binary file is not read whole)
                break
    return decode_input(file, b"".join(chunks), complete)


def open_input_text(path: str | Path, max_bytes: int = MAX_TABLE_BYTES) -> io.StringIO:
    """The checked text of `path` as a stream for `csv.reader` (line ends kept as written)."""
    return io.StringIO(read_input_text(path, max_bytes), newline="")
