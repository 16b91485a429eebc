"""Re-vendor the dashboard's third-party assets from npm into `web/vendor/`.

    python src/suanwang/web/vendor.py            # the pinned versions below
    python src/suanwang/web/vendor.py --echarts 6.1.0

A developer's tool, run by hand when an asset is to be updated (needs `npm` and fontTools,
which matplotlib already brings); the service never fetches anything at run time. It
downloads three npm packages with `npm pack` into a temporary folder and writes:

- `echarts.min.js` (+ its LICENSE, NOTICE and the d3 licence it cites) from `echarts`
  (Apache-2.0): the charts and the map;
- `china.json` from `echarts@4.9.0` (Apache-2.0): China's provinces in ECharts' compact
  encoded GeoJSON (61 KB, already simplified), the last Apache ECharts release that shipped
  map data; `echarts.registerMap('china', ...)` decodes it;
- `noto-sans-sc-subset-{400,700}.woff` from `@fontsource/noto-sans-sc` (SIL OFL 1.1): Noto
  Sans SC cut down to the Chinese characters the dashboard, the bundled network and the map
  use (a few KB instead of 1.5 MB), so that Chinese is readable on machines without a CJK
  font; machines with one use their own (see `dashboard.css`);
- `README.md`: versions, licences and SHA-256 of every file written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

WEB = Path(__file__).resolve().parent
VENDOR = WEB / "vendor"
NETWORK_DATA = WEB.parent / "network" / "data"
FONT_WEIGHTS = (400, 700)
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def npm_pack(spec: str, into: Path) -> Path:
    """`npm pack SPEC` into `into`; the tarball's path."""
    out = subprocess.run(["npm", "pack", "--silent", spec], cwd=into, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    return into / out[-1]


def extract(tgz: Path, member: str, dest: Path) -> Path:
    with tarfile.open(tgz) as tar:
        src = tar.extractfile(f"package/{member}")
        if src is None:
            raise SystemExit(f"{tgz.name} has no {member}")
        dest.write_bytes(src.read())
    return dest


def package_version(tgz: Path) -> str:
    with tarfile.open(tgz) as tar:
        f = tar.extractfile("package/package.json")
        if f is None:
            raise SystemExit(f"{tgz.name} has no package.json")
        return str(json.load(f)["version"])


def used_characters(china_json: Path) -> str:
    """Every CJK character of the page's own files, the bundled network and the map."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(WEB.glob("*.html"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted(WEB.glob("*.js"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted(NETWORK_DATA.glob("*.yaml"))]
    names = [f["properties"]["name"] for f in json.loads(
        china_json.read_text(encoding="utf-8"))["features"]]
    texts.append("".join(names) + "南海诸岛")
    chars = {c for t in texts for c in CJK.findall(t)}
    return "".join(sorted(chars))


def subset_font(src: Path, dest: Path, chars: str) -> None:
    font = TTFont(src)
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    sub = subset.Subsetter(options)
    sub.populate(text=chars)
    sub.subset(font)
    font.flavor = "woff"
    font.save(dest)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--echarts", default="6.1.0", help="npm version of echarts")
    ap.add_argument("--map-echarts", default="4.9.0",
                    help="npm version of echarts whose map/json/china.json is taken")
    ap.add_argument("--font", default="5.3.0", help="npm version of @fontsource/noto-sans-sc")
    args = ap.parse_args()
    if shutil.which("npm") is None:
        print("npm is needed (Debian: apt-get install npm)", file=sys.stderr)
        return 2
    VENDOR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        echarts = npm_pack(f"echarts@{args.echarts}", tmp)
        map_pkg = npm_pack(f"echarts@{args.map_echarts}", tmp)
        font_pkg = npm_pack(f"@fontsource/noto-sans-sc@{args.font}", tmp)
        written = [
            ("echarts.min.js", extract(echarts, "dist/echarts.min.js",
                                       VENDOR / "echarts.min.js")),
            ("echarts LICENSE", extract(echarts, "LICENSE", VENDOR / "ECHARTS-LICENSE.txt")),
            ("echarts NOTICE", extract(echarts, "NOTICE", VENDOR / "ECHARTS-NOTICE.txt")),
            ("d3 licence cited by echarts", extract(echarts, "licenses/LICENSE-d3",
                                                    VENDOR / "LICENSE-d3.txt")),
            ("china.json", extract(map_pkg, "map/json/china.json", VENDOR / "china.json")),
            ("font licence", extract(font_pkg, "LICENSE", VENDOR / "NOTO-SANS-SC-OFL.txt")),
        ]
        chars = used_characters(VENDOR / "china.json")
        for weight in FONT_WEIGHTS:
            src = extract(font_pkg,
                          f"files/noto-sans-sc-chinese-simplified-{weight}-normal.woff",
                          tmp / f"full-{weight}.woff")
            dest = VENDOR / f"noto-sans-sc-subset-{weight}.woff"
            subset_font(src, dest, chars)
            written.append((f"font, weight {weight}", dest))
        versions = {"echarts": package_version(echarts),
                    "map": package_version(map_pkg), "font": package_version(font_pkg)}
    lines = [
        "# Vendored dashboard assets",
        "",
        "Written by `python src/suanwang/web/vendor.py` (do not edit by hand); nothing here is",
        "fetched at run time.",
        "",
        "| file | from (npm) | licence |",
        "| --- | --- | --- |",
        f"| echarts.min.js | echarts@{versions['echarts']} `dist/echarts.min.js` | Apache-2.0 "
        "(ECHARTS-LICENSE.txt, ECHARTS-NOTICE.txt, LICENSE-d3.txt) |",
        f"| china.json | echarts@{versions['map']} `map/json/china.json` (provinces, "
        "ECharts' encoded GeoJSON) | Apache-2.0 (part of that Apache ECharts release) |",
        f"| noto-sans-sc-subset-*.woff | @fontsource/noto-sans-sc@{versions['font']} "
        f"`files/noto-sans-sc-chinese-simplified-*-normal.woff`, subset to {len(chars)} "
        "characters | SIL OFL 1.1 (NOTO-SANS-SC-OFL.txt) |",
        "",
        "| file | bytes | sha256 |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| {p.name} | {p.stat().st_size:,} | `{sha256(p)}` |" for _, p in written]
    (VENDOR / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for what, p in written:
        print(f"{what:32s} {p.relative_to(WEB)}  {p.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
