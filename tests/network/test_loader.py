"""The network loader: the bundled national network's published facts, and bad files.

Bad files are the bundled file's parsed document with one mutation, written to tmp_path: the
error must name the file, the field path and the offending value.
"""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanwang.errors import InputError
from suanwang.model import Kind, Network
from suanwang.network.loader import (
    bundled_network_path,
    great_circle_km,
    load_network,
    parse_network,
)

# the published factors, shipped with the tests (tests/data/README.md)
PUBLISHED_GRID = (Path(__file__).resolve().parents[1] / "data" / "grid"
                  / "china_grid_co2_factors_2021_2022.csv")


@pytest.fixture(scope="module")
def national() -> Network:
    return load_network()


@pytest.fixture(scope="module")
def national_doc() -> dict[str, Any]:
    doc = yaml.safe_load(bundled_network_path().read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


# ---- the bundled national network ------------------------------------------------------------


def test_bundled_network_loads_by_default_and_by_path(national: Network) -> None:
    assert load_network(bundled_network_path()) == national
    assert national.name == "national-2024"


def test_eight_hubs_four_of_them_western(national: Network) -> None:
    assert len(national.hubs) == 8
    assert {h.id for h in national.hubs if h.west} == {"neimenggu", "guizhou", "gansu",
                                                       "ningxia"}


def test_eleven_sites_in_ten_clusters(national: Network) -> None:
    assert len(national.sites) == 11
    in_neimenggu = {s.id for s in national.sites if s.hub_id == "neimenggu"}
    assert in_neimenggu == {"horinger", "jining"}  # the two zones of one cluster
    clusters = {"horinger" if s.hub_id == "neimenggu" else s.id for s in national.sites}
    assert len(clusters) == 10
    assert {s.hub_id for s in national.sites} == {h.id for h in national.hubs}


def test_at_least_four_demand_regions(national: Network) -> None:
    assert len(national.regions) >= 4
    assert {"bth", "yrd", "gba", "cc"} <= {r.id for r in national.regions}


def test_horinger_capacity_june_2024(national: Network) -> None:
    horinger = national.site("horinger")
    assert horinger.pflops == pytest.approx(24_000.0)
    intelligent = horinger.pool(Kind.INTELLIGENT)
    assert intelligent is not None
    assert intelligent.pflops == pytest.approx(21_800.0)


def test_horinger_april_2024_snapshot(national: Network) -> None:
    (snap,) = national.site("horinger").snapshots
    assert snap.as_of == "2024-04"
    parts = dict(snap.pflops_by_kind)
    assert parts == {Kind.GENERAL: 1040.0, Kind.HPC: 197.0, Kind.INTELLIGENT: 9084.0}
    assert snap.total_pflops == 10_321.0 == sum(parts.values())
    assert snap.source


PUBLISHED_RTT: list[tuple[str, str, float]] = [
    ("bth", "horinger", 5.0), ("yrd", "horinger", 15.0), ("gba", "horinger", 20.0),
    ("cc", "guian", 6.0), ("gba", "guian", 10.0), ("yrd", "guian", 15.0),
    ("bth", "guian", 20.0),
]


@pytest.mark.parametrize(("region", "site", "rtt"), PUBLISHED_RTT)
def test_published_round_trips(region: str, site: str, rtt: float, national: Network) -> None:
    assert national.rtt_ms[(region, site)] == rtt
    assert not national.rtt_source[(region, site)].startswith("formula")


def test_every_round_trip_is_positive_and_every_pair_has_a_link(national: Network) -> None:
    pairs = {(r.id, s.id) for r in national.regions for s in national.sites}
    assert set(national.rtt_ms) == pairs
    assert set(national.bandwidth_gbps) == pairs
    assert all(v > 0 for v in national.rtt_ms.values())
    assert all(v > 0 for v in national.bandwidth_gbps.values())


# pairs the file's latency_model cites as its check against published figures
FORMULA_CHECKS: list[tuple[str, str]] = [("bth", "horinger"), ("gba", "guian"), ("bth", "guian")]


@pytest.mark.parametrize(("region", "site"), FORMULA_CHECKS)
def test_latency_formula_is_close_to_published_figures(region: str, site: str,
                                                        national: Network) -> None:
    g, s = national.region(region), national.site(site)
    formula = 0.5 + 2 * 1.2 * great_circle_km(g.lat, g.lon, s.lat, s.lon) / 200
    assert formula == pytest.approx(national.rtt_ms[(region, site)], rel=0.10)


def test_unpublished_round_trips_follow_the_formula(national: Network) -> None:
    for (region, site), rtt in national.rtt_ms.items():
        if not national.rtt_source[(region, site)].startswith("formula"):
            continue
        g, s = national.region(region), national.site(site)
        km = great_circle_km(g.lat, g.lon, s.lat, s.lon)
        assert rtt == round(max(1.0, 0.5 + 2 * 1.2 * km / 200), 2)


def published_grid_factors_2022() -> dict[str, float]:
    lines = [x for x in PUBLISHED_GRID.read_text(encoding="utf-8").splitlines()
             if not x.startswith("#")]
    return {row["name_en"]: float(row["factor_2022"]) * 1000.0
            for row in csv.DictReader(lines) if row["level"] == "province"}


def test_site_grid_factors_are_the_provinces_2022_factors(national: Network) -> None:
    factors = published_grid_factors_2022()
    for s in national.sites:
        assert s.grid_intensity_g_per_kwh == pytest.approx(factors[s.province_en], abs=0.05), s.id


def test_an_explicit_grid_factor_overrides_the_province(tiny_net: Network) -> None:
    # the tiny network's `local` is in Beijing (558 g/kWh) but states 800
    assert tiny_net.site("local").province_en == "Beijing"
    assert tiny_net.site("local").grid_intensity_g_per_kwh == 800.0


def test_pool_units_from_pflops_or_units(tiny_net: Network) -> None:
    local = tiny_net.site("local")
    general, intelligent = local.pool(Kind.GENERAL), local.pool(Kind.INTELLIGENT)
    assert general is not None and intelligent is not None
    assert general.units == 40 and general.pflops == pytest.approx(0.4)  # given as units
    assert intelligent.units == 8 and intelligent.kw_per_unit == 1.0  # given as 8 P of 1 P


def test_tiny_network_round_trips(tiny_net: Network) -> None:
    assert tiny_net.rtt_ms[("east", "local")] == 1.0  # formula: same place, min_rtt
    assert tiny_net.rtt_source[("east", "local")].startswith("formula")
    assert tiny_net.rtt_ms[("east", "west")] == 20.0
    assert tiny_net.bandwidth_gbps[("east", "west")] == 40.0
    assert tiny_net.bandwidth_gbps[("east", "mid")] == 10.0


# ---- bad files ----------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def site_index(doc: dict[str, Any], site_id: str) -> int:
    return next(i for i, s in enumerate(doc["sites"]) if s["id"] == site_id)


def _set(path: list[str | int], value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _delete(path: list[str | int]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _duplicate_site_id(doc: dict[str, Any]) -> None:
    doc["sites"][2]["id"] = doc["sites"][0]["id"]


def _horinger_snapshot_total(doc: dict[str, Any]) -> None:
    doc["sites"][site_index(doc, "horinger")]["snapshots"][0]["total_pflops"] = 10_000


def _wind_plus_solar(doc: dict[str, Any]) -> None:
    doc["sites"][0]["wind_fraction"]["value"] = 0.9  # solar is 0.35


def _duplicate_latency(doc: dict[str, Any]) -> None:
    doc["latency"].append(dict(doc["latency"][0], rtt_ms=7))


def _fractional_units(doc: dict[str, Any]) -> None:
    doc["sites"][0]["pools"][0] = {"kind": "general",
                                   "units": {"value": 10.5, "source": "test"}}


# (name, mutation, field path in the message, offending value)
BAD_DOCS: list[tuple[str, Mutation, str, Any]] = [
    ("negative pflops", _set(["sites", 0, "pools", 0, "pflops", "value"], -5),
     "sites[0].pools[0].pflops.value", -5),
    ("missing source", _delete(["sites", 0, "pue", "source"]), "sites[0].pue.source", None),
    ("empty source", _set(["sites", 1, "green_share", "source"], " "),
     "sites[1].green_share.source", " "),
    ("unknown kind", _set(["sites", 0, "pools", 1, "kind"], "quantum"),
     "sites[0].pools[1].kind", "quantum"),
    ("unknown hub", _set(["sites", 3, "hub"], "atlantis"), "sites[3].hub", "atlantis"),
    ("duplicate site id", _duplicate_site_id, "sites[2].id", "zhangjiakou"),
    ("unknown region in latency", _set(["latency", 0, "region"], "mars"),
     "latency[0].region", "mars"),
    ("unknown site in bandwidth", _set(["bandwidth", 1, "site"], "nowhere"),
     "bandwidth[1].site", "nowhere"),
    ("wind + solar > 1", _wind_plus_solar, "sites[0].solar_fraction.value", 0.35),
    ("snapshot parts not summing", _horinger_snapshot_total,
     "sites[6].snapshots[0].total_pflops", 10_000),
    ("green share above 1", _set(["sites", 4, "green_share", "value"], 1.5),
     "sites[4].green_share.value", 1.5),
    ("pue below 1", _set(["sites", 4, "pue", "value"], 0.9), "sites[4].pue.value", 0.9),
    ("latitude out of range", _set(["regions", 1, "lat"], 95), "regions[1].lat", 95),
    ("rtt not positive", _set(["latency", 2, "rtt_ms"], 0), "latency[2].rtt_ms", 0),
    ("text for a number", _set(["sites", 5, "price_yuan_per_kwh", "value"], "cheap"),
     "sites[5].price_yuan_per_kwh.value", "cheap"),
    ("missing hubs", _delete(["hubs"]), "hubs", None),
    ("no sites", _set(["sites"], []), "sites", []),
    ("hub west not a boolean", _set(["hubs", 0, "west"], "yes"), "hubs[0].west", "yes"),
    ("unknown province without a factor", _set(["sites", 0, "province"], "Atlantis"),
     "sites[0].province", "Atlantis"),
    ("two pools of one kind", _set(["sites", 0, "pools", 1, "kind"], "general"),
     "sites[0].pools[1].kind", "general"),
    ("bad default bandwidth", _set(["default_bandwidth_gbps", "value"], -1),
     "default_bandwidth_gbps.value", -1),
    ("duplicate latency entry", _duplicate_latency, "latency[7].site", "horinger"),
    ("fractional units", _fractional_units, "sites[0].pools[0].units.value", 10.5),
]


def write_doc(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("mutate", "field", "value"), [b[1:] for b in BAD_DOCS],
                         ids=[b[0] for b in BAD_DOCS])
def test_bad_file_names_file_field_and_value(mutate: Mutation, field: str, value: Any,
                                             national_doc: dict[str, Any],
                                             tmp_path: Path) -> None:
    doc = copy.deepcopy(national_doc)
    mutate(doc)
    path = write_doc(tmp_path / "bad.yaml", doc)
    with pytest.raises(InputError) as info:
        load_network(path)
    err = info.value
    message = str(err)
    assert str(path) in message
    assert err.source == str(path)
    assert err.field == field
    assert err.value == value
    assert f"{field} = {value!r}" in message


def test_the_unmutated_copy_loads(national_doc: dict[str, Any], national: Network,
                                  tmp_path: Path) -> None:
    """The bad-file cases differ from a good file by their mutation only."""
    assert load_network(write_doc(tmp_path / "good.yaml", copy.deepcopy(national_doc))) == (
        national)


def test_wind_plus_solar_message_gives_the_sum(national_doc: dict[str, Any],
                                               tmp_path: Path) -> None:
    doc = copy.deepcopy(national_doc)
    _wind_plus_solar(doc)
    with pytest.raises(InputError, match=r"= 1\.25 must be <= 1"):
        load_network(write_doc(tmp_path / "bad.yaml", doc))


def test_snapshot_message_gives_the_parts_sum(national_doc: dict[str, Any],
                                              tmp_path: Path) -> None:
    doc = copy.deepcopy(national_doc)
    _horinger_snapshot_total(doc)
    with pytest.raises(InputError, match="parts sum to 10321"):
        load_network(write_doc(tmp_path / "bad.yaml", doc))


# (name, file text or None for a missing file, text in the message)
BAD_FILES: list[tuple[str, str | None, str]] = [
    ("not YAML", "name: [unclosed\n  sites: {\n", "is not valid YAML"),
    ("missing file", None, "no such file or directory"),
    ("YAML but a list", "- just\n- a list\n", "must be a mapping at the top level"),
    ("empty file", "", "must be a mapping at the top level"),
]


@pytest.mark.parametrize(("text", "problem"), [b[1:] for b in BAD_FILES],
                         ids=[b[0] for b in BAD_FILES])
def test_unreadable_file_names_the_file(text: str | None, problem: str,
                                        tmp_path: Path) -> None:
    path = tmp_path / "network.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_network(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_parse_network_names_its_source(national_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(national_doc)
    doc["sites"][0]["pue"]["value"] = 5
    with pytest.raises(InputError, match=r"^from-a-dict: sites\[0\]\.pue\.value = 5: "):
        parse_network(doc, "from-a-dict")
