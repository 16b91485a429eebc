"""The tiny hand-built network, hand-made energy series, exact forecasts, jobs: what the
shared fixtures (`conftest.py`) are made of, importable by test helpers as `tiny_support`.

The tiny network is written as the Python equivalent of a network YAML file and built through
`parse_network`, so every test that uses it also exercises the loader. Its numbers are chosen so
that the policies' scores can be worked out by hand:

    site   rtt from east  rtt from south  PUE  price  green  grid g/kWh  intelligent  general
    local  1.0 (formula)  25              1.5  0.60   0.1    800         8 units      40
    west   20             30              1.2  0.30   0.9    700         10 units     100
    mid    10             12              1.3  0.45   0.5    500         6 units      60

(sites in that order: indices 0, 1, 2). Links run at 10 Gbps, except east-west at 40 Gbps.

Every intelligent unit is 1 P and 1 kW; general units are 0.01 P and 0.01 kW. Only `west` has an
HPC pool (2 nodes of 3 kW). With a flat series at the file's green shares the facility
intensity per busy intelligent unit (kW x PUE x (1 - green) x grid) is local 1080, mid 325,
west 84 g CO2/h; the facility cost per unit-hour (kW x PUE x price) is local 0.9, mid 0.585,
west 0.36 yuan.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Kind, Network

T0 = datetime(2024, 6, 1, tzinfo=UTC)
TINY_SOURCE = "<tiny network>"

# Per-site values of the tiny network, by site id (the same numbers as in the network dict).
TINY_GREEN: dict[str, float] = {"local": 0.1, "mid": 0.5, "west": 0.9}
TINY_GRID: dict[str, float] = {"local": 800.0, "mid": 500.0, "west": 700.0}
TINY_PRICE: dict[str, float] = {"local": 0.6, "mid": 0.45, "west": 0.3}
TINY_PUE: dict[str, float] = {"local": 1.5, "mid": 1.3, "west": 1.2}


def _v(value: float, source: str = "test: chosen by hand") -> dict[str, Any]:
    return {"value": value, "source": source}


TINY_DOC: dict[str, Any] = {
    "name": "tiny",
    "latency_model": {
        "route_factor": 1.2, "fibre_km_per_ms": 200, "overhead_ms": 0.5, "min_rtt_ms": 1.0,
        "source": "test",
    },
    "default_bandwidth_gbps": _v(10),
    "unit_types": {
        "general": {"pflops_per_unit": _v(0.01), "kw_per_unit": _v(0.01)},
        "intelligent": {"pflops_per_unit": _v(1.0), "kw_per_unit": _v(1.0)},
        "hpc": {"pflops_per_unit": _v(0.05), "kw_per_unit": _v(3.0)},
    },
    "hubs": [
        {"id": "east-hub", "name_zh": "东", "name_en": "East hub"},
        {"id": "west-hub", "name_zh": "西", "name_en": "West hub", "west": True},
    ],
    "regions": [
        {"id": "east", "name_zh": "东部", "name_en": "East", "lat": 39.9, "lon": 116.4,
         "source": "test"},
        {"id": "south", "name_zh": "南部", "name_en": "South", "lat": 22.8, "lon": 113.7,
         "source": "test"},
    ],
    "sites": [
        {
            "id": "local", "name_zh": "本地", "name_en": "Local", "hub": "east-hub",
            "province": "Beijing", "lat": 39.9, "lon": 116.4,  # on top of `east`: formula rtt
            "pue": _v(1.5), "price_yuan_per_kwh": _v(0.6), "green_share": _v(0.1),
            "wind_fraction": _v(0.3), "solar_fraction": _v(0.5),
            "grid_intensity_g_per_kwh": _v(800.0),  # overrides Beijing's 558
            "pools": [
                {"kind": "general", "units": _v(40)},
                {"kind": "intelligent", "pflops": _v(8)},
            ],
        },
        {
            "id": "west", "name_zh": "西部", "name_en": "West", "hub": "west-hub",
            "province": "Inner Mongolia", "lat": 40.4, "lon": 111.8,
            "pue": _v(1.2), "price_yuan_per_kwh": _v(0.3), "green_share": _v(0.9),
            "wind_fraction": _v(0.7), "solar_fraction": _v(0.3),
            "grid_intensity_g_per_kwh": _v(700.0),
            "pools": [
                {"kind": "general", "units": _v(100)},
                {"kind": "intelligent", "pflops": _v(10)},
                {"kind": "hpc", "units": _v(2)},
            ],
        },
        {
            "id": "mid", "name_zh": "中部", "name_en": "Mid", "hub": "east-hub",
            "province": "Guizhou", "lat": 26.4, "lon": 106.4,
            "pue": _v(1.3), "price_yuan_per_kwh": _v(0.45), "green_share": _v(0.5),
            "wind_fraction": _v(0.2), "solar_fraction": _v(0.2),
            "grid_intensity_g_per_kwh": _v(500.0),
            "pools": [
                {"kind": "general", "units": _v(60)},
                {"kind": "intelligent", "pflops": _v(6)},
            ],
        },
    ],
    "latency": [
        {"region": "east", "site": "west", "rtt_ms": 20, "source": "test"},
        {"region": "east", "site": "mid", "rtt_ms": 10, "source": "test"},
        {"region": "south", "site": "local", "rtt_ms": 25, "source": "test"},
        {"region": "south", "site": "mid", "rtt_ms": 12, "source": "test"},
        {"region": "south", "site": "west", "rtt_ms": 30, "source": "test"},
    ],
    "bandwidth": [
        {"region": "east", "site": "west", "gbps": 40, "source": "test"},
    ],
}


# ---- the tiny network ----------------------------------------------------------------------


# ---- hand-made energy series and exact forecasts -------------------------------------------

SiteValues = float | Sequence[float] | np.ndarray
"""One site's hourly values: a constant, or one value per hour."""


