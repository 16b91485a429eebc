// The national map: every site (size by installed P, colour by green share now), the demand
// regions, and the flows from regions to sites (width by P in use now).

/* global echarts */
import { fontFamily, getLang, t } from "./i18n.js";
import * as fmt from "./format.js";

// English names of the provinces in the map data (its own names are Chinese).
const PROVINCES_EN = {
  台湾: "Taiwan", 河北: "Hebei", 山西: "Shanxi", 内蒙古: "Inner Mongolia", 辽宁: "Liaoning",
  吉林: "Jilin", 黑龙江: "Heilongjiang", 江苏: "Jiangsu", 浙江: "Zhejiang", 安徽: "Anhui",
  福建: "Fujian", 江西: "Jiangxi", 山东: "Shandong", 河南: "Henan", 湖北: "Hubei",
  湖南: "Hunan", 广东: "Guangdong", 广西: "Guangxi", 海南: "Hainan", 四川: "Sichuan",
  贵州: "Guizhou", 云南: "Yunnan", 西藏: "Xizang", 陕西: "Shaanxi", 甘肃: "Gansu",
  青海: "Qinghai", 宁夏: "Ningxia", 新疆: "Xinjiang", 北京: "Beijing", 天津: "Tianjin",
  上海: "Shanghai", 重庆: "Chongqing", 香港: "Hong Kong", 澳门: "Macao",
  南海诸岛: "South China Sea Islands",
};

export const GREEN_COLOURS = ["#9e7b6b", "#f2c94c", "#27ae60"];

export async function registerChinaMap() {
  const response = await fetch("/web/vendor/china.json");
  if (!response.ok) throw new Error(`map data: ${response.status}`);
  echarts.registerMap("china", await response.json());
}

export function siteName(site) {
  return getLang() === "zh" ? site.name_zh : site.name_en;
}

export function sitePflops(site) {
  return site.pools.reduce((sum, p) => sum + p.capacity_units * p.pflops_per_unit, 0);
}

export class NetworkMap {
  constructor(el, { reducedMotion, onSelect }) {
    this.el = el;
    this.reducedMotion = reducedMotion;
    this.onSelect = onSelect;
    this.chart = null;
    this.init();
  }

  init() {
    if (this.chart) this.chart.dispose();
    this.chart = echarts.init(this.el, null, { locale: getLang() === "zh" ? "ZH" : "EN" });
    this.chart.on("click", (p) => {
      if (p.seriesId === "sites" && p.data) this.onSelect(p.data.id);
    });
  }

  resize() {
    this.chart.resize();
  }

