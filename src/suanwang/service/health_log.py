"""The health transitions of each site's backend (the executor its providers are reached
through), over run time: the record the measured availability of a provider is computed from.

A transition is `(site, at_s, healthy, why)`: the scheduler writes one when a backend stops
answering and one when a probe finds it answering again. The log is persisted as JSON in the
`meta` table (key `health_log`, no migration: transitions are rare), so it survives restarts
and API replicas read the leader's log. It keeps the last `MAX_TRANSITIONS` entries; older ones
are dropped (the availability window then starts at the first entry kept).

A site's backend counts as healthy from run time 0 until its first "down" transition. At a
restart the scheduler treats every backend as healthy again (it probes only after a failure),
so a site left "down" by the previous process is closed with an "up" at the restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suanwang.service.store import Store

META_KEY = "health_log"
MAX_TRANSITIONS = 5000


@dataclass(frozen=True, slots=True)
class HealthTransition:
    site: str
    at_s: float  # run seconds
    healthy: bool  # the state from at_s on
    why: str


def read_log(store: Store) -> list[HealthTransition]:
    raw = store.meta(META_KEY)
    if not raw:
        return []
    return [HealthTransition(e["site"], float(e["at_s"]), bool(e["healthy"]), e.get("why", ""))
            for e in json.loads(raw)]


def append(store: Store, transition: HealthTransition) -> None:
    entries = read_log(store)
    entries.append(transition)
    entries = entries[-MAX_TRANSITIONS:]
    store.set_meta(META_KEY, json.dumps([
        {"site": e.site, "at_s": e.at_s, "healthy": e.healthy, "why": e.why}
        for e in entries]))


def close_open_downs(store: Store, at_s: float, why: str) -> None:
    """Record "up" at `at_s` for every site whose last transition is "down" (a restart)."""
    last: dict[str, HealthTransition] = {}
    for e in read_log(store):
        last[e.site] = e
    for site, e in last.items():
        if not e.healthy:
            append(store, HealthTransition(site, at_s, True, why))


def down_s(log: list[HealthTransition], site: str, start_s: float, now_s: float) -> float:
    """Run seconds of [start_s, now_s) during which `site`'s backend was down."""
    total = 0.0
    down_since: float | None = None
    for e in sorted((e for e in log if e.site == site), key=lambda e: e.at_s):
        if not e.healthy and down_since is None:
            down_since = e.at_s
        elif e.healthy and down_since is not None:
            total += max(0.0, min(e.at_s, now_s) - max(down_since, start_s))
            down_since = None
    if down_since is not None:
        total += max(0.0, now_s - max(down_since, start_s))
    return total


def availability(log: list[HealthTransition], site: str, start_s: float,
                 now_s: float) -> float | None:
    """Share of [start_s, now_s) the backend was healthy (None for an empty window)."""
    span = now_s - start_s
    if span <= 0:
        return None
    return max(0.0, 1.0 - down_s(log, site, start_s, now_s) / span)
