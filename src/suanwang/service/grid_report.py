"""Reports of grid events (issue 14 item 4): one event's settlement, and a month's events, as
JSON or an HTML page in Chinese or English."""

from __future__ import annotations

from html import escape
from typing import Any

from suanwang.grid.event import EVENT_KIND_NAMES_ZH, EventKind

WORDS: dict[str, dict[str, str]] = {
    "title": {"zh": "电网事件结算报告", "en": "Grid event settlement"},
    "month_title": {"zh": "电网事件月报", "en": "Grid events of the month"},
    "event": {"zh": "事件", "en": "Event"}, "kind": {"zh": "类型", "en": "Kind"},
    "sites": {"zh": "数据中心", "en": "Sites"}, "window": {"zh": "时段", "en": "Window"},
    "state": {"zh": "状态", "en": "State"},
    "requested_kwh": {"zh": "请求电量 kWh", "en": "Requested kWh"},
    "delivered_kwh": {"zh": "响应电量 kWh", "en": "Delivered kWh"},
    "share": {"zh": "完成率", "en": "Delivered share"},
    "credit": {"zh": "收益 元", "en": "Credit yuan"}, "penalty": {"zh": "罚金 元",
                                                                 "en": "Penalty yuan"},
    "moved": {"zh": "迁移作业", "en": "Jobs moved"}, "waited": {"zh": "等待作业",
                                                             "en": "Jobs waited"},
    "wait_h": {"zh": "等待小时", "en": "Wait hours"}, "pulled": {"zh": "提前作业",
                                                              "en": "Jobs pulled forward"},
    "baseline": {"zh": "基线方法", "en": "Baseline method"},
    "baseline_zh": {"zh": "通知时冻结：调度器已知作业（运行中、已放置、延迟与排队作业"
                          "按同一策略推演，不含通知后到达的作业）在事件时段内每15分钟的"
                          "设施功率，在事件生效前计算",
                    "en": ""},
    "interval": {"zh": "时段（运行秒）", "en": "Interval (run s)"},
    "site": {"zh": "数据中心", "en": "Site"},
    "baseline_kw": {"zh": "基线 kW", "en": "Baseline kW"},
    "actual_kw": {"zh": "实际 kW", "en": "Actual kW"},
    "requested_kw": {"zh": "请求 kW", "en": "Requested kW"},
    "delivered_kw": {"zh": "响应 kW", "en": "Delivered kW"},
    "limit_kw": {"zh": "限值 kW", "en": "Limit kW"},
    "ledger": {"zh": "账本记录", "en": "Ledger record"},
    "none": {"zh": "无", "en": "none"},
    "total": {"zh": "合计", "en": "Total"},
    "totals": {"zh": "结算", "en": "Settlement"},
    "intervals": {"zh": "每15分钟", "en": "Per 15-minute interval"},
}


def _w(key: str, lang: str) -> str:
    return WORDS[key][lang]


def _kind(kind: str, lang: str) -> str:
    return f"{kind} {EVENT_KIND_NAMES_ZH[EventKind(kind)]}" if lang == "zh" else kind


def event_report(view: dict[str, Any]) -> dict[str, Any]:
    """An event's report as JSON: the event, the frozen baseline's method, the settlement."""
    s = view["settlement"] or {}
    return {"event": view["id"], "kind": view["kind"], "sites": view["sites"],
            "start": view["start"], "end": view["end"], "state": view["state"],
            "source": view["source"], "notice_s": view["notice_s"],
            "baseline_method": s.get("baseline") or (view["plan"] or {}).get("method"),
            "settlement": s or None, "ledger_seq": view["ledger_seq"]}


def month_report(month: str, views: list[dict[str, Any]]) -> dict[str, Any]:
    settled = [v["settlement"] for v in views if v["settlement"]]
    return {"month": month, "events": [event_report(v) for v in views],
            "settled": len(settled),
            "requested_kwh": sum(s["requested_kwh"] for s in settled),
            "delivered_kwh": sum(s["delivered_kwh"] for s in settled),
            "credit_yuan": sum(s["credit_yuan"] for s in settled),
            "penalty_yuan": sum(s["penalty_yuan"] for s in settled),
            "jobs_moved": sum(s["jobs_moved"] for s in settled),
            "jobs_waited": sum(s["jobs_waited"] for s in settled)}


