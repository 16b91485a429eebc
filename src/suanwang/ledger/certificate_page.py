"""The readable page of a certificate: one HTML file, Chinese and English side by side."""

from __future__ import annotations

from html import escape
from typing import Any

from suanwang.report.font import PAGE_FAMILY, page_font_face

PAGE_RECORDS = 200  # records listed on the page; the JSON lists them all

STYLE = """
body{font-family:"PAGE_FAMILY","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
max-width:960px;margin:2em auto;color:#1b2a1b;line-height:1.5}
h1{border-bottom:3px solid #2e7d32;padding-bottom:.3em}h1 small{display:block;font-size:55%;
color:#555}table{border-collapse:collapse;margin:1em 0;width:100%}th,td{border:1px solid #c8d6c8;
padding:.25em .5em;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#e8f5e9}.en{color:#555;font-size:90%}code{font-size:85%;word-break:break-all}
.note{font-size:85%;color:#444}
""".replace("PAGE_FAMILY", PAGE_FAMILY)


def _n(x: float, places: int = 3) -> str:
    return f"{x:,.{places}f}"


def _row(zh: str, en: str, value: str) -> str:
    return (f"<tr><th>{escape(zh)}<br><span class=en>{escape(en)}</span></th>"
            f"<td class=n>{value}</td></tr>")


