"""A tiny market: the tiny network of tests/conftest.py with providers `p1` and `p2` (both at
1 yuan/GB egress, so they form one market per site and kind) and `p3` (0.1 yuan/GB) at `west`.

Pools (intelligent units): local 8 (p1 4, p2 4), west 10 (p1 4, p2 4, p3 2), mid 6 (3, 3).
Round trips: east->local 1.0 (formula), east->mid 10, east->west 20; south->local 25,
south->mid 12, south->west 30. Links 10 Gbps, east->west 40 Gbps. SLA start: 60 s for all.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from suanwang.market.orders import Ask, Bid
from suanwang.model import Kind, Network
from suanwang.network.loader import parse_network

V = {"source": "test"}


def _provider(pid: str, egress: float) -> dict[str, Any]:
    return {"id": pid, "name_zh": pid, "name_en": pid, "docking": "api", "executor": "local",
            "sla": {"availability": {"value": 0.999, **V}, "start_s": {"value": 60, **V}},
            "egress_yuan_per_gb": {"value": egress, **V},
            "prices": [{"kind": k, "effective_from": "2024-01-01",
                        "yuan_per_unit_h": {"value": price, **V}}
                       for k, price in (("general", 0.1), ("intelligent", 10.0), ("hpc", 5.0))]}


@pytest.fixture
def market_net(tiny_doc: dict[str, Any]) -> Network:
    doc = copy.deepcopy(tiny_doc)
    doc["providers"] = [_provider("p1", 1.0), _provider("p2", 1.0), _provider("p3", 0.1)]
    for site in doc["sites"]:
        kinds = [p["kind"] for p in site["pools"]]
        if site["id"] == "west":
            site["providers"] = [
                {"id": "p1", "share": {**{k: 0.4 for k in kinds}, **V}},
                {"id": "p2", "share": {**{k: 0.4 for k in kinds}, **V}},
                {"id": "p3", "share": {**{k: 0.2 for k in kinds}, **V}}]
        else:
            share = {**{k: 0.5 for k in kinds}, **V}
            site["providers"] = [{"id": "p1", "share": share}, {"id": "p2", "share": share}]
    return parse_network(doc, "<tiny market>")


def _bid(bid_id: str, value: float, *, units: int = 1, hours: float = 1.0, origin: str = "east",
        rtt: float | None = None, deadline_h: float | None = 24.0, data_gb: float = 0.0,
        kind: Kind = Kind.INTELLIGENT, carbon_cap_kg: float | None = None) -> Bid:
    """A bid of `value` yuan per unit-hour; real-time when `rtt` is given."""
    return Bid(bid_id=bid_id, tenant="t", origin=origin, kind=kind, units=units,
               duration_s=hours * 3600.0, rtt_bound_ms=rtt,
               deadline_s=None if rtt is not None else deadline_h * 3600.0,
               limit_yuan_per_unit_h=value, data_gb=data_gb, carbon_cap_kg=carbon_cap_kg)


def _ask(provider: str, site: str, reserve: float, units: int = 1,
        kind: Kind = Kind.INTELLIGENT) -> Ask:
    return Ask(provider, site, kind, reserve, units)


@pytest.fixture
def make_bid() -> Any:
    """`make_bid(id, value, units=1, hours=1, origin="east", rtt=None, deadline_h=24, ...)`."""
    return _bid


@pytest.fixture
def make_ask() -> Any:
    """`make_ask(provider, site, reserve, units=1, kind=intelligent)`."""
    return _ask