def _page(title: str, body: str, lang: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
            "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;"
            "text-align:right}th:first-child,td:first-child{text-align:left}</style></head>"
            f"<body><h1>{escape(title)}</h1>{body}</body></html>")


def _row(cells: list[Any], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{escape(str(c))}</{tag}>" for c in cells) + "</tr>"


def _totals(s: dict[str, Any], lang: str) -> list[str]:
    share = s["delivered_share"]
    return [f"{s['requested_kwh']:,.1f}", f"{s['delivered_kwh']:,.1f}",
            "-" if share is None else f"{share:.1%}", f"{s['credit_yuan']:,.2f}",
            f"{s['penalty_yuan']:,.2f}", str(s["jobs_moved"]), str(s["jobs_waited"]),
            f"{s['wait_h']:,.2f}", str(s["jobs_pulled"])]


TOTAL_KEYS = ["requested_kwh", "delivered_kwh", "share", "credit", "penalty", "moved",
              "waited", "wait_h", "pulled"]


def event_html(view: dict[str, Any], lang: str) -> str:
    r = event_report(view)
    s = r["settlement"]
    method = _w("baseline_zh", "zh") if lang == "zh" else r["baseline_method"]
    parts = ["<table>", _row([_w("event", lang), r["event"]]),
             _row([_w("kind", lang), _kind(r["kind"], lang)]),
             _row([_w("sites", lang), ", ".join(r["sites"])]),
             _row([_w("window", lang), f"{r['start']} – {r['end']}"]),
             _row([_w("state", lang), r["state"]]),
             _row([_w("baseline", lang), method or ""]),
             _row([_w("ledger", lang), r["ledger_seq"] if r["ledger_seq"] is not None
                   else _w("none", lang)]), "</table>"]
    if s:
        parts += [f"<h2>{_w('totals', lang)}</h2><table>",
                  _row([_w(k, lang) for k in TOTAL_KEYS], "th"), _row(_totals(s, lang)),
                  f"</table><h2>{_w('intervals', lang)}</h2><table>",
                  _row([_w(k, lang) for k in ("site", "interval", "baseline_kw", "actual_kw",
                                              "requested_kw", "delivered_kw", "limit_kw")],
                       "th")]
        for iv in s["intervals"]:
            parts.append(_row([iv["site"], f"{iv['start_s']:,.0f}–{iv['end_s']:,.0f}",
                               f"{iv['baseline_kw']:,.2f}", f"{iv['actual_kw']:,.2f}",
                               f"{iv['requested_kw']:,.2f}", f"{iv['delivered_kw']:,.2f}",
                               f"{iv['limit_kw']:,.2f}"]))
        parts.append("</table>")
    return _page(f"{_w('title', lang)} · {r['event']}", "".join(parts), lang)


def month_html(month: str, views: list[dict[str, Any]], lang: str) -> str:
    m = month_report(month, views)
    parts = ["<table>", _row([_w("event", lang), _w("kind", lang), _w("window", lang),
                              _w("state", lang)] + [_w(k, lang) for k in TOTAL_KEYS], "th")]
    for v in views:
        s = v["settlement"]
        parts.append(_row([v["id"], _kind(v["kind"], lang), f"{v['start']} – {v['end']}",
                           v["state"]] + (_totals(s, lang) if s else [""] * 9)))
    parts.append(_row([_w("total", lang), "", "", str(m["settled"]),
                       f"{m['requested_kwh']:,.1f}", f"{m['delivered_kwh']:,.1f}", "",
                       f"{m['credit_yuan']:,.2f}", f"{m['penalty_yuan']:,.2f}",
                       str(m["jobs_moved"]), str(m["jobs_waited"]), "", ""]))
    parts.append("</table>")
    return _page(f"{_w('month_title', lang)} · {month}", "".join(parts), lang)
