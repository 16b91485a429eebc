"""A demo demand stream: synthetic jobs submitted as the run clock reaches their arrival.

Used by `suanwang up` so that a fresh service shows the network working. The jobs go through
the same path as API submissions (persisted, then handed to the live scheduler), as tenant
`demo`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING

from suanwang.model import Job
from suanwang.service.store import JobSpec
from suanwang.workload.synthetic import synthetic_jobs

if TYPE_CHECKING:
    from suanwang.service.app import Service

log = logging.getLogger("suanwang.service")


class DemoStream:
    def __init__(self, service: Service, jobs_per_day: int = 4000, days: float = 30.0,
                 seed: int = 0, load: float = 0.5, tenant: str = "demo") -> None:
        self.service = service
        if service.store.tenant_by_id(tenant) is None:
            service.store.ensure_tenant(tenant, "tenant", secrets.token_urlsafe(24))
        self.tenant = tenant
        self.jobs: list[Job] = synthetic_jobs(service.network, max(1, int(jobs_per_day * days)),
                                              days, seed=seed, load=load,
                                              start_utc=service.clock.start_utc)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="suanwang-demo", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        svc = self.service
        offset = svc.clock.now_s()  # the demo starts now, whatever the run clock shows
        i = 0
        while i < len(self.jobs) and not self._stop.is_set():
            now = svc.clock.now_s() - offset
            batch: list[Job] = []
            while i < len(self.jobs) and self.jobs[i].submit_s <= now:
                batch.append(self.jobs[i])
                i += 1
            if batch:
                specs = [JobSpec(origin=j.origin, kind=j.kind, units=j.units,
                                 duration_s=j.duration_s, rtt_bound_ms=j.rtt_bound_ms,
                                 deadline_in_s=(j.deadline_s - j.submit_s
                                                if j.deadline_s is not None else None),
                                 data_gb=j.data_gb, workload=j.workload, command=None)
                         for j in batch]
                svc.accept_specs(self.tenant, specs)
            time.sleep(0.2)
        log.info("demo stream submitted %d jobs", i)