  // sites: /v1/sites; live: /v1/live; regions: /v1/regions; overview: /v1/dashboard/overview
  render({ sites, live, regions, overview, scale }) {
    const liveById = new Map((live?.sites ?? []).map((s) => [s.site, s]));
    const siteById = new Map(sites.map((s) => [s.id, s]));
    const regionById = new Map(regions.map((r) => [r.id, r]));
    const maxP = Math.max(1, ...sites.map(sitePflops));
    const flows = (overview?.flows ?? []).filter((f) => siteById.has(f.site)
                                                      && regionById.has(f.origin));
    const maxFlow = Math.max(1e-9, ...flows.map((f) => f.pflops));
    const lines = flows.map((f) => {
      const r = regionById.get(f.origin);
      const s = siteById.get(f.site);
      return {
        coords: [[r.lon, r.lat], [s.lon, s.lat]],
        name: `${getLang() === "zh" ? r.name_zh : r.name_en} → ${siteName(s)}`,
        flow: f,
        lineStyle: { width: scale * (1.2 + 9 * Math.sqrt(f.pflops / maxFlow)) },
      };
    });
    const siteData = sites.map((s) => {
      const l = liveById.get(s.id);
      const p = sitePflops(s);
      const drained = l ? l.drained : s.drained;
      return {
        id: s.id,
        name: siteName(s),
        value: [s.lon, s.lat, l ? l.green_share : s.green_share, p],
        symbolSize: scale * (9 + 30 * Math.sqrt(p / maxP)),
        site: s,
        live: l,
        itemStyle: drained ? { borderColor: "#ff6b6b", borderWidth: 2.5 * scale,
                               borderType: "dashed", opacity: 0.55 } : undefined,
      };
    });
    const regionData = regions.map((r) => ({
      id: r.id, name: getLang() === "zh" ? r.name_zh : r.name_en, value: [r.lon, r.lat],
    }));
    const font = 11 * scale;
    const motion = !this.reducedMotion;
    this.chart.setOption({
      animation: motion,
      textStyle: { fontFamily: fontFamily() },
      title: { show: false, text: t("mapAria") },
      aria: { enabled: true, label: { data: { maxCount: 200 }, series: { maxCount: 10 } } },
      tooltip: {
        trigger: "item", confine: true, backgroundColor: "#0d1d30", borderColor: "#3a5a7c",
        textStyle: { fontSize: font, color: "#e6eef7" },
        formatter: (p) => this.tooltip(p),
      },
      geo: {
        map: "china", roam: true, zoom: 1.12, center: [104.5, 36.2],
        nameMap: getLang() === "en" ? PROVINCES_EN : undefined,
        label: { show: false },
        itemStyle: { areaColor: "#15293f", borderColor: "#3a5a7c", borderWidth: 0.8 },
        emphasis: { label: { show: true, color: "#cfe3f7", fontSize: font },
                    itemStyle: { areaColor: "#1d3a5a" } },
        select: { disabled: true },
      },
      visualMap: {
        type: "continuous", min: 0, max: 1, dimension: 2, seriesIndex: 2, calculable: false,
        orient: "horizontal", left: "left", bottom: 6, itemWidth: 10 * scale,
        itemHeight: 110 * scale, text: [`${t("greenShare")} 100%`, "0%"],
        formatter: (v) => fmt.pct(v, 0),
        textStyle: { color: "#cfe3f7", fontSize: font },
        inRange: { color: GREEN_COLOURS },
      },
      series: [
        {
          id: "flows", name: t("colRoute"), type: "lines", coordinateSystem: "geo", zlevel: 1,
          data: lines,
          lineStyle: { color: "#ffd166", opacity: 0.7, curveness: 0.22 },
          effect: { show: motion, period: 5, trailLength: 0.12, symbol: "arrow",
                    symbolSize: 6 * scale, color: "#fff3c4" },
        },
        {
          id: "regions", name: t("colRoute"), type: "scatter", coordinateSystem: "geo",
          zlevel: 4, symbol: "diamond", symbolSize: 13 * scale, data: regionData,
          itemStyle: { color: "#4fc3f7", borderColor: "#0b1726", borderWidth: 1 },
          // demand regions lie on the coast: their names go seawards and are always shown
          label: { show: true, position: "right", distance: 6 * scale, formatter: "{b}",
                   color: "#9fd8f7", fontSize: font * 1.1, fontWeight: "bold",
                   textBorderColor: "#0b1726", textBorderWidth: 3 },
        },
        {
          id: "sites", name: t("colSite"), type: "scatter", coordinateSystem: "geo",
          zlevel: 3, data: siteData,
          itemStyle: { borderColor: "#e8f1fb", borderWidth: 1, opacity: 0.95 },
          // sites lie west of their demand: their names go inland, away from the regions'
          label: { show: true, position: "left", formatter: "{b}", color: "#e8f1fb",
                   fontSize: font, textBorderColor: "#0b1726", textBorderWidth: 2 },
          labelLayout: { hideOverlap: true },
          emphasis: { scale: 1.15 },
        },
      ],
    }, { replaceMerge: ["series"] });
  }

  tooltip(p) {
    const d = p.data ?? {};
    if (p.seriesId === "sites") {
      const s = d.site;
      const l = d.live;
      const pools = (l?.pools ?? []).map((q) => `${t(`kind.${q.kind}`)} ${fmt.num(q.busy_units)}`
        + ` / ${fmt.num(q.capacity_units)}`).join("<br>");
      return `<b>${fmt.escapeHtml(d.name)}</b> <small>${fmt.escapeHtml(
        getLang() === "zh" ? s.name_en : s.name_zh)}</small><br>`
        + `${t("colPflops")} ${fmt.pflops(d.value[3])}<br>`
        + `${t("greenNow")} ${fmt.pct(d.value[2])}<br>`
        + (l ? `${t("colIntensity")} ${fmt.intensity(l.intensity_g_per_kwh)}<br>`
          + `${t("colPower")} ${fmt.power(l.power_kw)}<br>${pools}` : "")
        + (l?.drained ? `<br><span class="bad">${t("drained")}</span>` : "");
    }
    if (p.seriesId === "flows" && d.flow) {
      const f = d.flow;
      const units = Object.entries(f.units_by_kind)
        .map(([k, n]) => `${t(`kind.${k}`)} ${fmt.num(n)}`).join(" · ");
      return `<b>${fmt.escapeHtml(d.name)}</b><br>${fmt.pflops(f.pflops)} · ${units}<br>`
        + `${t("colPower")} ${fmt.power(f.power_kw)} · ${fmt.num(f.jobs)}`;
    }
    return fmt.escapeHtml(p.name);
  }

  // Where each site is drawn: its id, its pixel position in the chart and whether that
  // point lies on the map (for tests and for anyone debugging the layout).
  drawnSites() {
    const series = (this.chart.getOption().series ?? []).find((s) => s.id === "sites");
    return (series?.data ?? []).map((d) => {
      const [x, y] = this.chart.convertToPixel({ seriesId: "sites" }, d.value.slice(0, 2));
      return { id: d.id, name: d.name, x, y,
               onMap: this.chart.containPixel({ geoIndex: 0 }, [x, y]) };
    });
  }
}
