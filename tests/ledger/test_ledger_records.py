"""The ledger of a hand-built run: every record as worked out by hand, and sums that hold
exactly against sites.csv and jobs.csv."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
from ledger_support import HAND_RECORDS, dec

from suanwang.energy.series import EnergySeries
from suanwang.ledger.build import columns_from_result, hour_label
from suanwang.ledger.chain import Chain
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.store import FileLedger
from suanwang.model import Job, Kind, Network
from suanwang.sim.output import write_run
from suanwang.sim.result import SimResult
from suanwang.sim.runner import run


def read_ledger(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line, parse_float=Decimal) for line in f]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# ---- the hand-built run, record by record ----------------------------------------------------

def test_records_match_the_hand_worked_table(hand_dir: Path) -> None:
    recs = read_ledger(hand_dir / "ledger.jsonl")
    assert len(recs) == len(HAND_RECORDS)
    for r, (hour, site, job, facility, green, co2_loc) in zip(recs, HAND_RECORDS, strict=True):
        assert (r["hour_start_s"], r["site"], r["job"]) == (hour * 3600, site, job)
        assert r["facility_kwh"] == Decimal(facility)
        assert r["green_kwh"] == Decimal(green)
        assert r["grid_kwh"] == Decimal(facility) - Decimal(green)
        assert r["co2_location_kg"] == Decimal(co2_loc)
        assert r["co2_market_kg"] == (r["grid_kwh"] * Decimal("585.6") / 1000).quantize(
            Decimal("0.000001"))
        pue = Decimal("1.2") if site == "west" else Decimal("1.5")
        assert r["it_kwh"] == (Decimal(facility) / pue).quantize(Decimal("0.000001"))
    assert recs[0]["hour"] == "2024-06-01T08:00+08:00"  # T0 is midnight UTC
    assert {r["tenant"] for r in recs} == {"alice", "bob"}
    assert "D" not in {r["job"] for r in recs}  # rejected: drew nothing


def test_market_factor_is_the_published_national_figure_excluding_traded_green() -> None:
    assert RESIDUAL_MIX_G_PER_KWH == 585.6
    published = (Path(__file__).resolve().parents[1] / "data" / "grid"
                 / "china_grid_co2_factors_2021_2022.csv")
    assert "0.5856 excluding market-traded non-fossil power" in published.read_text("utf-8")


# ---- sums: the hour against sites.csv, the job against jobs.csv -----------------------------

def check_sums(out: Path) -> None:
    recs = read_ledger(out / "ledger.jsonl")
    by_pool_hour: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    green_site_hour: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for r in recs:
        by_pool_hour[(r["site"], r["kind"], r["hour_start_s"])] += r["facility_kwh"]
        green_site_hour[(r["site"], r["hour_start_s"])] += r["green_kwh"]
        assert 0 <= r["green_kwh"] <= r["facility_kwh"]
    metered: dict[tuple[str, str, int], Decimal] = {}
    supply: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for row in read_csv(out / "sites.csv"):
        key = (row["site"], row["pool"], int(row["hour_start_s"]))
        metered[key] = dec(row["energy_kwh"])
        supply[(key[0], key[2])] += dec(row["energy_kwh"]) * dec(row["green_share"])
    # every pool-hour: the records sum exactly to the metered figure in sites.csv
    for key, e in metered.items():
        assert by_pool_hour.get(key, Decimal(0)) == e, key
    assert set(by_pool_hour) <= set(metered)
    # every site-hour: green handed out never exceeds the supply, and misses it by < 1 µkWh
    for key, s in supply.items():
        g = green_site_hour.get(key, Decimal(0))
        assert g <= s
        assert s - g < Decimal("0.000001"), key
    # every job: the ledger's sums agree with jobs.csv (rounding: 1 µkWh a record, and the
    # green share's sixth decimal, which the ledger takes as sites.csv prints it)
    per_job: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for r in recs:
        acc = per_job[r["job"]]
        for k, field in enumerate(("facility_kwh", "green_kwh", "co2_location_kg")):
            acc[k] += r[field]
        acc[3] += 1
    for row in read_csv(out / "jobs.csv"):
        if row["status"] == "rejected":
            assert row["job_id"] not in per_job
            continue
        facility, green, co2, n = per_job[row["job_id"]]
        tol = Decimal("0.000002") * (n + 1)
        assert abs(facility - dec(row["energy_kwh"])) <= tol + dec(row["energy_kwh"]) / 10**9
        assert abs(green - dec(row["green_kwh"])) <= tol + dec(row["energy_kwh"]) / 10**6
        assert abs(co2 - dec(row["carbon_kg"])) <= tol + dec(row["energy_kwh"]) / 10**6


def test_hand_run_sums_exactly(hand_dir: Path) -> None:
    check_sums(hand_dir)


def test_a_busier_random_run_sums_exactly(tiny_net: Network,
                                          make_series: Callable[..., EnergySeries],
                                          tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    hours = 60
    green = {s.id: rng.uniform(0, 1, hours) for s in tiny_net.sites}
    green["mid"][:6] = 0.0  # edges: no green at all, all green
    green["west"][6:12] = 1.0
    series = make_series(tiny_net, hours, green=green)
    jobs = []
    for i in range(300):
        kind = (Kind.GENERAL, Kind.INTELLIGENT)[i % 2]
        units = int(rng.integers(1, 6 if kind == Kind.INTELLIGENT else 40))
        jobs.append(Job(f"j{i:03d}", f"t{i % 7}", ("east", "south")[i % 2], kind, units,
                        float(rng.uniform(60, 4 * 3600)), float(rng.uniform(0, 20 * 3600)),
                        deadline_s=40 * 3600.0))
    jobs.sort(key=lambda j: j.submit_s)
    result = run(tiny_net, jobs, "greenest", series=series, forecast_error=0.0)
    write_run(result, tmp_path / "r", {})
    assert FileLedger(tmp_path / "r").verify().ok
    check_sums(tmp_path / "r")


# ---- one implementation of the serialisation ---------------------------------------------------

def test_bulk_writer_and_single_appends_write_the_same_bytes(hand_run: SimResult,
                                                            hand_dir: Path) -> None:
    cols = columns_from_result(hand_run)
    topo = hand_run.topology
    jobs = hand_run.jobs
    start = hand_run.series.start_utc
    chain = Chain()
    lines = [chain.append(LedgerRecord(
        job=jobs[j].job_id, tenant=jobs[j].tenant, origin=jobs[j].origin,
        site=topo.site_ids[s], kind=topo.pool_kind[p].value, hour_start_s=h * 3600,
        hour=hour_label(start, h), it_ukwh=it, facility_ukwh=f, green_ukwh=g,
        location_mg_per_kwh=loc, market_mg_per_kwh=585_600)).line + "\n"
        for j, s, p, h, it, f, g, loc in zip(
            cols.job.tolist(), cols.site.tolist(), cols.pool.tolist(), cols.hour.tolist(),
            cols.it_ukwh.tolist(), cols.facility_ukwh.tolist(), cols.green_ukwh.tolist(),
            cols.location_mg_per_kwh.tolist(), strict=True)]
    assert "".join(lines) == (hand_dir / "ledger.jsonl").read_text(encoding="utf-8")
    head = json.loads((hand_dir / "ledger.head.json").read_text(encoding="utf-8"))
    assert (head["records"], head["head"]) == (chain.count, chain.head)
