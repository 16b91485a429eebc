"""What an API replica (`suanwang api`) knows of the scheduler, which runs in another process.

`LiveReplica` answers the same questions as `LiveScheduler` (the routes do not know which
they have): the live view, counts and totals come from the snapshot the leader writes every
`leader.PUBLISH_EVERY_S` (read at most every `SNAPSHOT_TTL_S`), drained sites from the table
the leader writes when it applies a drain; the series and forecasts are computed here from the
same seed and clock. Submissions need nothing from it (their commit is the hand-off); operator
actions are appended to the `commands` table and answered once the leader has applied them.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

from suanwang.executors.base import BackendUnavailable
from suanwang.model import Job, Kind, Network
from suanwang.service.clock import RunClock
from suanwang.service.leader import SNAPSHOT_KEY
from suanwang.service.live import ExecInfo, LiveScheduler, Totals
from suanwang.service.store import Store

SNAPSHOT_TTL_S = 0.25  # wall seconds a replica reuses the leader's snapshot
COMMAND_WAIT_S = 10.0  # how long an operator action waits for the leader to apply it


class LiveReplica(LiveScheduler):
    def __init__(self, network: Network, store: Store, clock: RunClock, policy: str,
                 seed: int = 0, forecast_error: float = 1.0) -> None:
        super().__init__(network, store, clock, policy, seed=seed,
                         forecast_error=forecast_error, recover=False, record=False)
        self._snap: dict[str, Any] | None = None
        self._snap_read = float("-inf")

    # ---- the leader's view ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any] | None:
        wall = time.monotonic()
        if wall - self._snap_read >= SNAPSHOT_TTL_S:
            self._snap_read = wall
            raw = self.store.meta(SNAPSHOT_KEY)
            if raw is not None:
                self._snap = json.loads(raw)
                self._absorb(self._snap)
        return self._snap

    def _absorb(self, snap: dict[str, Any]) -> None:
        self.unhealthy = dict(snap["unhealthy"])
        self.totals = Totals(**snap["totals"])
        self.executors = {sid: SimpleNamespace(name=name)  # type: ignore[misc]
                          for sid, name in snap["backends"].items()}
        topo = self.scheduler.topology
        caps = {(topo.site_ids[topo.pool_site[p]], topo.pool_kind[p].value):
                topo.pool_capacity[p] for p in range(len(topo.pools))}
        for s in snap["live_state"]["sites"]:
            for p in s["pools"]:
                if caps.get((s["site"], p["kind"])) not in (None, p["capacity_units"]):
                    self.scheduler.set_capacity(s["site"], Kind(p["kind"]),
                                                p["capacity_units"], 0.0)
        self.topology = self.scheduler.topology

    def live_state(self) -> list[dict[str, Any]]:
        snap = self.snapshot()
        return [snap["live_state"]] if snap is not None else super().live_state()

    def counts(self) -> dict[str, int]:
        snap = self.snapshot()
        return dict(snap["counts"]) if snap is not None else super().counts()

    def drained_sites(self) -> set[str]:
        self.snapshot()
        return self.store.drained_sites()

    # ---- inputs: the database is the hand-off -------------------------------------------------

    def accept(self, jobs: list[Job], infos: list[ExecInfo] | None = None) -> None:
        self.submitted_total += len(jobs)  # committed: the leader takes them in from there

    def start(self, tick_s: float = 0.1) -> None:  # a replica does not tick
        return None

    def _command(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        cid = self.store.append_command(kind, body)
        end = time.monotonic() + COMMAND_WAIT_S
        while time.monotonic() < end:
            result = self.store.command_result(cid)
            if result is not None:
                if "error" in result:
                    raise BackendUnavailable(result["error"])
                return result
            time.sleep(0.02)
        raise BackendUnavailable(f"no scheduler applied command {cid} within "
                                 f"{COMMAND_WAIT_S:g} s (is `suanwang scheduler` running?); "
                                 "it stays queued and is applied when one leads")

    def cancel(self, job_id: str) -> bool:
        return bool(self._command("cancel", {"job_id": job_id})["ok"])

    def set_capacity(self, site_id: str, kind: Kind, units: int) -> None:
        self._command("capacity", {"site": site_id, "kind": kind.value, "units": units})
        self.scheduler.set_capacity(site_id, kind, units, 0.0)  # read-your-writes here
        self.topology = self.scheduler.topology

    def drain(self, site_id: str, drained: bool) -> None:
        self._command("drain", {"site": site_id, "drained": drained})

    def grid_notify(self, event_id: str) -> dict[str, Any]:
        return self._command("grid_event", {"id": event_id})

    def grid_cancel(self, event_id: str) -> bool:
        return bool(self._command("grid_cancel", {"id": event_id})["ok"])

    def grid_flexibility(self, site: str | None, hours: int) -> dict[str, Any]:
        """Computed by the leader, which knows the work (a read through the command log)."""
        return self._command("grid_flex", {"site": site, "hours": hours})