class SeriesFactory(Protocol):
    def __call__(self, net: Network, hours: int = ..., *,
                 green: Mapping[str, SiteValues] | None = ...,
                 price: Mapping[str, SiteValues] | None = ...,
                 intensity: Mapping[str, SiteValues] | None = ...) -> EnergySeries: ...


def _rows(net: Network, hours: int, values: Mapping[str, SiteValues] | None,
          default: Callable[[str], float]) -> np.ndarray:
    out = np.empty((len(net.sites), hours))
    for i, s in enumerate(net.sites):
        v = values.get(s.id, default(s.id)) if values is not None else default(s.id)
        out[i] = np.broadcast_to(np.asarray(v, dtype=float), (hours,))
    return out


def build_series(net: Network, hours: int = 48, *,
                 green: Mapping[str, SiteValues] | None = None,
                 price: Mapping[str, SiteValues] | None = None,
                 intensity: Mapping[str, SiteValues] | None = None) -> EnergySeries:
    """An `EnergySeries` by hand. Unlisted sites take the network file's green share and price;
    intensity defaults to (1 - green) x the site's grid factor, as the energy model defines it."""
    sites = {s.id: s for s in net.sites}
    g = _rows(net, hours, green, lambda sid: sites[sid].green_share)
    p = _rows(net, hours, price, lambda sid: sites[sid].price_yuan_per_kwh)
    grid = np.array([s.grid_intensity_g_per_kwh for s in net.sites])[:, None]
    if intensity is None:
        i = (1.0 - g) * grid
    else:
        i = _rows(net, hours, intensity, lambda sid: float("nan"))
        i = np.where(np.isnan(i), (1.0 - g) * grid, i)
    return EnergySeries(site_ids=tuple(sites), start_utc=T0, green_share=g,
                        intensity_g_per_kwh=i, price_yuan_per_kwh=p)


def exact_forecaster(net: Network, series: EnergySeries) -> Forecaster:
    """A forecaster whose forecasts equal the actuals (error_scale 0)."""
    return Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites], seed=0,
                      error_scale=0.0)


# ---- jobs ----------------------------------------------------------------------------------


class JobFactory(Protocol):
    def __call__(self, job_id: str = ..., *, origin: str = ..., kind: Kind = ...,
                 units: int = ..., duration_s: float = ..., submit_s: float = ...,
                 rtt_bound_ms: float | None = ..., deadline_s: float | None = ...,
                 data_gb: float = ...) -> Job: ...


def job(job_id: str = "j", *, origin: str = "east", kind: Kind = Kind.INTELLIGENT,
        units: int = 1, duration_s: float = 3600.0, submit_s: float = 0.0,
        rtt_bound_ms: float | None = None, deadline_s: float | None = None,
        data_gb: float = 0.0) -> Job:
    """A job tersely: one intelligent unit for an hour from `east`, no bound, no deadline."""
    return Job(job_id=job_id, tenant="t", origin=origin, kind=kind, units=units,
               duration_s=duration_s, submit_s=submit_s, rtt_bound_ms=rtt_bound_ms,
               deadline_s=deadline_s, data_gb=data_gb)


# ---- the tiny network with two providers at every site -------------------------------------

PROVIDER_FACTOR = {"local": 1.0, "mid": 0.9, "west": 0.8}


def _prov(pid: str, card: float, egress: float) -> dict[str, Any]:
    v = {"source": "test"}
    return {"id": pid, "name_zh": pid, "name_en": pid, "docking": "api", "executor": "local",
            "sla": {"availability": {"value": 0.999, **v}, "start_s": {"value": 60, **v}},
            "egress_yuan_per_gb": {"value": egress, **v},
            "prices": [{"kind": k, "effective_from": "2024-01-01",
                        "yuan_per_unit_h": {"value": price, **v}}
                       for k, price in (("general", 0.1), ("intelligent", card), ("hpc", 5.0))]}


def _provider_doc(tiny_doc: dict[str, Any], **cheap_extra: Any) -> dict[str, Any]:
    doc = copy.deepcopy(tiny_doc)
    doc["providers"] = [{**_prov("cheap", 10.0, 2.0), **cheap_extra}, _prov("dear", 12.0, 0.0)]
    for site in doc["sites"]:
        kinds = [p["kind"] for p in site["pools"]]
        share = {**{k: 0.5 for k in kinds}, "source": "test"}
        factor = {"value": PROVIDER_FACTOR[site["id"]], "source": "test"}
        site["providers"] = [{"id": "cheap", "share": share, "price_factor": factor},
                             {"id": "dear", "share": share, "price_factor": factor}]
    return doc


