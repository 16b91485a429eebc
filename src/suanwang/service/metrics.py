"""Prometheus metrics of the service, on a registry of its own (one per app).

Counters and histograms are updated as things happen; the per-site gauges are read from the
live scheduler when Prometheus scrapes, so they are never stale. Names follow Prometheus
conventions: base units in the name, `_total` for counters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from suanwang.service.market_store import round_out
from suanwang.service.provider_views import gather

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler


class _LiveCollector(Collector):
    def __init__(self, live: LiveScheduler) -> None:
        self.live = live

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self.live.live_state()[0]
        busy = GaugeMetricFamily("suanwang_pool_busy_units", "Units of a pool in use",
                                 labels=["site", "pool"])
        cap = GaugeMetricFamily("suanwang_pool_capacity_units", "Installed units of a pool",
                                labels=["site", "pool"])
        power = GaugeMetricFamily("suanwang_site_power_kilowatts",
                                  "Facility power drawn by running jobs", labels=["site"])
        green = GaugeMetricFamily("suanwang_site_green_share_ratio",
                                  "Renewable share of the site's power this hour",
                                  labels=["site"])
        intensity = GaugeMetricFamily("suanwang_site_carbon_intensity_grams_per_kilowatt_hour",
                                      "CO2 per kWh of the site's power this hour",
                                      labels=["site"])
        drained = GaugeMetricFamily("suanwang_site_drained", "1 if the operator drained it",
                                    labels=["site"])
        healthy = GaugeMetricFamily("suanwang_site_healthy",
                                    "1 if the site's backend answers", labels=["site"])
        for s in state["sites"]:
            power.add_metric([s["site"]], s["power_kw"])
            green.add_metric([s["site"]], s["green_share"])
            intensity.add_metric([s["site"]], s["intensity_g_per_kwh"])
            drained.add_metric([s["site"]], 1.0 if s["drained"] else 0.0)
            healthy.add_metric([s["site"]], 1.0 if s["healthy"] else 0.0)
            for p in s["pools"]:
                busy.add_metric([s["site"], p["kind"]], p["busy_units"])
                cap.add_metric([s["site"], p["kind"]], p["capacity_units"])
        jobs = GaugeMetricFamily("suanwang_jobs", "Jobs in flight by lifecycle state",
                                 labels=["state"])
        for st, n in self.live.counts().items():
            jobs.add_metric([st], n)
        t = self.live.totals
        energy = CounterMetricFamily("suanwang_energy_kilowatt_hours",
                                     "Facility energy of finished jobs")
        energy.add_metric([], t.energy_kwh)
        green_e = CounterMetricFamily("suanwang_green_energy_kilowatt_hours",
                                      "Renewable energy of finished jobs")
        green_e.add_metric([], t.green_kwh)
        carbon = CounterMetricFamily("suanwang_carbon_kilograms", "CO2 of finished jobs")
        carbon.add_metric([], t.carbon_kg)
        cost = CounterMetricFamily("suanwang_electricity_cost_yuan",
                                   "Electricity cost of finished jobs")
        cost.add_metric([], t.cost_yuan)
        finished = CounterMetricFamily("suanwang_jobs_finished", "Jobs that ran to the end")
        finished.add_metric([], t.finished)
        yield from (busy, cap, power, green, intensity, drained, healthy, jobs, energy,
                    green_e, carbon, cost, finished)
        yield from provider_metrics(gather(self.live.network, self.live).rows)
        yield from account_metrics(self.live.store.accounts.balances())
        market = self.live.store.market
        yield from market_metrics(market.rounds(limit=1), market.round_count())
        yield from grid_metrics(self.live.store.grid.list())


def grid_metrics(rows: list[Any]) -> list[GaugeMetricFamily]:
    """Grid events (issue 14) by state, and the settled ones' energy, credit and penalty."""
    by_state = GaugeMetricFamily("suanwang_grid_events", "Grid events by state",
                                 labels=["state"])
    counts: dict[str, int] = {}
    sums = {"requested_kwh": 0.0, "delivered_kwh": 0.0, "credit_yuan": 0.0,
            "penalty_yuan": 0.0}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
        if r.settlement:
            s = json.loads(r.settlement)
            for k in sums:
                sums[k] += float(s[k])
    for state, n in sorted(counts.items()):
        by_state.add_metric([state], n)
    out = [by_state]
    for key, name, what in (
            ("requested_kwh", "suanwang_grid_requested_kilowatt_hours",
             "Energy settled grid events asked for (shed, cap: less; fill: more)"),
            ("delivered_kwh", "suanwang_grid_delivered_kilowatt_hours",
             "Energy delivered to settled grid events (credited: up to the requested)"),
            ("credit_yuan", "suanwang_grid_credit_yuan", "Credit earned by settled events"),
            ("penalty_yuan", "suanwang_grid_penalty_yuan", "Penalty of settled events")):
        g = GaugeMetricFamily(name, what)
        g.add_metric([], sums[key])
        out.append(g)
    return out


def account_metrics(rows: list[tuple[str, float, float, int]]) -> list[GaugeMetricFamily]:
    """Per tenant account: balance, what its jobs in flight hold, and how many hold."""
    balance = GaugeMetricFamily("suanwang_account_balance_yuan", "A tenant's prepaid balance",
                                labels=["tenant"])
    held = GaugeMetricFamily("suanwang_account_held_yuan",
                             "Worst-case bills held by a tenant's jobs in flight",
                             labels=["tenant"])
    holding = GaugeMetricFamily("suanwang_account_jobs_holding",
                                "A tenant's jobs holding funds", labels=["tenant"])
    for tenant, bal, h, n in rows:
        balance.add_metric([tenant], bal)
        held.add_metric([tenant], h)
        holding.add_metric([tenant], n)
    return [balance, held, holding]


