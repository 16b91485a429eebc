"""The Chinese font of the bulletin and the certificates, so that they read on a machine with no
Chinese font: each HTML page embeds (base64 `@font-face`) the shipped Noto Sans SC cut to the
characters on that page, and the zh bulletin's charts draw their labels with it.

The shipped font (`fonts/noto-sans-sc-pages-400.woff`, SIL OFL 1.1, built by
`scripts/build_page_font.py`) holds GB 2312 level 1, every Chinese character of the report and
ledger sources and bundled data, and punctuation; a character it lacks falls back to the
browser's fonts.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

FONT_FILE = "noto-sans-sc-pages-400.woff"
# the family name pages use for the embedded face (put first in their font-family lists)
PAGE_FAMILY = "Suanwang Noto Sans SC"
# the characters a page's embedded face carries: CJK, CJK punctuation, full-width forms
PAGE_CHARS = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


@lru_cache(maxsize=1)
def font_bytes() -> bytes:
    """The shipped font file (WOFF)."""
    return (resources.files("suanwang.report") / "fonts" / FONT_FILE).read_bytes()


@lru_cache(maxsize=1)
def font_chars() -> frozenset[str]:
    """Every character the shipped font has a glyph for."""
    return frozenset(map(chr, TTFont(io.BytesIO(font_bytes())).getBestCmap()))


def subset_woff(chars: str) -> bytes:
    """The shipped font cut to `chars` (those it has), as WOFF; names and licence kept."""
    font = TTFont(io.BytesIO(font_bytes()))
    options = subset.Options()
    options.flavor = "woff"
    options.name_IDs = ["*"]
    options.notdef_outline = True
    sub = subset.Subsetter(options)
    sub.populate(text=chars)
    sub.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def page_font_face(page_text: str) -> str:
    """A CSS `@font-face` of family PAGE_FAMILY embedding the glyphs of every Chinese character
    in `page_text` (a data: URL), or "" when the text has none."""
    chars = "".join(sorted(set(PAGE_CHARS.findall(page_text)) & font_chars()))
    if not chars:
        return ""
    data = base64.b64encode(subset_woff(chars)).decode("ascii")
    return (f'@font-face{{font-family:"{PAGE_FAMILY}";font-weight:400;font-style:normal;'
            f'font-display:block;src:url(data:font/woff;base64,{data}) format("woff")}}\n')


@lru_cache(maxsize=1)
def chart_font_path() -> Path:
    """The shipped font as a TrueType file matplotlib can load (converted from WOFF once, kept
    in the temporary directory under its content's hash)."""
    raw = font_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / "suanwang-fonts" / f"noto-sans-sc-pages-{digest}.ttf"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        font = TTFont(io.BytesIO(raw))
        font.flavor = None
        part = path.with_suffix(f".{os.getpid()}.part")
        font.save(part)
        part.replace(path)
    return path


@lru_cache(maxsize=1)
def chart_font_family() -> str:
    """The family name of the chart font, registered with matplotlib's font manager."""
    from matplotlib import font_manager

    path = chart_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()
