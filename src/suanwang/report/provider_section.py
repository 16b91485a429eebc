"""The bulletin's provider section (issue 12, multi-cloud monitoring) for a simulator run:
per (site, provider) that ran jobs in the period, its jobs, its revenue (the tenants' bills)
and the measured time-to-start (placement to start: the input data's transfer) beside the
promised one. The simulator models no outages, so availability is stated as promised only.
"""

from __future__ import annotations

from typing import Any

from suanwang.core.sla import start_figures
from suanwang.ledger.period import Period
from suanwang.report import numbers as fmt
from suanwang.report.pages import Block, h2, note, table
from suanwang.report.run_files import Run


def provider_figures(net: dict[str, Any], run: Run, period: Period) -> list[dict[str, Any]]:
    """One row per (site, provider) with jobs started in `period`, in network order."""
    started: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for j in run.jobs:
        if not j.provider or j.start_s is None or j.placed_s is None:
            continue
        if not period.start <= run.at(j.start_s) < period.end:
            continue
        started.setdefault((j.site, j.provider), []).append(
            (j.start_s - j.placed_s, j.bill_yuan or 0.0))
    out = []
    for s in net["sites"]:
        for p in s.get("providers", []):
            got = started.get((s["id"], p["id"]))
            if not got:
                continue
            out.append({"site": s["id"], "provider": p["id"], "name_zh": p["name_zh"],
                        "name_en": p["name_en"], "jobs": len(got),
                        "revenue_yuan": sum(b for _, b in got),
                        "promised": dict(p["sla"]),
                        "measured": start_figures((x for x, _ in got), p["sla"]["start_s"])})
    return out


def provider_blocks(rows: list[dict[str, Any]], net: dict[str, Any], lang: str
                    ) -> list[Block]:
    zh = lang == "zh"
    site_names = {s["id"]: (s["name_zh"] if zh else s["name_en"]) for s in net["sites"]}
    header = (["集群", "服务商", "作业数", "收入 万元", "启动时间 p50 / p95 秒", "承诺 秒",
               "承诺内占比", "承诺可用性"] if zh else
              ["cluster", "provider", "jobs", "revenue 10k yuan", "time to start p50 / p95 s",
               "promised s", "within promise", "promised availability"])

    def secs(x: float | None) -> str:
        return "-" if x is None else f"{x:,.0f}"

    body = [[site_names.get(r["site"], r["site"]), r["name_zh"] if zh else r["name_en"],
             fmt.integer(r["jobs"], lang), f"{r['revenue_yuan'] / 1e4:,.2f}",
             f"{secs(r['measured']['start_p50_s'])} / {secs(r['measured']['start_p95_s'])}",
             secs(r["promised"]["start_s"]),
             fmt.share(r["measured"]["start_within_share"])
             if r["measured"]["start_within_share"] is not None else "-",
             f"{r['promised']['availability']:.2%}"] for r in rows]
    return [
        h2("八、多云服务商" if zh else "8. Providers (multi-cloud)"),
        table(header, body),
        note("启动时间为调度到开始运行（输入数据传输完毕）的时间；模拟不含服务商故障，可用性仅列承诺值。"
             if zh else "Time to start runs from placement to the start (its input data "
             "transferred); the simulator models no provider outages, so availability is "
             "given as promised only."),
    ]
