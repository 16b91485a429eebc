"""The compute statistics bulletin (算力统计公报), in Chinese and English.

`write_bulletin` writes into a directory: `bulletin.json` (every figure, unrounded, for checking),
`bulletin.zh.md`/`.html` and `bulletin.en.md`/`.html` (the same figures, rounded as bulletins
round them, with the note that parts may not sum to totals), and the charts (PNG, one set per
language: `*.png` English, `*.zh.png` Chinese).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from suanwang.ledger.period import Period, label_zh
from suanwang.report import numbers as fmt
from suanwang.report.charts import write_charts
from suanwang.report.figures import KINDS, bulletin_figures
from suanwang.report.pages import Block, h1, h2, img, note, p, table, to_html, to_markdown
from suanwang.report.provider_section import provider_blocks
from suanwang.report.run_files import Run

LANGS = ("zh", "en")
KIND_NAME = {"zh": {"general": "通用", "intelligent": "智算", "hpc": "超算"},
             "en": {"general": "general", "intelligent": "intelligent", "hpc": "supercomputing"}}
UNIT_NAME = {"zh": {"general": "CPU核", "intelligent": "智算加速卡", "hpc": "超算节点"},
             "en": {"general": "CPU cores", "intelligent": "AI accelerators",
                    "hpc": "supercomputer nodes"}}


def _as_of_zh(as_of: str) -> str:
    y, _, m = as_of.partition("-")
    return f"{y}年{int(m)}月" if m.isdigit() else as_of


def _site_name(s: dict[str, Any], lang: str) -> str:
    return s["name_zh"] if lang == "zh" else s["name_en"]


def _capacity(fig: dict[str, Any], lang: str, charts: dict[str, str]) -> list[Block]:
    n = fig["network"]
    zh = lang == "zh"
    P = fmt.pflops
    kinds = n["pflops_by_kind"]
    units = n["units_by_kind"]
    int_share = fmt.share(kinds["intelligent"] / n["total_pflops"]) if n["total_pflops"] else "-"
    unit_text = ("、" if zh else ", ").join(
        f"{UNIT_NAME[lang][k]}{fmt.count(units[k], lang)}" if zh
        else f"{fmt.integer(units[k], lang)} {UNIT_NAME[lang][k]}" for k in KINDS)
    if zh:
        text = (f"全网{len(n['sites'])}个数据中心集群（片区）算力总规模"
                f"{P(n['total_pflops'], lang)}，"
                f"其中通用算力{P(kinds['general'], lang)}、智能算力{P(kinds['intelligent'], lang)}"
                f"、超算算力{P(kinds['hpc'], lang)}，智能算力占{int_share}。西部枢纽集群算力"
                f"{P(n['west_pflops'], lang)}，占全网{fmt.share(n['west_share'])}。"
                f"折合{unit_text}。")
    else:
        text = (f"The network's {len(n['sites'])} data-center clusters (zones) hold "
                f"{P(n['total_pflops'], lang)} of compute: general {P(kinds['general'], lang)}, "
                f"intelligent {P(kinds['intelligent'], lang)}, supercomputing "
                f"{P(kinds['hpc'], lang)}; intelligent compute is {int_share} of the total. "
                f"Clusters of the western hubs hold {P(n['west_pflops'], lang)}, "
                f"{fmt.share(n['west_share'])} of the total. In units: {unit_text}.")
    blocks = [h2("一、算力规模" if zh else "1. Compute capacity"), p(text)]
    sites = {s["id"]: s for s in n["sites"]}
    for snap in n["snapshots"]:
        s = sites[snap["site"]]
        parts = snap["pflops_by_kind"]
        if zh:
            part_text = "、".join(f"{KIND_NAME[lang][k]}{v:.0f}P" for k, v in parts.items())
            blocks.append(p(
                f"{s['name_zh']}算力总规模{P(s['pflops'], lang)}，其中智能算力"
                f"{P(s['pflops_by_kind']['intelligent'], lang)}；{_as_of_zh(snap['as_of'])}为"
                f"{snap['total_pflops']:.0f}P（{part_text}）。"))
        else:
            part_text = " + ".join(f"{KIND_NAME[lang][k]} {v:,.0f} P" for k, v in parts.items())
            blocks.append(p(
                f"{s['name_en']}: {P(s['pflops'], lang)} in all, of which "
                f"{P(s['pflops_by_kind']['intelligent'], lang)} intelligent; as of "
                f"{snap['as_of']}: {part_text} = {snap['total_pflops']:,.0f} P "
                f"({snap['source']})."))
    hubs = {h["id"]: h for h in n["hubs"]}
    header = (["集群（片区）", "枢纽", "通用 P", "智算 P", "超算 P", "合计 P", "PUE",
               "年均绿电占比"] if zh else ["cluster (zone)", "hub", "general P", "intelligent P",
                          "supercomputing P", "total P", "PUE", "annual green share"])
    rows = [[_site_name(s, lang), hubs[s["hub"]]["name_zh" if zh else "name_en"],
             *(f"{s['pflops_by_kind'][k]:,.0f}" for k in KINDS), f"{s['pflops']:,.0f}",
             f"{s['pue']:.2f}", fmt.share(s["green_share"])] for s in n["sites"]]
    rows.append(["全网合计" if zh else "network total", "",
                 *(f"{kinds[k]:,.0f}" for k in KINDS), f"{n['total_pflops']:,.0f}", "", ""])
    blocks.append(table(header, rows, numeric_from=2))
    blocks.append(img(charts["capacity"], "图1 各集群算力规模（按类型）" if zh
                      else "Figure 1. Installed compute by cluster and kind"))
    return blocks


def _run_blocks(fig: dict[str, Any], net: dict[str, Any], lang: str,
                charts: dict[str, str]) -> list[Block]:
    run = fig["run"]
    zh = lang == "zh"
    t = run["totals"]
    u = run["utilisation"]
    E = fmt.energy_kwh
    M = fmt.mass_kg
    site_names = {s["id"]: _site_name(s, lang) for s in net["sites"]}
    regions = {g["id"]: (g["name_zh"] if zh else g["name_en"]) for g in net.get("regions", [])}
    kind_util = ("、" if zh else ", ").join(
        f"{KIND_NAME[lang][k]}{fmt.share(v)}" if zh else f"{KIND_NAME[lang][k]} {fmt.share(v)}"
        for k, v in u["by_kind"].items())
    out: list[Block] = []
    # utilisation
    out.append(h2("二、算力利用" if zh else "2. Utilisation"))
    out.append(p(
        f"统计期内（{run['hours']}小时）共运行作业{fmt.integer(run['jobs'], lang)}个，"
        f"全网算力利用率（按P加权）{fmt.share(u['all_in_p'])}，其中{kind_util}。" if zh else
        f"Over the period ({run['hours']} hours) {fmt.integer(run['jobs'], lang)} jobs ran; "
        f"the network's utilisation (weighted by P) was {fmt.share(u['all_in_p'])}: "
        f"{kind_util}."))
    # energy
    avg_price = run["cost_yuan"] / t["facility_kwh"] if t["facility_kwh"] else 0.0
    out.append(h2("三、能源消耗与绿电" if zh else "3. Energy and green power"))
    out.append(p(
        f"统计期内作业用电{E(t['facility_kwh'], lang)}（设施侧；其中IT设备用电"
        f"{E(t['it_kwh'], lang)}），"
        f"绿电{E(t['green_kwh'], lang)}，绿电占比{fmt.share(t['green_share'])}。" if zh else
        f"Jobs drew {E(t['facility_kwh'], lang)} (facility side; IT equipment "
        f"{E(t['it_kwh'], lang)}), of which {E(t['green_kwh'], lang)} green: a green share of "
        f"{fmt.share(t['green_share'])}."))
    # CO2
    out.append(h2("四、碳排放" if zh else "4. CO2 emissions"))
    mf = run["factors"]["market_g_per_kwh"]
    out.append(p(
        f"按基于位置的方法（电网电量×所在省份电网平均排放因子），碳排放"
        f"{M(t['co2_location_kg'], lang)}；按基于市场的方法（绿电、绿证电量计为零，其余按全国"
        f"剔除市场化交易非化石能源电量的平均排放因子{mf:.1f}克/千瓦时），碳排放"
        f"{M(t['co2_market_kg'], lang)}。两种口径分列，不相加。与在需求地电网运行同样电量"
        f"（无绿电）相比，减少碳排放{M(t['avoided_location_kg'], lang)}（基于位置）、"
        f"{M(t['avoided_market_kg'], lang)}（基于市场）。" if zh else
        f"Location-based (grid part x the province's average grid factor): "
        f"{M(t['co2_location_kg'], lang)} of CO2. Market-based (green power and certificates at "
        f"zero, the rest at the national factor excluding market-traded non-fossil power, "
        f"{mf:.1f} g/kWh): {M(t['co2_market_kg'], lang)}. The two methods are reported side "
        f"by side and never added. Against running the same energy on the origin regions' "
        f"grids with no green power, {M(t['avoided_location_kg'], lang)} were avoided "
        f"(location-based), {M(t['avoided_market_kg'], lang)} (market-based)."))
    above = [site_names.get(r["site"], r["site"]) for r in run["by_site"]
             if r["co2_market_kg"] > r["co2_location_kg"]]
    if above:
        out.append(p(
            f"{'、'.join(above)}基于市场的碳排放高于基于位置的：所在省份的电网平均排放因子低于剩余"
            f"电力排放因子，因为它计入了省内全部非化石能源电量（水电、风电、光伏、核电），而这些绿电"
            f"的绿证已由他人认领；未附绿证的电网电量按剔除已认领绿电后的剩余电力排放因子"
            f"（{mf:.1f}克/千瓦时）计算。" if zh else
            f"At {', '.join(above)} the market-based CO2 exceeds the location-based: their "
            "provinces' grid factors are below the residual mix because they count all the "
            "non-fossil power generated there (hydro, wind, solar, nuclear), but the green "
            "certificates of that power are claimed by others, so grid power without "
            f"certificates is charged at the residual mix ({mf:.1f} g/kWh), what remains once "
            "the claimed green power is taken out."))
    # cost
    out.append(h2("五、电费" if zh else "5. Electricity cost"))
    out.append(p(
        f"统计期内电费合计{fmt.yuan(run['cost_yuan'], lang)}，平均电价{avg_price:.3f}元/千瓦时。"
        if zh else f"Electricity cost {fmt.yuan(run['cost_yuan'], lang)}, an average of "
                   f"{avg_price:.3f} yuan/kWh."))
    header = (["集群（片区）", "利用率", "用电 MWh", "绿电占比", "碳排放（位置）t",
               "碳排放（市场）t", "电费 万元"] if zh else
              ["cluster (zone)", "utilisation", "energy MWh", "green share",
               "CO2 location t", "CO2 market t", "cost 10k yuan"])
    rows = [[site_names.get(r["site"], r["site"]), fmt.share(r["utilisation"]),
             f"{r['facility_kwh'] / 1e3:,.0f}", fmt.share(r["green_share"]),
             f"{r['co2_location_kg'] / 1e3:,.0f}", f"{r['co2_market_kg'] / 1e3:,.0f}",
             f"{r['cost_yuan'] / 1e4:,.1f}"] for r in run["by_site"]]
    rows.append(["合计" if zh else "total", fmt.share(u["all_in_p"]),
                 f"{t['facility_kwh'] / 1e3:,.0f}", fmt.share(t["green_share"]),
                 f"{t['co2_location_kg'] / 1e3:,.0f}", f"{t['co2_market_kg'] / 1e3:,.0f}",
                 f"{run['cost_yuan'] / 1e4:,.1f}"])
    out.append(table(header, rows))
    if "energy" in charts:
        out.append(img(charts["energy"], "图2 各集群用电量（绿电与电网电）" if zh
                       else "Figure 2. Energy by cluster: green and grid parts"))
    if "hourly" in charts:
        out.append(img(charts["hourly"], "图3 逐小时用电量与绿电占比" if zh
                       else "Figure 3. Hourly energy and green share"))
    # flows
    ew = run["east_to_west"]
    out.append(h2("六、东数西算流向" if zh else "6. East-to-west flows"))
    out.append(p(
        f"各需求地作业用电中，{E(ew['facility_kwh'], lang)}在西部枢纽集群完成，"
        f"占{fmt.share(ew['share'])}；"
        f"随作业向西部传输输入数据{ew['data_gb'] / 1e3:,.1f}TB。" if zh else
        f"Of the work from the demand regions, {E(ew['facility_kwh'], lang)} "
        f"({fmt.share(ew['share'])} of the energy) ran at clusters of the western hubs, and "
        f"{ew['data_gb'] / 1e3:,.1f} TB of input data moved west with it."))
    header = (["需求地", "作业数", "用电 MWh", "西部完成 MWh", "西部占比", "西传数据 TB"] if zh else
              ["origin region", "jobs", "energy MWh", "run in the west MWh", "west share",
               "data moved west TB"])
    rows = [[regions.get(f["origin"], f["origin"]), fmt.integer(f["jobs"], lang),
             f"{f['facility_kwh'] / 1e3:,.0f}", f"{f['west_kwh'] / 1e3:,.0f}",
             fmt.share(f["west_share"]), f"{f['data_gb_west'] / 1e3:,.1f}"]
            for f in run["flows"]]
    out.append(table(header, rows))
    if "flows" in charts:
        out.append(img(charts["flows"], "图4 各需求地作业在东部与西部的用电" if zh
                       else "Figure 4. Where each origin region's work ran"))
    # latency classes
    lat = run["latency"]
    out.append(h2("七、时延类别" if zh else "7. Latency classes"))
    header = (["类别", "作业数", "作业占比", "用电 MWh", "用电占比"] if zh else
              ["class", "jobs", "share of jobs", "energy MWh", "share of energy"])
    names = {"realtime": "实时" if zh else "real-time",
             "non_realtime": "非实时" if zh else "non-real-time"}
    out.append(table(header, [[names[k], fmt.integer(v["jobs"], lang), fmt.share(v["job_share"]),
                               f"{v['facility_kwh'] / 1e3:,.0f}", fmt.share(v["energy_share"])]
                              for k, v in lat.items()]))
    if run.get("providers"):
        out += provider_blocks(run["providers"], net, lang)
    return out


def _notes(fig: dict[str, Any], net: dict[str, Any], lang: str) -> list[Block]:
    zh = lang == "zh"
    out = [h2("附注" if zh else "Notes"), note(fmt.ROUNDING_NOTE[lang])]
    out.append(note(
        "算力按P（PFLOPS）计：各资源池单位数×每单位P，见网络文件（每个数字注明来源）。" if zh else
        "Compute is counted in P (PFLOPS): each pool's units x P per unit, from the network "
        "file, where every number carries its source."))
    run = fig.get("run")
    if run is not None:
        regions = {g["id"]: g for g in net.get("regions", [])}

        def region_name(rid: str) -> str:
            g = regions.get(rid)
            return rid if g is None else (g["name_zh"] if zh else g["name_en"])

        origins = ("；" if zh else "; ").join(
            f"{region_name(o['region'])} {o['g_per_kwh']:.1f}"
            + (f"克/千瓦时（{o['basis_zh']}）" if zh else f" g/kWh ({o['basis']})")
            for o in run["factors"]["origins"])
        out.append(note(
            ("用电、绿电与碳排放取自绿电溯源账本（逐作业、逐小时记录，哈希链校验通过）；利用率与电费取自"
             "sites.csv。需求地电网排放因子：" if zh else
             "Energy, green power and CO2 are sums of the green-power traceability ledger "
             "(one record per job and hour, hash chain verified); utilisation and cost come "
             "from sites.csv. Origin grid factors: ") + origins + "."))
        out.append(note(f"基于市场的排放因子：{run['factors']['market_source_zh']}。" if zh else
                        f"Market-based factor: {run['factors']['market_source']}."))
        out.append(note(f"{'账本链头' if zh else 'Ledger head'}: {run['ledger_head']} "
                        f"({run['directory']})"))
    return out


def _period_basis(run: dict[str, Any], lang: str) -> str:
    """One sentence saying what the period is and whether the run's tail is counted."""
    zh = lang == "zh"
    basis = run.get("period_basis")
    hours = run["hours"]
    if basis == "horizon":
        tail = run["after_period"]
        if zh:
            text = f"统计期为本次模拟的时段（{hours}小时，作业到达的时段）"
            if tail["hours"]:
                jobs = fmt.integer(tail["jobs"], lang)
                text += (f"；其后最后一批作业收尾的{tail['hours']}小时（{jobs}个作业，用电"
                         f"{fmt.energy_kwh(tail['facility_kwh'], lang)}）不计入本公报，"
                         "可用 --period 另行统计")
            return text + "。"
        text = (f"The period is the run's simulated horizon ({hours} hours, in which its jobs "
                "arrive)")
        if tail["hours"]:
            text += (f"; the tail after it, {tail['hours']} hours in which the last "
                     f"{fmt.integer(tail['jobs'], lang)} jobs finish "
                     f"({fmt.energy_kwh(tail['facility_kwh'], lang)}), is not counted here "
                     "(--period covers it)")
        return text + "."
    if basis == "asked":
        return (f"统计期内有运行数据的小时数：{hours}。" if zh else
                f"Hours of the period with run data: {hours}.")
    return (f"本次运行未记录模拟时段：统计期为其全部{hours}小时，含最后一批作业的收尾。" if zh else
            f"The run recorded no simulated horizon: the period is all its {hours} hours, "
            "including the tail of its last jobs.")


