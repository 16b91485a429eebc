"""The climate of each province, as the physical energy model needs it.

Read from `data/climate.yaml` (bundled; every block carries its source): monthly percentages of
possible sunshine (the cloudiness the solar model is calibrated to), January and July mean
temperatures (PV cell temperature), and the hub-height wind-speed process and turbine type
(the wind model). A province the file does not list takes the file's `default` block.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from suanwang.energy.province_file import load_province_blocks
from suanwang.network.loader import _Reader

MONTHS = 12


@dataclass(frozen=True, slots=True)
class WindClimate:
    """Hub-height wind: a Weibull marginal modulated by a daily and a seasonal cycle."""

    mean_ms: float  # annual mean wind speed at hub height, m/s
    weibull_k: float  # Weibull shape
    diurnal_amplitude: float  # relative amplitude of the daily cycle of the Weibull scale
    diurnal_peak_h: float  # local solar hour of the daily maximum
    seasonal_amplitude: float  # relative amplitude of the annual cycle
    seasonal_peak_doy: float  # day of year of the seasonal maximum
    synoptic_memory_h: float  # e-folding time of weather systems, hours
    turbine_type: str  # a turbine in windpowerlib's bundled library
    hub_height_m: float
    source: str


@dataclass(frozen=True, slots=True)
class Climate:
    province: str  # the province name, or "default"
    station: str
    sunshine_pct: tuple[float, ...]  # Jan..Dec, percentage of possible sunshine
    temperature_jan_c: float
    temperature_jul_c: float
    wind: WindClimate
    sunshine_source: str
    temperature_source: str

    def clear_sky_index(self) -> tuple[float, ...]:
        """Monthly mean clear-sky index from sunshine, Angstrom-Prescott with FAO-56 defaults:
        Rs / Rso = (0.25 + 0.50 n/N) / 0.75 (Allen et al. 1998, FAO-56 eq. 35 and 37)."""
        return tuple((0.25 + 0.50 * s / 100.0) / 0.75 for s in self.sunshine_pct)


def bundled_climate_path() -> Path:
    return Path(str(resources.files("suanwang.energy") / "data" / "climate.yaml"))


def load_climates(path: str | Path | None = None) -> dict[str, Climate]:
    """Every block of a climate file by province; the fallback is under "default"."""
    file = Path(path) if path is not None else bundled_climate_path()
    return load_province_blocks(file, _climate, "climate blocks")


@cache
def _bundled() -> dict[str, Climate]:
    return load_climates()


def climate_for(province: str) -> Climate:
    """The bundled climate of `province`, or the default block."""
    table = _bundled()
    return table.get(province, table["default"])


def _climate(r: _Reader, node: Any, p: str, province: str) -> Climate:
    sun = r.get(node, "sunshine_pct", p)
    values = r.get(sun, "values", f"{p}.sunshine_pct")
    if not isinstance(values, list) or len(values) != MONTHS:
        raise r.fail(f"{p}.sunshine_pct.values", values, "must list 12 monthly percentages")
    pct = tuple(r.number(v, f"{p}.sunshine_pct.values[{i}]", lo=0.0, hi=100.0)
                for i, v in enumerate(values))
    temp = r.get(node, "temperature_c", p)
    w = r.get(node, "wind", p)
    wp = f"{p}.wind"

    def num(key: str, **bounds: Any) -> float:
        return r.number(r.get(w, key, wp), f"{wp}.{key}", **bounds)

    wind = WindClimate(
        mean_ms=num("mean_ms", lo=0.5, hi=20.0),
        weibull_k=num("weibull_k", lo=1.0, hi=5.0),
        diurnal_amplitude=num("diurnal_amplitude", lo=0.0, hi=0.5),
        diurnal_peak_h=num("diurnal_peak_h", lo=0.0, hi=24.0),
        seasonal_amplitude=num("seasonal_amplitude", lo=0.0, hi=0.5),
        seasonal_peak_doy=num("seasonal_peak_doy", lo=0.0, hi=366.0),
        synoptic_memory_h=num("synoptic_memory_h", lo=1.0, hi=24.0 * 30),
        turbine_type=r.text(w, "turbine_type", wp),
        hub_height_m=num("hub_height_m", lo=10.0, hi=300.0),
        source=r.text(w, "source", wp),
    )
    return Climate(
        province=province,
        station=r.text(node, "station", p),
        sunshine_pct=pct,
        temperature_jan_c=r.number(r.get(temp, "jan", f"{p}.temperature_c"),
                                   f"{p}.temperature_c.jan", lo=-60.0, hi=50.0),
        temperature_jul_c=r.number(r.get(temp, "jul", f"{p}.temperature_c"),
                                   f"{p}.temperature_c.jul", lo=-60.0, hi=50.0),
        wind=wind,
        sunshine_source=r.text(sun, "source", f"{p}.sunshine_pct"),
        temperature_source=r.text(temp, "source", f"{p}.temperature_c"),
    )
