"""Deterministic replay of a live service's scheduling (issue 16 item 4).

`replay` reads the scheduler's log (`scheduler_log`: every input the live core took and
every decision it made, in order), rebuilds the same core at each `start` record (the network
it was given, checked by fingerprint; the energy series and forecasts from the same seed and
clock origin; the same policy), feeds it the inputs in order, each at the core clock it was
taken at, with the jobs as the jobs table holds them, and compares every decision it makes
with the one the live scheduler recorded: the same kind, job, time, site, provider, start,
end and reason, in the same order. The simulator's engine generates its own releases at the
jobs' estimates; here the releases are the recorded ones (a job on a real engine ends when
its engine says so), so the replay reproduces a live session whatever ran its jobs.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suanwang.core.policy import Decision
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.model import Job, Kind, Network, Placement
from suanwang.policies.registry import make_policy
from suanwang.service.clock import RunClock
from suanwang.service.scheduler_log import (
    DECISIONS,
    calendar_of,
    decision,
    network_fingerprint,
)
from suanwang.service.store import Store, row_to_job
from suanwang.sim.runner import energy_for


class ReplayError(Exception):
    """The log cannot be replayed as given (another network, a job missing)."""


class _Listener:
    def __init__(self, out: list[dict[str, Any]]) -> None:
        self.out = out
        self.scheduler: Scheduler | None = None

    def placed(self, placement: Placement, pool: int) -> None:
        self.out.append(decision("placed", placement.job.job_id, placement.placed_s,
                                 site=placement.site_id, provider=placement.provider_id,
                                 start_s=placement.start_s, end_s=placement.end_s,
                                 reason=placement.reason))

    def _at(self) -> float:
        assert self.scheduler is not None
        return self.scheduler.now_s

    def deferred(self, job: Job, until_s: float, reason: str) -> None:
        self.out.append(decision("deferred", job.job_id, self._at(), until_s=until_s,
                                 reason=reason))

    def queued(self, job: Job, reason: str) -> None:
        self.out.append(decision("queued", job.job_id, self._at(), reason=reason))

    def rejected(self, job: Job, reason: str) -> None:
        self.out.append(decision("rejected", job.job_id, self._at(), reason=reason))

    def finished(self, job: Job, pool: int, now_s: float) -> None:
        self.out.append(decision("finished", job.job_id, now_s))


@dataclass
class ReplayResult:
    starts: int = 0
    inputs: int = 0
    decisions: int = 0  # recorded by the live scheduler
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per decision, both sides

    @property
    def differing(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if not r["same"]]

    @property
    def reproduced(self) -> bool:
        return self.decisions > 0 and not self.differing


def _same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return a is not None and b is not None and a["kind"] == b["kind"] \
        and a["clock"] == b["clock"] and a["body"] == json.loads(json.dumps(b["body"]))


def replay(store: Store, network: Network,
           log: Iterable[tuple[int, str, float, dict[str, Any]]]) -> ReplayResult:
    result = ReplayResult()
    jobs: dict[str, Job] = {}

    def job(job_id: str) -> Job:
        got = jobs.get(job_id)
        if got is None:
            row = store.get_job(job_id)
            if row is None:
                raise ReplayError(f"the log names job {job_id}, which the jobs table does "
                                  "not have")
            got = jobs[job_id] = row_to_job(row)
        return got

    fingerprint = network_fingerprint(network)
    core: Scheduler | None = None
    made: list[dict[str, Any]] = []
    recorded: list[dict[str, Any]] = []
    for seq, kind, clock, body in log:
        if kind == "start":
            if body["network"] != fingerprint:
                raise ReplayError(f"log record {seq}: the service ran another network "
                                  f"(fingerprint {body['network']}, this one {fingerprint});"
                                  " give the network file it was started with (--network)")
            _compare(recorded, made, result)
            recorded, made = [], []
            result.starts += 1
            core = _core(network, body, made)
            continue
        if core is None:
            raise ReplayError(f"log record {seq} ({kind}) comes before any start record")
        if kind in DECISIONS:
            recorded.append({"kind": kind, "clock": clock, "body": body, "seq": seq})
            continue
        result.inputs += 1
        core.now_s = clock
        _apply(core, kind, body, job)
    _compare(recorded, made, result)
    return result


def _core(network: Network, cfg: dict[str, Any], out: list[dict[str, Any]]) -> Scheduler:
    clock = RunClock(float(cfg["clock_origin_epoch_s"]), float(cfg["clock_speed"]))
    series = energy_for(network, [], int(cfg["seed"]), clock.start_utc,
                        days=float(cfg["series_days"]))
    if series.hours != int(cfg["series_hours"]):
        raise ReplayError(f"the energy series rebuilt has {series.hours} hours, the service's "
                          f"had {cfg['series_hours']}: another version of the energy model?")
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in network.sites],
                            seed=int(cfg["seed"]), error_scale=float(cfg["forecast_error"]))
    topology = Topology(network)
    estimate = {topology.site_ids.index(s) for s in cfg["estimate_sites"]}
    listener = _Listener(out)
    core = Scheduler(topology, forecaster, make_policy(cfg["policy"]), listener,
                     estimate_sites=estimate)
    listener.scheduler = core
    return core


def _apply(core: Scheduler, kind: str, b: dict[str, Any], job: Any) -> None:
    if kind == "submit":
        core.submit(job(b["job"]), b["now_s"])
    elif kind == "advance":
        core.advance(b["until_s"])
    elif kind == "release":
        core.release(b["job"], b["now_s"], notify=b["notify"])
    elif kind == "requeue":
        core.requeue(b["job"], b["now_s"])
    elif kind == "cancel":
        core.cancel(b["job"], b["now_s"])
    elif kind == "drain_site":
        core.drain_site(b["site"], b["drained"], b["now_s"])
    elif kind == "close_slice":
        core.close_slice(b["slice"], b["closed"], b["now_s"])
    elif kind == "set_capacity":
        core.set_capacity(b["site"], Kind(b["kind"]), b["units"], b["now_s"])
    elif kind == "resume_running":
        core.resume_running(job(b["job"]), b["site"], b["end_s"], b["provider"])
    elif kind == "resume_deferred":
        core.resume_deferred(job(b["job"]), b["until_s"])
    elif kind == "place":  # the call auction's placement (`service.market_desk`)
        core.apply(Decision(placed=[Placement(job(b["job"]), b["site"], b["now_s"],
                                              b["transfer_s"], b["reason"], b["provider"])]),
                   b["now_s"])
    elif kind == "set_power":
        core.set_power(calendar_of(b), b["now_s"])
    else:
        raise ReplayError(f"unknown log record kind {kind!r}")


def _compare(recorded: list[dict[str, Any]], made: list[dict[str, Any]],
             result: ReplayResult) -> None:
    result.decisions += len(recorded)
    for k in range(max(len(recorded), len(made))):
        live = recorded[k] if k < len(recorded) else None
        again = made[k] if k < len(made) else None
        result.rows.append({"live": live, "replay": again, "same": _same(live, again)})


COLUMNS = ("seq", "same", "kind", "job", "clock", "site", "provider", "start_s", "end_s",
           "until_s", "reason", "replay_kind", "replay_job", "replay_clock", "replay_site",
           "replay_provider", "replay_reason")


def write_replay(result: ReplayResult, out_dir: Path) -> list[Path]:
    """decisions.csv (each decision, live beside replayed) and summary.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "decisions.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in result.rows:
            a, b = r["live"] or {}, r["replay"] or {}
            ab, bb = a.get("body", {}), b.get("body", {})
            w.writerow([a.get("seq", ""), int(r["same"]), a.get("kind", ""), ab.get("job", ""),
                        a.get("clock", ""), ab.get("site", ""), ab.get("provider", ""),
                        ab.get("start_s", ""), ab.get("end_s", ""), ab.get("until_s", ""),
                        ab.get("reason", ""), b.get("kind", ""), bb.get("job", ""),
                        b.get("clock", ""), bb.get("site", ""), bb.get("provider", ""),
                        bb.get("reason", "")])
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps({
        "starts": result.starts, "inputs": result.inputs, "decisions": result.decisions,
        "differing": len(result.differing), "reproduced": result.reproduced}, indent=2),
        encoding="utf-8")
    return [path, summary]