def market_metrics(latest: list[Any], count: int) -> list[GaugeMetricFamily | CounterMetricFamily]:
    """The latest cleared round of the call auction: per market its price, units traded and
    fill ratio; the round's fill ratio, time to clear and bids carried over to the next
    round; the rounds cleared so far."""
    price = GaugeMetricFamily("suanwang_market_price_yuan_per_unit_hour",
                              "Clearing price of the latest round, per market",
                              labels=["kind", "site"])
    volume = GaugeMetricFamily("suanwang_market_units_traded",
                               "Units traded in the latest round, per market",
                               labels=["kind", "site"])
    fill = GaugeMetricFamily("suanwang_market_fill_ratio",
                             "Units traded / units bid in the latest round, per market "
                             "(site 'all': the round)", labels=["kind", "site"])
    clear_s = GaugeMetricFamily("suanwang_market_clear_seconds",
                                "Wall time to clear the latest round")
    rounds = CounterMetricFamily("suanwang_market_rounds", "Rounds cleared (with bids)")
    carried = GaugeMetricFamily("suanwang_market_bids_carried_over",
                                "Bids of the latest round that bid again in the next")
    if latest:
        out = round_out(latest[0], full=False)
        for m in out["markets"]:
            if m["price_yuan_per_unit_h"] is not None:
                price.add_metric([m["kind"], m["site"]], m["price_yuan_per_unit_h"])
            volume.add_metric([m["kind"], m["site"]], m["units_traded"])
            fill.add_metric([m["kind"], m["site"]], m["fill_ratio"])
        fill.add_metric(["all", "all"], out["fill_ratio"])
        clear_s.add_metric([], out["clear_s"])
        unmatched = json.loads(latest[0].payload).get("unmatched", [])
        carried.add_metric([], len({u["bid"] for u in unmatched
                                    if u.get("then") == "carried_over"}))
    rounds.add_metric([], count)
    return [price, volume, fill, clear_s, rounds, carried]


def provider_metrics(rows: list[dict[str, Any]]) -> list[GaugeMetricFamily | CounterMetricFamily]:
    """Per provider at each site (`provider_views`): units, jobs, revenue, measured SLA."""
    busy = GaugeMetricFamily("suanwang_provider_busy_units", "Units of a provider in use",
                             labels=["site", "provider", "kind"])
    installed = GaugeMetricFamily("suanwang_provider_installed_units",
                                  "A provider's share of a site's pool",
                                  labels=["site", "provider", "kind"])
    jobs = GaugeMetricFamily("suanwang_provider_jobs", "A provider's jobs by state",
                             labels=["site", "provider", "state"])
    revenue = CounterMetricFamily("suanwang_provider_revenue_yuan",
                                  "Sum of the bills of a provider's jobs",
                                  labels=["site", "provider"])
    avail = GaugeMetricFamily("suanwang_provider_availability_ratio",
                              "Measured share of run time the provider's backend answered",
                              labels=["site", "provider"])
    promised = GaugeMetricFamily("suanwang_provider_promised_availability_ratio",
                                 "Availability the provider's SLA promises",
                                 labels=["site", "provider"])
    start = GaugeMetricFamily("suanwang_provider_time_to_start_seconds",
                              "Measured run seconds from placement to start (p50, p95)",
                              labels=["site", "provider", "quantile"])
    within = GaugeMetricFamily("suanwang_provider_start_within_sla_ratio",
                               "Share of started jobs within the promised time-to-start",
                               labels=["site", "provider"])
    for r in rows:
        sp = [r["site"], r["provider"]]
        for u in r["units"]:
            busy.add_metric([*sp, u["kind"]], u["busy_units"])
            installed.add_metric([*sp, u["kind"]], u["installed_units"])
        for st, n in r["jobs"].items():
            jobs.add_metric([*sp, st], n)
        revenue.add_metric(sp, r["revenue_yuan"])
        m = r["sla"]["measured"]
        if m["availability"] is not None:
            avail.add_metric(sp, m["availability"])
        promised.add_metric(sp, r["sla"]["promised"]["availability"])
        for q, key in (("0.5", "start_p50_s"), ("0.95", "start_p95_s")):
            if m[key] is not None:
                start.add_metric([*sp, q], m[key])
        if m["start_within_share"] is not None:
            within.add_metric(sp, m["start_within_share"])
    return [busy, installed, jobs, revenue, avail, promised, start, within]


class Metrics:
    def __init__(self, live: LiveScheduler) -> None:
        self.registry = CollectorRegistry()
        self.submitted = Counter("suanwang_jobs_submitted", "Jobs accepted by the API",
                                 ["kind"], registry=self.registry)
        self.requests = Histogram("suanwang_http_request_duration_seconds",
                                  "HTTP request latency", ["method", "route", "status"],
                                  registry=self.registry,
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5, 1.0, 2.5))
        self.refused = Counter("suanwang_submissions_refused",
                               "Submissions refused by a limit of the tenant's account",
                               ["limit"], registry=self.registry)
        self.market_bids = Counter("suanwang_market_bids", "Bids accepted by the API",
                                   ["kind"], registry=self.registry)
        self.grid_events = Counter("suanwang_grid_events_posted",
                                   "Grid events posted through the API", ["kind"],
                                   registry=self.registry)
        self.registry.register(_LiveCollector(live))
