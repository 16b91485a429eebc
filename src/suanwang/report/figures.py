"""The figures of a statistics bulletin, unrounded: from the network alone, and from a run's
verified ledger, jobs.csv and sites.csv when there is one. Plain data, no formatting.

Where each figure comes from:
- compute (P) and units by kind, site and hub: the network's pools (units x P per unit);
- utilisation: sites.csv, busy unit-hours / installed unit-hours over the period's hours (all
  kinds together: weighted by P per unit);
- energy, green, CO2 both ways and avoided: the ledger's records whose hour lies in the period
  (`ledger.totals`: exact sums);
- cost: sites.csv, energy_kwh x price_yuan_per_kwh over the period's site-hours;
- flows east -> west: ledger energy by origin region, at sites of western hubs (network
  `hubs[].west`) or elsewhere; input data (jobs.csv data_gb) of the jobs with records in the
  period, counted once per job;
- latency classes: jobs with records in the period, real-time when jobs.csv gives a round-trip
  bound, by count and by ledger energy.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from suanwang.errors import InputError
from suanwang.ledger.factors import (
    RESIDUAL_MIX_G_PER_KWH,
    RESIDUAL_MIX_SOURCE,
    RESIDUAL_MIX_SOURCE_ZH,
    origin_factor,
)
from suanwang.ledger.period import Period, span_period
from suanwang.ledger.totals import Totals, share
from suanwang.report.provider_section import provider_figures
from suanwang.report.run_files import Run

KINDS = ("general", "intelligent", "hpc")


def network_figures(net: dict[str, Any]) -> dict[str, Any]:
    hubs = {h["id"]: h for h in net["hubs"]}
    sites = []
    by_kind = dict.fromkeys(KINDS, 0.0)
    units_by_kind = dict.fromkeys(KINDS, 0)
    hub_p: dict[str, dict[str, float]] = {h: dict.fromkeys(KINDS, 0.0) for h in hubs}
    for s in net["sites"]:
        p_kind = dict.fromkeys(KINDS, 0.0)
        u_kind = dict.fromkeys(KINDS, 0)
        for q in s["pools"]:
            p_kind[q["kind"]] += q["pflops"]
            u_kind[q["kind"]] += q["units"]
            by_kind[q["kind"]] += q["pflops"]
            units_by_kind[q["kind"]] += q["units"]
            hub_p[s["hub"]][q["kind"]] += q["pflops"]
        sites.append({"id": s["id"], "name_zh": s["name_zh"], "name_en": s["name_en"],
                      "hub": s["hub"], "west": bool(hubs[s["hub"]].get("west")),
                      "pflops": sum(p_kind.values()), "pflops_by_kind": p_kind,
                      "units_by_kind": u_kind, "pue": s["pue"], "green_share": s["green_share"]})
    total = sum(by_kind.values())
    west = sum(x["pflops"] for x in sites if x["west"])
    snapshots = [
        {"site": s["id"], "name_zh": s["name_zh"], "name_en": s["name_en"], "as_of": n["as_of"],
         "pflops_by_kind": n["pflops"], "total_pflops": n["total_pflops"], "source": n["source"]}
        for s in net["sites"] for n in s.get("snapshots", [])]
    return {
        "name": net["name"],
        "total_pflops": total, "pflops_by_kind": by_kind, "units_by_kind": units_by_kind,
        "west_pflops": west, "west_share": west / total if total else 0.0,
        "hubs": [{"id": h, "name_zh": hubs[h]["name_zh"], "name_en": hubs[h]["name_en"],
                  "west": bool(hubs[h].get("west")), "pflops": sum(p.values()),
                  "pflops_by_kind": p} for h, p in hub_p.items()],
        "sites": sites,
        "snapshots": snapshots,
    }


def run_period(run: Run, period: Period | None) -> Period:
    """The period asked for, or else the run's: its simulated horizon (the demand's window; the
    hours after it, in which the last jobs finish, are counted apart as the tail), or for a run
    that recorded no horizon every hour it has. Refuses a period that misses the run."""
    last_s = max((r.hour_start_s for r in run.site_hours), default=0)
    whole = span_period(run.clock_start, run.at(last_s + 3600))
    if period is None:
        if run.horizon_s is not None:
            return span_period(run.clock_start, run.at(run.horizon_s))
        return whole
    if period.end <= whole.start or period.start >= whole.end:
        raise InputError("command line", "--period", period.label,
                         f"does not overlap the run ({whole.label})")
    return period


def tail_figures(run: Run, period: Period) -> dict[str, Any]:
    """What the run drew after `period` ends (the tail of its last jobs), from the ledger."""
    tail = Totals()
    hours: set[str] = set()
    for r in run.records:
        if datetime.fromisoformat(r.hour) >= period.end:
            tail.add(r)
            hours.add(r.hour)
    return {"hours": len(hours), "jobs": len(tail.jobs), "facility_kwh": tail.facility_ukwh / 1e6}


def run_figures(net: dict[str, Any], run: Run, period: Period) -> dict[str, Any]:
    west_sites = {s["id"] for s in net["sites"]
                  if any(h["id"] == s["hub"] and h.get("west") for h in net["hubs"])}
    site_order = [s["id"] for s in net["sites"]]
    pf_unit = {(s["id"], q["kind"]): q["pflops_per_unit"] for s in net["sites"]
               for q in s["pools"]}
    hour_of: dict[str, datetime] = {}

    def in_period(hour: str) -> bool:
        t = hour_of.get(hour)
        if t is None:
            t = hour_of[hour] = datetime.fromisoformat(hour)
        return period.contains(t)

    total = Totals()
    by_site: dict[str, Totals] = defaultdict(Totals)
    by_kind: dict[str, Totals] = defaultdict(Totals)
    by_origin: dict[str, Totals] = defaultdict(Totals)
    by_origin_west: dict[str, Totals] = defaultdict(Totals)
    hourly: dict[str, Totals] = defaultdict(Totals)
    job_energy: dict[str, int] = defaultdict(int)
    for r in run.records:
        if not in_period(r.hour):
            continue
        c = share(r)
        total.add_share(c, r.job)
        by_site[r.site].add_share(c, r.job)
        by_kind[r.kind].add_share(c, r.job)
        by_origin[r.origin].add_share(c, r.job)
        if r.site in west_sites:
            by_origin_west[r.origin].add_share(c, r.job)
        hourly[r.hour].add_share(c, r.job)
        job_energy[r.job] += r.facility_ukwh
    # site-hours: utilisation and cost
    busy: dict[tuple[str, str], float] = defaultdict(float)
    cap: dict[tuple[str, str], float] = defaultdict(float)
    cost_site: dict[str, float] = defaultdict(float)
    hours = set()
    for row in run.site_hours:
        if not period.contains(run.at(row.hour_start_s)):
            continue
        hours.add(row.hour_start_s)
        busy[(row.site, row.kind)] += row.busy_units
        cap[(row.site, row.kind)] += row.capacity_units
        cost_site[row.site] += row.energy_kwh * row.price_yuan_per_kwh

    def util(keys: list[tuple[str, str]], weight: bool) -> float:
        w = [pf_unit.get(k, 1.0) if weight else 1.0 for k in keys]
        c = sum(cap[k] * x for k, x in zip(keys, w, strict=True))
        return sum(busy[k] * x for k, x in zip(keys, w, strict=True)) / c if c else 0.0

    keys = sorted(cap)
    util_kind = {k: util([x for x in keys if x[1] == k], False) for k in KINDS
                 if any(x[1] == k for x in keys)}
    util_site = {s: util([x for x in keys if x[0] == s], True)
                 for s in sorted({k[0] for k in keys})}
    # jobs: those with records in the period
    jobs = {j.job_id: j for j in run.jobs}
    cls: dict[str, dict[str, float]] = {c: {"jobs": 0, "facility_kwh": 0.0}
                                        for c in ("realtime", "non_realtime")}
    data_gb: dict[str, dict[str, float]] = defaultdict(lambda: {"west": 0.0, "all": 0.0})
    for job_id, e in job_energy.items():
        j = jobs.get(job_id)
        if j is None:
            raise InputError(str(run.directory / "jobs.csv"), "job_id", job_id,
                             "in the ledger but not in jobs.csv")
        c = cls["realtime" if j.realtime else "non_realtime"]
        c["jobs"] += 1
        c["facility_kwh"] += e / 1e6
        data_gb[j.origin]["all"] += j.data_gb
        if j.site in west_sites:
            data_gb[j.origin]["west"] += j.data_gb
    energy_all = sum(c["facility_kwh"] for c in cls.values())
    for c in cls.values():
        c["energy_share"] = c["facility_kwh"] / energy_all if energy_all else 0.0
        c["job_share"] = c["jobs"] / len(job_energy) if job_energy else 0.0
    flows = []
    for origin in sorted(by_origin):
        t, w = by_origin[origin], by_origin_west.get(origin, Totals())
        flows.append({"origin": origin, "facility_kwh": t.facility_ukwh / 1e6,
                      "west_kwh": w.facility_ukwh / 1e6,
                      "west_share": w.facility_ukwh / t.facility_ukwh if t.facility_ukwh else 0.0,
                      "jobs": len(t.jobs), "data_gb": data_gb[origin]["all"],
                      "data_gb_west": data_gb[origin]["west"]})
    west_total = sum(f["west_kwh"] for f in flows)
    origins = sorted(by_origin)
    return {
        "period": period.as_dict(),
        "hours": len(hours),
        "jobs": len(job_energy),
        "totals": total.as_dict(),
        "cost_yuan": sum(cost_site.values()),
        "utilisation": {"by_kind": util_kind, "by_site": util_site,
                        "all_in_p": util(keys, True)},
        "by_site": [{"site": s, **by_site[s].as_dict(), "cost_yuan": cost_site.get(s, 0.0),
                     "utilisation": util_site.get(s, 0.0), "west": s in west_sites}
                    for s in site_order if s in by_site or s in cost_site],
        "by_kind": [{"kind": k, **by_kind[k].as_dict()} for k in KINDS if k in by_kind],
        "flows": flows,
        "east_to_west": {
            "facility_kwh": west_total,
            "share": west_total * 1e6 / total.facility_ukwh if total.facility_ukwh else 0.0,
            "data_gb": sum(f["data_gb_west"] for f in flows)},
        "latency": cls,
        "hourly": [{"hour": h, "facility_kwh": t.facility_ukwh / 1e6,
                    "green_kwh": t.green_ukwh / 1e6} for h, t in sorted(
                        hourly.items(), key=lambda kv: hour_of[kv[0]])],
        "factors": {
            "market_g_per_kwh": RESIDUAL_MIX_G_PER_KWH, "market_source": RESIDUAL_MIX_SOURCE,
            "market_source_zh": RESIDUAL_MIX_SOURCE_ZH,
            "origins": [{"region": o, "g_per_kwh": origin_factor(o).g_per_kwh,
                         "basis": origin_factor(o).basis,
                         "basis_zh": origin_factor(o).basis_zh} for o in origins]},
    }


def bulletin_figures(net: dict[str, Any], run: Run | None,
                     period: Period | None) -> dict[str, Any]:
    out: dict[str, Any] = {"network": network_figures(net), "run": None}
    if run is not None:
        chosen = run_period(run, period)
        out["run"] = run_figures(net, run, chosen)
        # how the period was chosen: asked for, the run's horizon (tail apart), or all its hours
        basis = "asked" if period is not None else (
            "horizon" if run.horizon_s is not None else "all_hours")
        out["run"]["period_basis"] = basis
        if basis == "horizon":
            out["run"]["after_period"] = tail_figures(run, chosen)
        out["run"]["directory"] = str(run.directory)
        out["run"]["ledger_head"] = run.ledger_head.get("head")
        out["run"]["providers"] = provider_figures(net, run, chosen)
    elif period is not None:
        out["period"] = period.as_dict()
    return out

