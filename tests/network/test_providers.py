"""Providers in the network file: shares that add up to the sites' pools, price items, quotas,
the implicit provider of a file without providers, and malformed provider blocks refused."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanwang.errors import InputError
from suanwang.model import Docking, Kind, Network
from suanwang.network.loader import bundled_network_path, load_network, parse_network


@pytest.fixture(scope="module")
def national() -> Network:
    return load_network()


@pytest.fixture(scope="module")
def national_doc() -> dict[str, Any]:
    doc = yaml.safe_load(bundled_network_path().read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_every_site_has_three_to_five_providers_whose_units_add_up(national: Network) -> None:
    for site in national.sites:
        assert 3 <= len(site.providers) <= 5, site.id
        for pool in site.pools:
            assert sum(p.units_of(pool.kind) for p in site.providers) == pool.units
            assert all(p.offered(pool.kind) <= p.units_of(pool.kind) for p in site.providers)


def test_horinger_has_the_carriers_a_bank_and_scnet(national: Network) -> None:
    ids = [p.id for p in national.site("horinger").providers]
    assert ids == ["ctyun", "ecloud", "unicom", "bank-dc", "scnet"]
    bank = national.site("horinger").provider("bank-dc")
    assert bank is not None and bank.docking == Docking.MANAGED
    assert bank.units_of(Kind.HPC) == 0
    assert bank.cap_of(Kind.GENERAL) == 20000


def test_seed_capacity_still_reproduces(national: Network) -> None:
    assert national.site("horinger").pflops == pytest.approx(24_000, abs=1)


def test_price_items_are_versioned_and_a_western_factor_applies(national: Network) -> None:
    huawei = national.site("wuhu").provider("huawei")
    assert huawei is not None
    items = huawei.items(Kind.INTELLIGENT)
    assert [i.yuan_per_unit_h for i in items] == [18.0, 16.0]
    assert items[1].effective_from == datetime(2024, 6, 14, 16, tzinfo=UTC)  # 00:00 UTC+8
    west = national.site("jining").provider("ctyun")
    east = national.site("wuhu").provider("ctyun")
    assert west is not None and east is not None
    assert west.items(Kind.GENERAL)[0].yuan_per_unit_h == pytest.approx(0.08 * 0.85)
    assert east.items(Kind.GENERAL)[0].yuan_per_unit_h == 0.08
    assert "x 0.85 at jining" in west.items(Kind.GENERAL)[0].source


def test_a_network_without_providers_has_one_implicit_provider_per_site(
        tiny_net: Network) -> None:
    for site in tiny_net.sites:
        (p,) = site.providers
        assert p.id == site.id and p.energy_priced and p.prices == ()
        assert [p.offered(q.kind) for q in site.pools] == [q.units for q in site.pools]


def test_shares_are_split_by_largest_remainder(tiny_doc: dict[str, Any]) -> None:
    doc = _with_providers(tiny_doc)
    net = parse_network(doc, "<t>")
    local = net.site("local")
    # 40 general cores at 1/3 + 2/3; 8 cards at 1/3 + 2/3: 2.67 -> 3, 5.33 -> 5
    assert [p.units_of(Kind.GENERAL) for p in local.providers] == [13, 27]
    assert [p.units_of(Kind.INTELLIGENT) for p in local.providers] == [3, 5]


def _cheap_and_dear() -> list[dict[str, Any]]:
    sla = {"availability": {"value": 0.999, "source": "test"},
           "start_s": {"value": 60, "source": "test"}}

    def prov(pid: str, general: float, intelligent: float) -> dict[str, Any]:
        return {"id": pid, "name_zh": pid, "name_en": pid, "docking": "api",
                "executor": "local", "sla": sla,
                "egress_yuan_per_gb": {"value": 0.5, "source": "test"},
                "prices": [
                    {"kind": "general", "effective_from": "2024-01-01",
                     "yuan_per_unit_h": {"value": general, "source": "test"}},
                    {"kind": "intelligent", "effective_from": "2024-01-01",
                     "yuan_per_unit_h": {"value": intelligent, "source": "test"}},
                    {"kind": "hpc", "effective_from": "2024-01-01",
                     "yuan_per_unit_h": {"value": 5.0, "source": "test"}}]}
    return [prov("cheap", 0.05, 10.0), prov("dear", 0.1, 20.0)]


def _with_providers(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["providers"] = _cheap_and_dear()
    share = {"source": "test"}
    doc["sites"][0]["providers"] = [
        {"id": "cheap", "share": {"general": 1 / 3, "intelligent": 1 / 3, **share}},
        {"id": "dear", "share": {"general": 2 / 3, "intelligent": 2 / 3, **share}}]
    return doc


Mutation = Callable[[dict[str, Any]], None]


def _site_prov(doc: dict[str, Any], i: int) -> dict[str, Any]:
    return next(s for s in doc["sites"] if s["id"] == "horinger")["providers"][i]


def _cat(doc: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in doc["providers"] if p["id"] == pid)


def _horinger() -> int:
    doc = yaml.safe_load(bundled_network_path().read_text(encoding="utf-8"))
    return [s["id"] for s in doc["sites"]].index("horinger")


H = _horinger()


def _set_share(doc: dict[str, Any]) -> None:
    _site_prov(doc, 0)["share"]["general"] = 0.5


def _unknown_provider(doc: dict[str, Any]) -> None:
    _site_prov(doc, 1)["id"] = "amazon"


def _bad_docking(doc: dict[str, Any]) -> None:
    _cat(doc, "huawei")["docking"] = "ssh"


def _no_price_source(doc: dict[str, Any]) -> None:
    del _cat(doc, "ctyun")["prices"][0]["yuan_per_unit_h"]["source"]


def _bad_date(doc: dict[str, Any]) -> None:
    _cat(doc, "huawei")["prices"][2]["effective_from"] = "mid-June"


def _same_instant(doc: dict[str, Any]) -> None:
    _cat(doc, "huawei")["prices"][2]["effective_from"] = "2024-01-01"


def _quota_too_big(doc: dict[str, Any]) -> None:
    _site_prov(doc, 4)["quota"] = {"hpc": 999_999, "source": "test"}


def _scnet_no_hpc_price(doc: dict[str, Any]) -> None:
    del _cat(doc, "scnet")["prices"][2]


def _negative_availability(doc: dict[str, Any]) -> None:
    _cat(doc, "unicom")["sla"]["availability"]["value"] = -0.1


def _unknown_key(doc: dict[str, Any]) -> None:
    _site_prov(doc, 2)["discount"] = 0.5


def _half_hour(doc: dict[str, Any]) -> None:
    _cat(doc, "huawei")["prices"][2]["effective_from"] = "2024-06-15T08:30"


BAD: list[tuple[str, Mutation, str, Any]] = [
    ("shares not adding up", _set_share, f"sites[{H}].providers[*].share.general", 1.2),
    ("unknown provider", _unknown_provider, f"sites[{H}].providers[1].id", "amazon"),
    ("unknown docking", _bad_docking, "providers[3].docking", "ssh"),
    ("price without source", _no_price_source,
     "providers[0].prices[0].yuan_per_unit_h.source", None),
    ("bad effective date", _bad_date, "providers[3].prices[2].effective_from", "mid-June"),
    ("two items from one instant", _same_instant, "providers[3].prices[2].effective_from",
     "2024-01-01T00:00:00+08:00"),
    ("quota above the share", _quota_too_big, f"sites[{H}].providers[4].quota.hpc", 999_999),
    ("units without a price", _scnet_no_hpc_price, "sites[4].providers[3].share.hpc", 2500),
    ("negative availability", _negative_availability,
     "providers[2].sla.availability.value", -0.1),
    ("unknown key", _unknown_key, f"sites[{H}].providers[2].discount", 0.5),
    ("not a whole hour", _half_hour, "providers[3].prices[2].effective_from",
     "2024-06-15T08:30"),
]


@pytest.mark.parametrize(("mutate", "field", "value"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_a_malformed_provider_block_names_file_field_and_value(
        mutate: Mutation, field: str, value: Any, national_doc: dict[str, Any],
        tmp_path: Path) -> None:
    doc = copy.deepcopy(national_doc)
    mutate(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_network(path)
    assert info.value.source == str(path)
    assert info.value.field == field
    assert info.value.value == value