def render_certificate_html(cert: dict[str, Any]) -> str:
    s = cert["subject"]
    t = cert["totals"]
    rows_subject = []
    if s.get("job"):
        rows_subject.append(_row("作业", "Job", escape(s["job"])))
    rows_subject.append(_row("租户", "Tenant", escape(s["tenant"])))
    if s.get("origin"):
        rows_subject.append(_row("需求地", "Origin region", escape(s["origin"])))
    if s.get("kind"):
        rows_subject.append(_row("算力类型", "Compute kind", escape(s["kind"])))
    if s.get("period"):
        rows_subject.append(_row("统计期", "Period", escape(s["period"]["label"])))
    rows_subject.append(_row("计量时段", "Hours covered", escape(cert["hours"]["covered"])))
    totals = [
        _row("总用电量（设施侧）", "Total energy (facility)", f"{_n(t['facility_kwh'])} kWh"),
        _row("IT 用电量", "IT energy", f"{_n(t['it_kwh'])} kWh"),
        _row("绿电电量", "Green energy", f"{_n(t['green_kwh'])} kWh"),
        _row("电网电量", "Grid energy", f"{_n(t['grid_kwh'])} kWh"),
        _row("绿电占比", "Green share", f"{t['green_share']:.1%}"),
        _row("碳排放（基于位置）", "CO2, location-based", f"{_n(t['co2_location_kg'])} kg"),
        _row("碳排放（基于市场）", "CO2, market-based", f"{_n(t['co2_market_kg'])} kg"),
        _row("减排量（基于位置，相对需求地电网）", "CO2 avoided, location-based (vs origin grid)",
             f"{_n(t['avoided_location_kg'])} kg"),
        _row("减排量（基于市场）", "CO2 avoided, market-based",
             f"{_n(t['avoided_market_kg'])} kg"),
    ]
    names = {x["site"]: x for x in cert["by_site"]}
    sites = "".join(
        f"<tr><td>{escape(x['name_zh'])}<br><span class=en>{escape(x['name_en'])}</span></td>"
        f"<td class=n>{_n(x['facility_kwh'])}</td>"
        f"<td class=n>{_n(x['green_kwh'])}</td><td class=n>{x['green_share']:.1%}</td>"
        f"<td class=n>{_n(x['co2_location_kg'])}</td><td class=n>{_n(x['co2_market_kg'])}</td>"
        "</tr>" for x in cert["by_site"])
    origins = "".join(
        f"<li>{escape(o['region'])}: {o['g_per_kwh']:.1f} g/kWh — {escape(o['basis_zh'])}"
        f"<br><span class=en>{escape(o['basis'])}</span></li>"
        for o in cert["origin_factors"])
    methods = "".join(
        f"<li>{escape(k)}: {escape(str(v.get('description', v) if isinstance(v, dict) else v))}"
        "</li>" for k, v in cert["methods"].items() if v)
    notes = "".join(f"<p class=note>{escape(n['zh'])}<br><span class=en>{escape(n['en'])}"
                    "</span></p>" for n in cert.get("notes", []))
    records = cert["records"]
    rec_rows = "".join(
        f"<tr><td class=n>{r['seq']}</td><td>{escape(r['hour'])}</td><td>{escape(r['job'])}</td>"
        f"<td>{escape(names[r['site']]['name_zh'] if r['site'] in names else r['site'])}</td>"
        f"<td class=n>{_n(r['facility_kwh'])}</td>"
        f"<td class=n>{_n(r['green_kwh'])}</td><td><code>{escape(r['hash'])}</code></td></tr>"
        for r in records[:PAGE_RECORDS])
    more = (f"<p class=note>前 {PAGE_RECORDS} 条，共 {len(records):,} 条；全部记录见 JSON。"
            f" First {PAGE_RECORDS} of {len(records):,} records; the JSON lists them all.</p>"
            if len(records) > PAGE_RECORDS else "")
    led = cert["ledger"]
    proof = cert.get("proof")
    log_p = "" if not isinstance(proof, dict) else (
        f"<p>默克尔日志 Merkle log <code>{escape(str(proof['log']))}</code>，树大小 tree size "
        f"{proof['tree_size']:,}；每条记录附包含证明，并附签名检查点 each record carries its "
        "inclusion proof, with the signed checkpoint"
        + ("；每个站点小时的绿电分配不超过其供给，可证 each site-hour's green allocation "
           "is proven within its supply" if proof.get("summaries") else "")
        + "。离线核验 Check offline: <code>suanwang ledger verify-cert CERT.json --key "
          "ledger.pub</code></p>")
    gec = cert.get("gec") or []
    gec_p = "" if not gec else (
        "<h2>绿证 <span class=en>Green certificates (GEC) backing this green power</span></h2>"
        "<table><tr><th>证书编号 Serial</th><th>项目 Project</th><th>站点 Site</th>"
        "<th>月份 Month</th><th>kWh</th></tr>"
        + "".join(f"<tr><td><code>{escape(g['serial'])}</code></td><td>{escape(g['project'])}"
                  f"</td><td>{escape(g['site'])}</td><td>{escape(g['month'])}</td>"
                  f"<td class=n>{_n(g['kwh'])}</td></tr>" for g in gec)
        + "</table>")
    title_who = escape(s["job"] or s["tenant"])
    body = f"""<body>
<h1>绿色电力溯源证书<small>Green-power traceability certificate</small></h1>
<table>{''.join(rows_subject)}</table>
<h2>电量与碳排放 <span class=en>Energy and CO2</span></h2>
<table>{''.join(totals)}</table>
<p class=note>两种碳排放口径分列，互不相加。The two CO2 methods are reported side by side and
never added together.</p>{notes}
<h2>按站点 <span class=en>By site</span></h2>
<table><tr><th>站点 Site</th><th>用电 kWh</th><th>绿电 kWh</th><th>绿电占比 Green</th>
<th>碳排放（位置）kg CO2 location</th><th>碳排放（市场）kg CO2 market</th></tr>{sites}</table>
{gec_p}
<h2>口径与来源 <span class=en>Methods and sources</span></h2>
<ul>{methods}</ul>
<p>需求地电网排放因子 Origin grid factors:</p><ul>{origins}</ul>
<h2>账本依据 <span class=en>Ledger records</span></h2>
<p>账本 Ledger: <code>{escape(led['file'])}</code>，{led['records']:,} 条记录 records，
校验通过 verified；链头 head <code>{escape(led['head'])}</code></p>
<p>本证书所依据记录哈希之 SHA-256 (records_sha256):
<code>{escape(cert['records_sha256'])}</code></p>{log_p}
<table><tr><th>序号 seq</th><th>小时 hour</th><th>作业 job</th><th>站点 site</th>
<th>用电 kWh</th><th>绿电 kWh</th><th>哈希 hash</th></tr>{rec_rows}</table>{more}
<p class=note>签发时间 Issued {escape(cert['issued'])}. 由 suanwang 算网生成，可用
<code>suanwang ledger verify</code> 核验。Generated by suanwang; check with
<code>suanwang ledger verify</code>.</p>
</body></html>
"""
    title = f"绿电溯源证书 Green-power certificate — {title_who}"
    # the Chinese glyphs of this page, embedded: readable where no Chinese font is installed
    font = page_font_face(title + body)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{title}</title><style>{font}{STYLE}</style></head>
{body}"""
