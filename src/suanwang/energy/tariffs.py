"""Time-of-use tariffs (分时电价) by province, from the bundled `data/tou.yaml`.

A schedule names each hour of Beijing time valley, flat or peak, with each period's price
relative to flat. `Tariff.multiplier` is scaled to a daily mean of 1, so that a site's hourly
price (its annual price from the network file x the multiplier) keeps the file's price as its
daily and annual mean. Provinces without a schedule in the file use its `default`: the shape of
NDRC's 2021 notice (发改价格〔2021〕1093号), the same as the simple model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from suanwang.energy.province_file import load_province_blocks
from suanwang.network.loader import _Reader

PERIODS = {"V": "valley", "F": "flat", "P": "peak"}


@dataclass(frozen=True, slots=True)
class Tariff:
    province: str
    hours: str  # 24 letters V/F/P, one per Beijing hour from 00:00
    ratios: tuple[float, float, float]  # valley, flat, peak price relative to flat
    source: str

    def day_profile(self) -> np.ndarray:
        """Multiplier of each Beijing hour 0..23, mean 1."""
        rel = dict(zip("VFP", self.ratios, strict=True))
        day = np.array([rel[c] for c in self.hours])
        return day / day.mean()

    def multiplier(self, beijing_hour: np.ndarray) -> np.ndarray:
        """The multiplier of each (whole) Beijing hour in `beijing_hour`."""
        h = np.floor(np.asarray(beijing_hour, dtype=float)).astype(np.int64) % 24
        return self.day_profile()[h]


def bundled_tariff_path() -> Path:
    return Path(str(resources.files("suanwang.energy") / "data" / "tou.yaml"))


def load_tariffs(path: str | Path | None = None) -> dict[str, Tariff]:
    """Every schedule of a tariff file by province; the fallback is under "default"."""
    file = Path(path) if path is not None else bundled_tariff_path()
    return load_province_blocks(file, _tariff, "schedules")


@cache
def _bundled() -> dict[str, Tariff]:
    return load_tariffs()


def tariff_for(province: str) -> Tariff:
    """The bundled schedule of `province`, or the default one."""
    table = _bundled()
    return table.get(province, table["default"])


def _tariff(r: _Reader, node: Any, p: str, province: str) -> Tariff:
    hours = r.text(node, "hours", p)
    if len(hours) != 24 or set(hours) - set(PERIODS):
        raise r.fail(f"{p}.hours", hours, "must be 24 letters, each V, F or P")
    ratios = r.get(node, "ratios", p)
    values = tuple(r.number(r.get(ratios, k, f"{p}.ratios"), f"{p}.ratios.{k}",
                            lo=0.0, lo_open=True) for k in ("valley", "flat", "peak"))
    return Tariff(province, hours, (values[0], values[1], values[2]), r.text(node, "source", p))
