"""Closing the live service's hours into the ledger (绿电溯源), in the scheduler's tick thread.

When the run clock has passed the end of an hour, every draw in that hour is known: the tick has
just advanced the scheduler to now (finishing every job that ended), polled the executors and
committed the transitions. The hour's records are then derived from the jobs table, the same
way whether the service has run throughout or has just restarted:

- finished and failed jobs that were charged, over their actual [start_s, end_s);
- running jobs from their start_s on (they are still drawing at the end of the hour).

Each draw is split by hour with `split_by_hour`, metered and allocated with `allocate_segments`
(the simulator's code: pro-rata green, records of a pool-hour summing to its meter, here the sum
of its draws), and appended with `Chain.append` by `DbLedger.append_hours`, the closed hours'
records and the new head in one transaction. `next_hour` in the head says which hours are
closed, so a restart neither skips nor repeats an hour.

Each record's `hour_start_s` is the hour's start in Unix seconds (the run clock's origin plus
3600 x the hour index), `hour` the same instant in Beijing time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, and_, or_, select

from suanwang.energy.series import HOUR_S
from suanwang.ledger.build import MARKET_MG_PER_KWH, allocate_segments, hour_label, split_by_hour
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.units import to_micro
from suanwang.model import Kind
from suanwang.service.db import JobRow
from suanwang.service.ledger_store import DbLedger, Hourly
from suanwang.service.store import FAILED, FINISHED, RUNNING

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

log = logging.getLogger("suanwang.service")
MAX_HOURS_PER_CLOSE = 168  # a long outage is caught up a week per tick


class HourCloser:
    """Appends the records of every hour the run clock has passed (see the module's doc)."""

    def __init__(self, live: LiveScheduler) -> None:
        self.live = live
        self.ledger = DbLedger(live.store.engine, live.clock.start_utc)
        self._origin_s = int(live.clock.origin_epoch_s)
        self._closed_until: int | None = None  # the head's next_hour, as last seen

    def close_hours(self, now_s: float) -> int:
        """Close the hours that ended at or before `now_s` (run seconds); the records
        appended."""
        end_hour = min(int(now_s // HOUR_S), self.live.series.hours)
        if self._closed_until is not None and self._closed_until >= end_hour:
            return 0  # most ticks: no hour has ended since the last close
        self._closed_until = None
        next_hour = self.ledger.head().next_hour
        if next_hour >= end_hour:
            self._closed_until = next_hour
            return 0
        end_hour = min(end_hour, next_hour + MAX_HOURS_PER_CLOSE)
        appended = len(self.ledger.append_hours(end_hour, self.records))
        self._closed_until = end_hour
        return appended

    def records(self, conn: Connection, h0: int, h1: int) -> Sequence[Hourly]:
        """The records of hours [h0, h1), in ledger order (hour, site, pool, job)."""
        t0, t1 = h0 * HOUR_S, h1 * HOUR_S
        charged = and_(JobRow.state.in_((FINISHED, FAILED)), JobRow.energy_kwh.is_not(None),
                       JobRow.end_s > t0)
        rows = conn.execute(
            select(JobRow.id, JobRow.tenant, JobRow.origin, JobRow.kind, JobRow.units,
                   JobRow.site, JobRow.start_s, JobRow.end_s, JobRow.state)
            .where(JobRow.site.is_not(None), JobRow.start_s.is_not(None), JobRow.start_s < t1,
                   or_(charged, JobRow.state == RUNNING))
            .order_by(JobRow.seq)).all()
        topo = self.live.topology
        site_index = {s: i for i, s in enumerate(topo.site_ids)}
        pool_index = {(topo.site_ids[topo.pool_site[p]], topo.pool_kind[p]): p
                      for p in range(len(topo.pools))}
        kept = [r for r in rows if (r.site, Kind(r.kind)) in pool_index]
        if len(kept) < len(rows):
            log.warning("ledger: %d jobs on sites or pools the network no longer has are "
                        "left out of hours %d-%d", len(rows) - len(kept), h0, h1 - 1)
        if not kept:
            return []
        pool = np.array([pool_index[(r.site, Kind(r.kind))] for r in kept], dtype=np.int64)
        site = np.array([site_index[r.site] for r in kept], dtype=np.int64)
        power_kw = (np.array([r.units for r in kept], dtype=float)
                    * np.asarray(topo.pool_kw_facility)[pool])
        start = np.maximum(np.array([r.start_s for r in kept], dtype=float), t0)
        end = np.array([t1 if r.state == RUNNING or r.end_s is None else min(r.end_s, t1)
                        for r in kept], dtype=float)
        seg = split_by_hour(np.arange(len(kept), dtype=np.int64), site, pool, power_kw,
                            start, end)
        seg = dataclasses.replace(seg, hour=seg.hour - h0)  # hours relative to h0
        green = self.live.series.green_share[:, h0:h1]
        green_micro = np.array([[to_micro(float(x)) for x in row] for row in green.tolist()],
                               dtype=np.int64).reshape(green.shape)
        sites = self.live.network.sites
        cols = allocate_segments(
            seg, tenant_of_job=[r.tenant for r in kept], metered_ukwh=None,
            green_share_micro=green_micro, pue_of_site=np.array([s.pue for s in sites]),
            grid_mg_per_kwh_of_site=np.array([round(s.grid_intensity_g_per_kwh * 1000)
                                              for s in sites]))
        start_utc = self.live.clock.start_utc
        # each record's site-hour supply (the same for every record of a site-hour)
        supply = np.repeat(cols.supply_ukwh, np.diff(cols.starts)).tolist()
        out: list[Hourly] = []
        for j, s, p, hr, it, fac, g, loc, sup in zip(
                cols.job.tolist(), cols.site.tolist(), cols.pool.tolist(), cols.hour.tolist(),
                cols.it_ukwh.tolist(), cols.facility_ukwh.tolist(), cols.green_ukwh.tolist(),
                cols.location_mg_per_kwh.tolist(), supply, strict=True):
            r, h = kept[j], h0 + hr
            out.append(Hourly(h, LedgerRecord(
                job=r.id, tenant=r.tenant, origin=r.origin, site=topo.site_ids[s],
                kind=topo.pool_kind[p].value, hour_start_s=self._origin_s + h * int(HOUR_S),
                hour=hour_label(start_utc, h), it_ukwh=it, facility_ukwh=fac, green_ukwh=g,
                location_mg_per_kwh=loc, market_mg_per_kwh=MARKET_MG_PER_KWH), int(sup)))
        return out
