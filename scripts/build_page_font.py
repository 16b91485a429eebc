"""Build the Chinese font of the bulletin and the certificates: src/suanwang/report/fonts/.

    python scripts/build_page_font.py

A developer's tool, run by hand when the pages' text changes (needs `npm` and fontTools, which
matplotlib brings); nothing is fetched at run time. The dashboard's font (web/vendor/) is cut to
the 288 characters the dashboard shows; the pages need more (their own wording, every site, hub
and region name, tenants' names), so this cuts a fuller subset from the same source,
`@fontsource/noto-sans-sc` (Noto Sans SC, SIL OFL 1.1), weight 400:

- the 3,755 characters of GB 2312 level 1 (the common ones, for names in other networks);
- every Chinese character in the report and ledger sources and the bundled data files;
- CJK and full-width punctuation, ASCII and the symbols the pages print (×, –, ·, CO₂, °).

It writes `noto-sans-sc-pages-400.woff`, `NOTO-SANS-SC-OFL.txt` and `README.md` (source,
characters, size, SHA-256). Pages embed a per-page subset of it (`suanwang.report.font`).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "suanwang"
OUT = PKG / "report" / "fonts"
SOURCE = "@fontsource/noto-sans-sc@5.3.0"
MEMBER = "package/files/noto-sans-sc-chinese-simplified-400-normal.woff"
FONT = "noto-sans-sc-pages-400.woff"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
SOURCES = ("report/*.py", "ledger/*.py", "cli*.py", "network/data/*.yaml", "energy/data/*.yaml",
           "network/data/*.csv", "web/*.js")
SYMBOLS = "×–—·•→←°²₂‰…“”‘’¥€"


def gb2312_level1() -> set[str]:
    """The 3,755 characters of GB 2312 level 1 (rows 16-55)."""
    out = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                out.add(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # row 55 ends at 0xD7F9
    return out


def required() -> set[str]:
    """GB 2312 level 1 and every Chinese character of the sources, ASCII and SYMBOLS."""
    chars = gb2312_level1()
    for pattern in SOURCES:
        for path in PKG.glob(pattern):
            chars |= set(CJK.findall(path.read_text(encoding="utf-8")))
    return chars | {chr(c) for c in range(0x20, 0x7F)} | set(SYMBOLS)


def punctuation() -> set[str]:
    """CJK and full-width punctuation, as far as the source font has it."""
    return {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF00, 0xFF66)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tgz = subprocess.run(["npm", "pack", "--silent", "--prefer-offline", SOURCE], cwd=tmp, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(Path(tmp) / tgz) as tar:
            woff = tar.extractfile(MEMBER)
            licence = tar.extractfile("package/LICENSE")
            if woff is None or licence is None:
                sys.exit(f"{SOURCE} lacks {MEMBER} or its LICENSE")
            src = Path(tmp) / "source.woff"
            src.write_bytes(woff.read())
            (OUT / "NOTO-SANS-SC-OFL.txt").write_bytes(licence.read())
        font = TTFont(src)
        have = set(map(chr, font.getBestCmap()))
        chars = (required() | punctuation()) & have
        missing = sorted(required() - have)
        options = subset.Options()
        options.flavor = "woff"
        options.name_IDs = ["*"]  # keep the copyright and licence names (OFL)
        options.notdef_outline = True
        sub = subset.Subsetter(options)
        sub.populate(text="".join(sorted(chars)))
        sub.subset(font)
        OUT.mkdir(parents=True, exist_ok=True)
        font.save(OUT / FONT)
    data = (OUT / FONT).read_bytes()
    (OUT / "README.md").write_text(
        "# The pages' Chinese font\n\n"
        "Written by `python scripts/build_page_font.py` (do not edit by hand).\n\n"
        f"`{FONT}`: Noto Sans SC, weight 400, from npm `{SOURCE}` "
        f"`{MEMBER.removeprefix('package/')}`, subset to {len(chars):,} characters (GB 2312 "
        "level 1, every Chinese character of the report and ledger sources and the bundled "
        "data, punctuation, ASCII). Licence: SIL Open Font License 1.1 "
        f"(`NOTO-SANS-SC-OFL.txt`, Google Inc.). {len(data):,} bytes, SHA-256 "
        f"`{hashlib.sha256(data).hexdigest()}`.\n\n"
        "The bulletin and certificate pages embed, as a base64 `@font-face`, a subset of it cut "
        "to the characters of each page; the zh bulletin's charts draw their labels with it.\n"
        + (f"\nNot in the source font: {''.join(missing)}\n" if missing else ""),
        encoding="utf-8")
    print(f"wrote {OUT / FONT}: {len(chars):,} characters, {len(data):,} bytes")


if __name__ == "__main__":
    main()