def bulletin_blocks(fig: dict[str, Any], net: dict[str, Any], lang: str,
                    charts: dict[str, str]) -> tuple[str, list[Block]]:
    zh = lang == "zh"
    run = fig.get("run")
    if run is not None:
        label = run["period"]["label"]
        period_text = label_zh(label) if zh else label
    elif "period" in fig:
        label = fig["period"]["label"]
        period_text = label_zh(label) if zh else label
    else:
        period_text = ""
    name = fig["network"]["name"]
    title = (f"{name} 算力统计公报" if zh else f"Compute statistics bulletin: {name}")
    blocks = [h1(title)]
    if period_text:
        blocks.append(p(f"统计期：{period_text}" if zh else f"Period: {period_text}"))
    if run is not None:
        blocks.append(p(_period_basis(run, lang)))
    if run is None:
        blocks.append(p("本公报仅含网络的算力规模（未附运行数据）。" if zh else
                        "This bulletin covers the network's installed compute only (no run "
                        "given)."))
    blocks += _capacity(fig, lang, charts)
    if run is not None:
        blocks += _run_blocks(fig, net, lang, charts)
    blocks += _notes(fig, net, lang)
    return title, blocks


def write_bulletin(net: dict[str, Any], run: Run | None, period: Period | None,
                   out_dir: Path) -> list[Path]:
    """Compute the figures, draw the charts, write both languages; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = bulletin_figures(net, run, period)
    charts = write_charts(fig, net, out_dir, LANGS)
    written = [out_dir / f for lang in LANGS for f in charts[lang].values()]
    path = out_dir / "bulletin.json"
    path.write_text(json.dumps(fig, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    for lang in LANGS:
        title, blocks = bulletin_blocks(fig, net, lang, charts[lang])
        md = out_dir / f"bulletin.{lang}.md"
        md.write_text(to_markdown(blocks), encoding="utf-8")
        page = out_dir / f"bulletin.{lang}.html"
        page.write_text(to_html(blocks, lang, title), encoding="utf-8")
        written += [md, page]
    return written
