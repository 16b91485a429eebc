"""Load and validate a network file (YAML) into a `Network`.

Every field is checked once here; an error names the file, the field path and the value.
Round trips not published in the file are computed from great-circle distance with the file's
`latency_model`.
"""

from __future__ import annotations

import csv
import functools
import math
from importlib import resources
from pathlib import Path
from typing import Any

from suanwang.errors import InputError
from suanwang.model import Contracts, Hub, Kind, Network, Pool, Region, Site, Snapshot
from suanwang.network.providers import parse_catalogue, provider_to_dict, site_providers
from suanwang.network.reader import _Reader
from suanwang.yaml_input import Located, all_keys, load_yaml_located, refuse_misspelt_keys

BUNDLED = "national"
EARTH_RADIUS_KM = 6371.0


def bundled_network_path(name: str = BUNDLED) -> Path:
    """Path of a network file shipped in the package (`national`)."""
    return Path(str(resources.files("suanwang.network") / "data" / f"{name}.yaml"))


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def provincial_grid_factors_g_per_kwh(year: int = 2022) -> dict[str, float]:
    """Provincial grid CO2 factors (g/kWh), from the MEE/NBS announcement bundled as CSV."""
    text = (resources.files("suanwang.network") / "data" / "grid_co2_factors.csv").read_text(
        encoding="utf-8"
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    out: dict[str, float] = {}
    for row in rows:
        value = row.get(f"factor_{year}") or ""
        if row["level"] == "province" and value:
            out[row["name_en"]] = round(float(value) * 1000.0, 1)
    return out


def load_network(path: str | Path | None = None) -> Network:
    """Load a network file; `None` loads the bundled national network (its file parsed once
    per process)."""
    file = Path(path) if path is not None else bundled_network_path()
    source = str(file)
    located = _bundled_located() if path is None else load_yaml_located(file)
    refuse_misspelt_keys(located, _known_keys(), source)
    try:
        return parse_network(located.doc, source)
    except InputError as exc:
        raise located.at_line(exc) from None


# keys a network file may hold beyond those the bundled file uses
_OPTIONAL_KEYS = frozenset({"grid_intensity_g_per_kwh", "contracts", "wind_mw", "solar_mw",
                            "firm_mw", "pflops_per_unit", "kw_per_unit", "units", "pflops",
                            "snapshots", "latency", "bandwidth", "gbps", "rtt_ms", "west",
                            "contract_load_utilisation"})


@functools.cache
def _bundled_located() -> Located:
    """The bundled network file, parsed (read only: `parse_network` does not change it)."""
    return load_yaml_located(bundled_network_path())


@functools.cache
def _known_keys() -> frozenset[str]:
    """The keys of the bundled network file and the optional ones (for `refuse_misspelt_keys`)."""
    return frozenset(all_keys(_bundled_located().doc) | _OPTIONAL_KEYS)


def parse_network(doc: Any, source: str = "<network>") -> Network:
    r = _Reader(source)
    if not isinstance(doc, dict):
        raise r.fail("(document)", type(doc).__name__, "must be a mapping at the top level")
    name = r.text(doc, "name", "")

    lm = r.get(doc, "latency_model", "")
    r.text(lm, "source", "latency_model")
    route_factor = r.number(r.get(lm, "route_factor", "latency_model"),
                            "latency_model.route_factor", lo=1.0)
    km_per_ms = r.number(r.get(lm, "fibre_km_per_ms", "latency_model"),
                         "latency_model.fibre_km_per_ms", lo=0.0, lo_open=True)
    overhead_ms = r.number(r.get(lm, "overhead_ms", "latency_model"),
                           "latency_model.overhead_ms", lo=0.0)
    min_rtt_ms = r.number(r.get(lm, "min_rtt_ms", "latency_model"),
                          "latency_model.min_rtt_ms", lo=0.0)
    default_bw = r.sourced(doc, "default_bandwidth_gbps", "", lo=0.0, lo_open=True)
    utilisation = 0.6
    if "contract_load_utilisation" in doc:
        utilisation = r.sourced(doc, "contract_load_utilisation", "", lo=0.0, hi=1.0,
                                lo_open=True)

    unit_defaults: dict[Kind, tuple[float, float]] = {}
    ut = r.get(doc, "unit_types", "")
    for kind in Kind:
        node = r.get(ut, kind.value, "unit_types")
        base = f"unit_types.{kind.value}"
        unit_defaults[kind] = (
            r.sourced(node, "pflops_per_unit", base, lo=0.0, lo_open=True),
            r.sourced(node, "kw_per_unit", base, lo=0.0, lo_open=True),
        )

    hubs: list[Hub] = []
    for i, h in enumerate(r.seq(doc, "hubs", "")):
        p = f"hubs[{i}]"
        west = h.get("west", False) if isinstance(h, dict) else False
        if not isinstance(west, bool):
            raise r.fail(f"{p}.west", west, "must be true or false")
        hubs.append(Hub(r.text(h, "id", p), r.text(h, "name_zh", p), r.text(h, "name_en", p),
                        west))
    _unique(r, [h.id for h in hubs], "hubs", "id")
    hub_ids = {h.id for h in hubs}

    regions: list[Region] = []
    for i, g in enumerate(r.seq(doc, "regions", "")):
        p = f"regions[{i}]"
        r.text(g, "source", p)
        regions.append(Region(
            r.text(g, "id", p), r.text(g, "name_zh", p), r.text(g, "name_en", p),
            r.number(r.get(g, "lat", p), f"{p}.lat", lo=-90, hi=90),
            r.number(r.get(g, "lon", p), f"{p}.lon", lo=-180, hi=180),
        ))
    if not regions:
        raise r.fail("regions", [], "at least one demand region is needed")
    _unique(r, [g.id for g in regions], "regions", "id")

    grid = provincial_grid_factors_g_per_kwh()
    catalogue = parse_catalogue(r, doc)
    sites: list[Site] = []
    for i, s in enumerate(r.seq(doc, "sites", "")):
        sites.append(_parse_site(r, s, f"sites[{i}]", hub_ids, unit_defaults, grid, catalogue))
    if not sites:
        raise r.fail("sites", [], "at least one site is needed")
    _unique(r, [s.id for s in sites], "sites", "id")

    site_by_id = {s.id: s for s in sites}
    region_by_id = {g.id: g for g in regions}
    rtt: dict[tuple[str, str], float] = {}
    rtt_source: dict[tuple[str, str], str] = {}
    for g in regions:
        for s in sites:
            km = great_circle_km(g.lat, g.lon, s.lat, s.lon)
            est = overhead_ms + 2.0 * route_factor * km / km_per_ms
            rtt[(g.id, s.id)] = round(max(min_rtt_ms, est), 2)
            rtt_source[(g.id, s.id)] = f"formula: {km:.0f} km great-circle"
    seen: set[tuple[str, str]] = set()
    for i, e in enumerate(r.seq(doc, "latency", "", required=False)):
        p = f"latency[{i}]"
        key = _pair(r, e, p, region_by_id, site_by_id)
        if key in seen:
            raise r.fail(f"{p}.site", key[1], f"a second latency entry for {key[0]} -> {key[1]}")
        seen.add(key)
        rtt[key] = r.number(r.get(e, "rtt_ms", p), f"{p}.rtt_ms", lo=0.0, lo_open=True)
        rtt_source[key] = r.text(e, "source", p)

    bw: dict[tuple[str, str], float] = {(g.id, s.id): default_bw for g in regions for s in sites}
    seen = set()
    for i, e in enumerate(r.seq(doc, "bandwidth", "", required=False)):
        p = f"bandwidth[{i}]"
        key = _pair(r, e, p, region_by_id, site_by_id)
        if key in seen:
            raise r.fail(f"{p}.site", key[1],
                         f"a second bandwidth entry for {key[0]} -> {key[1]}")
        seen.add(key)
        bw[key] = r.number(r.get(e, "gbps", p), f"{p}.gbps", lo=0.0, lo_open=True)
        r.text(e, "source", p)

    return Network(name=name, hubs=tuple(hubs), regions=tuple(regions), sites=tuple(sites),
                   rtt_ms=rtt, bandwidth_gbps=bw, rtt_source=rtt_source,
                   contract_load_utilisation=utilisation)


def _unique(r: _Reader, ids: list[str], path: str, key: str) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            raise r.fail(f"{path}[{i}].{key}", x, "duplicate id")
        seen.add(x)


def _pair(r: _Reader, e: Any, p: str, regions: dict[str, Region],
          sites: dict[str, Site]) -> tuple[str, str]:
    region = r.text(e, "region", p)
    site = r.text(e, "site", p)
    if region not in regions:
        raise r.fail(f"{p}.region", region, f"unknown region; known: {', '.join(regions)}")
    if site not in sites:
        raise r.fail(f"{p}.site", site, f"unknown site; known: {', '.join(sites)}")
    return region, site


def _parse_site(r: _Reader, s: Any, p: str, hub_ids: set[str],
                unit_defaults: dict[Kind, tuple[float, float]],
                grid: dict[str, float], catalogue: dict[str, dict[str, Any]]) -> Site:
    hub = r.text(s, "hub", p)
    if hub not in hub_ids:
        raise r.fail(f"{p}.hub", hub, f"unknown hub; known: {', '.join(sorted(hub_ids))}")
    province = r.text(s, "province", p)
    if isinstance(s, dict) and "grid_intensity_g_per_kwh" in s:
        intensity = r.sourced(s, "grid_intensity_g_per_kwh", p, lo=0.0, hi=2000.0)
    elif province in grid:
        intensity = grid[province]
    else:
        raise r.fail(f"{p}.province", province,
                     "no grid CO2 factor for this province; give grid_intensity_g_per_kwh "
                     f"or one of: {', '.join(sorted(grid))}")
    site_id = r.text(s, "id", p)
    wind = r.sourced(s, "wind_fraction", p, lo=0.0, hi=1.0)
    solar = r.sourced(s, "solar_fraction", p, lo=0.0, hi=1.0)
    if wind + solar > 1.0 + 1e-9:
        raise r.fail(f"{p}.solar_fraction.value", solar,
                     f"wind_fraction + solar_fraction = {wind + solar:g} must be <= 1")
    pools: list[Pool] = []
    for j, q in enumerate(r.seq(s, "pools", p)):
        qp = f"{p}.pools[{j}]"
        kind_text = r.text(q, "kind", qp)
        try:
            kind = Kind(kind_text)
        except ValueError:
            raise r.fail(f"{qp}.kind", kind_text,
                         f"unknown kind; known: {', '.join(k.value for k in Kind)}") from None
        if any(x.kind == kind for x in pools):
            raise r.fail(f"{qp}.kind", kind_text, "a site has at most one pool of each kind")
        pf_unit, kw_unit = unit_defaults[kind]
        if "pflops_per_unit" in q:
            pf_unit = r.sourced(q, "pflops_per_unit", qp, lo=0.0, lo_open=True)
        if "kw_per_unit" in q:
            kw_unit = r.sourced(q, "kw_per_unit", qp, lo=0.0, lo_open=True)
        if "units" in q:
            units = r.sourced(q, "units", qp, lo=1.0)
            if units != int(units):
                raise r.fail(f"{qp}.units.value", units, "must be a whole number of units")
        else:
            units = r.sourced(q, "pflops", qp, lo=0.0, lo_open=True) / pf_unit
        if units < 1.0:
            raise r.fail(f"{qp}.pflops.value", units * pf_unit, "smaller than one unit")
        pools.append(Pool(site_id, kind, round(units), pf_unit, kw_unit))
    if not pools:
        raise r.fail(f"{p}.pools", [], "a site needs at least one pool")
    snapshots: list[Snapshot] = []
    for j, n in enumerate(r.seq(s, "snapshots", p, required=False)):
        sp = f"{p}.snapshots[{j}]"
        parts_node = r.get(n, "pflops", sp)
        if not isinstance(parts_node, dict):
            raise r.fail(f"{sp}.pflops", parts_node, "must map kind to P")
        parts: list[tuple[Kind, float]] = []
        for k, v in parts_node.items():
            try:
                kind = Kind(k)
            except ValueError:
                raise r.fail(f"{sp}.pflops.{k}", k, "unknown kind") from None
            parts.append((kind, r.number(v, f"{sp}.pflops.{k}", lo=0.0)))
        total = r.number(r.get(n, "total_pflops", sp), f"{sp}.total_pflops", lo=0.0)
        if abs(sum(v for _, v in parts) - total) > 0.5:
            raise r.fail(f"{sp}.total_pflops", total,
                         f"parts sum to {sum(v for _, v in parts):g}, not the total")
        snapshots.append(Snapshot(str(r.get(n, "as_of", sp)), tuple(parts), total,
                                  r.text(n, "source", sp)))
    return Site(
        id=site_id,
        name_zh=r.text(s, "name_zh", p),
        name_en=r.text(s, "name_en", p),
        hub_id=hub,
        province_en=province,
        lat=r.number(r.get(s, "lat", p), f"{p}.lat", lo=-90, hi=90),
        lon=r.number(r.get(s, "lon", p), f"{p}.lon", lo=-180, hi=180),
        pue=r.sourced(s, "pue", p, lo=1.0, hi=3.0),
        price_yuan_per_kwh=r.sourced(s, "price_yuan_per_kwh", p, lo=0.0, hi=10.0),
        green_share=r.sourced(s, "green_share", p, lo=0.0, hi=1.0),
        wind_fraction=wind,
        solar_fraction=solar,
        grid_intensity_g_per_kwh=intensity,
        pools=tuple(pools),
        snapshots=tuple(snapshots),
        contracts=_contracts(r, s, p),
        providers=site_providers(r, s, p, site_id, pools, catalogue),
    )


def _contracts(r: _Reader, s: Any, p: str) -> Contracts | None:
    """The optional `contracts` block: wind_mw, solar_mw, firm_mw (optional), each sourced."""
    if not isinstance(s, dict) or "contracts" not in s:
        return None
    node = s["contracts"]
    cp = f"{p}.contracts"
    if not isinstance(node, dict):
        raise r.fail(cp, node, "must map wind_mw, solar_mw, firm_mw to {value, source}")
    unknown = sorted(set(node) - {"wind_mw", "solar_mw", "firm_mw"})
    if unknown:
        raise r.fail(f"{cp}.{unknown[0]}", node[unknown[0]],
                     "unknown key; known: wind_mw, solar_mw, firm_mw")
    firm = r.sourced(node, "firm_mw", cp, lo=0.0) if "firm_mw" in node else 0.0
    return Contracts(wind_mw=r.sourced(node, "wind_mw", cp, lo=0.0),
                     solar_mw=r.sourced(node, "solar_mw", cp, lo=0.0), firm_mw=firm)


def network_to_dict(net: Network) -> dict[str, Any]:
    """The resolved network as plain data (written as network.json by a run)."""
    return {
        "name": net.name,
        "energy_formula": "energy_kwh = units * kw_per_unit * PUE * hours",
        "contract_load_utilisation": net.contract_load_utilisation,
        "hubs": [{"id": h.id, "name_zh": h.name_zh, "name_en": h.name_en, "west": h.west}
                 for h in net.hubs],
        "regions": [
            {"id": g.id, "name_zh": g.name_zh, "name_en": g.name_en, "lat": g.lat, "lon": g.lon}
            for g in net.regions
        ],
        "sites": [
            {
                "id": s.id, "name_zh": s.name_zh, "name_en": s.name_en, "hub": s.hub_id,
                "province": s.province_en, "lat": s.lat, "lon": s.lon, "pue": s.pue,
                "price_yuan_per_kwh": s.price_yuan_per_kwh, "green_share": s.green_share,
                "wind_fraction": s.wind_fraction, "solar_fraction": s.solar_fraction,
                "grid_intensity_g_per_kwh": s.grid_intensity_g_per_kwh,
                "contracts": None if s.contracts is None else {
                    "wind_mw": s.contracts.wind_mw, "solar_mw": s.contracts.solar_mw,
                    "firm_mw": s.contracts.firm_mw},
                "pflops": s.pflops,
                "providers": [provider_to_dict(x) for x in s.providers],
                "pools": [
                    {"kind": q.kind.value, "units": q.units, "pflops_per_unit": q.pflops_per_unit,
                     "kw_per_unit": q.kw_per_unit, "pflops": q.pflops}
                    for q in s.pools
                ],
                "snapshots": [
                    {"as_of": n.as_of, "pflops": {k.value: v for k, v in n.pflops_by_kind},
                     "total_pflops": n.total_pflops, "source": n.source}
                    for n in s.snapshots
                ],
            }
            for s in net.sites
        ],
        "links": [
            {"region": g, "site": s, "rtt_ms": v, "bandwidth_gbps": net.bandwidth_gbps[(g, s)],
             "rtt_source": net.rtt_source.get((g, s), "")}
            for (g, s), v in net.rtt_ms.items()
        ],
    }
