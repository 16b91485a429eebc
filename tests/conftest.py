"""Shared fixtures: a tiny hand-built network, hand-made energy series, exact forecasts, jobs.
What they are made of is in `tiny_support` (importable from test helpers; see its docstring for
the network's numbers)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from suanwang.core.state import SchedulerState, Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.model import Network
from suanwang.network.loader import parse_network
from tiny_support import (  # noqa: F401  (re-exported for tests that import them from here)
    PROVIDER_FACTOR,
    T0,
    TINY_DOC,
    TINY_GREEN,
    TINY_GRID,
    TINY_PRICE,
    TINY_PUE,
    TINY_SOURCE,
    JobFactory,
    SeriesFactory,
    SiteValues,
    _prov,
    _provider_doc,
    _rows,
    _v,
    build_series,
    exact_forecaster,
    job,
)


@pytest.fixture
def tiny_doc() -> dict[str, Any]:
    """A fresh copy of the tiny network's document (safe to mutate)."""
    return copy.deepcopy(TINY_DOC)


@pytest.fixture(scope="session")
def tiny_net() -> Network:
    return parse_network(copy.deepcopy(TINY_DOC), TINY_SOURCE)


@pytest.fixture(scope="session")
def tiny_topo(tiny_net: Network) -> Topology:
    return Topology(tiny_net)


@pytest.fixture
def make_series() -> SeriesFactory:
    return build_series


@pytest.fixture
def make_forecaster() -> Callable[[Network, EnergySeries], Forecaster]:
    return exact_forecaster


@pytest.fixture
def make_state() -> Callable[..., SchedulerState]:
    """`make_state(net, series=None)`: a fresh SchedulerState with exact forecasts (the flat
    file-valued series unless one is given)."""

    def make(net: Network, series: EnergySeries | None = None) -> SchedulerState:
        s = series if series is not None else build_series(net)
        return SchedulerState(Topology(net), exact_forecaster(net, s))

    return make


@pytest.fixture
def make_job() -> JobFactory:
    return job


@pytest.fixture
def provider_doc() -> Callable[..., dict[str, Any]]:
    """`provider_doc(tiny_doc, **extra_for_cheap)`: the tiny network's document with providers
    `cheap` (10 yuan per card-hour, 2 yuan/GB egress) and `dear` (12, no egress) holding half
    of every pool at every site, at a site factor of local 1.0, mid 0.9, west 0.8."""
    return _provider_doc


@pytest.fixture(autouse=True)
def _forget_fastapi_endpoints() -> Iterator[None]:
    """FastAPI keeps its classification of endpoint callables in module-level LRU caches (4,096
    entries): they hold every test app's route closures, and through them its service (its
    scheduler, series, store), for dozens of tests after. Cleared after each test so that a
    full run stays at the memory of one service at a time."""
    yield
    try:
        from fastapi.dependencies import models
    except ImportError:
        return
    for name in ("_is_gen_callable_cached", "_is_async_gen_callable_cached",
                 "_is_coroutine_callable_cached"):
        cached = getattr(models, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()
