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

// one colour per demand region (in /v1/regions order), for its flows and its marker; none of
// them is on the sites' green-share scale
export const REGION_COLOURS = ["#4fc3f7", "#f06292", "#b388ff", "#ff8a65", "#80cbc4",
                               "#ce93d8", "#90caf9", "#ffab91"];

// names longer than this many characters go on two lines on the map
const LONG_NAME = { zh: 9, en: 20 };

function twoLines(name) {
  const zh = getLang() === "zh";
  if (name.length <= LONG_NAME[zh ? "zh" : "en"]) return name;
  if (zh) {
    const cut = Math.ceil(name.length / 2);
    return `${name.slice(0, cut)}\n${name.slice(cut)}`;
  }
  const mid = name.length / 2;
  const spaces = [...name.matchAll(/ /g)].map((m) => m.index);
  if (spaces.length === 0) return name;
  const at = spaces.reduce((a, b) => (Math.abs(b - mid) < Math.abs(a - mid) ? b : a));
  return `${name.slice(0, at)}\n${name.slice(at + 1)}`;
}

function overlap(a, b) {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

export class NetworkMap {
  constructor(el, { reducedMotion, onSelect }) {
    this.el = el;
    this.reducedMotion = reducedMotion;
    this.onSelect = onSelect;
    this.chart = null;
    this.last = null;
    this.boxes = [];
    this.measure = document.createElement("canvas").getContext("2d");
    this.init();
  }

  init() {
    if (this.chart) this.chart.dispose();
    this.chart = echarts.init(this.el, null, { locale: getLang() === "zh" ? "ZH" : "EN" });
    this.hasGeo = false;
    this.chart.on("click", (p) => {
      if (p.seriesId === "sites" && p.data) this.onSelect(p.data.id);
    });
    // panning or zooming moves the points: lay the labels out again
    let timer = null;
    this.chart.on("georoam", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.last && this.render(this.last), 120);
    });
  }

  // empty the map (logout): no site, flow or label of the last operator's view stays drawn
  clear() {
    this.chart.clear();
    this.hasGeo = false;
    this.last = null;
    this.boxes = [];
  }

  resize() {
    this.chart.resize();
  }

  px(lon, lat) {
    return this.chart.convertToPixel({ geoIndex: 0 }, [lon, lat]);
  }

  textWidth(text, size, weight) {
    this.measure.font = `${weight} ${size}px ${fontFamily()}`;
    return Math.max(...text.split("\n").map((line) => this.measure.measureText(line).width));
  }

  // Where each marker's label goes, greedily: regions first, then sites from the largest;
  // each takes the candidate place (beside, above, below, at a corner, or one line further
  // out) that overlaps the labels already placed, the other markers and the chart's edge
  // least, nearer places first. `items`: {key, x, y, r, text, size, weight, prefer}.
  // Returns key -> the label's ECharts position (its top-left corner from the marker's);
  // keeps the boxes (chart pixels) for labelBoxes().
  layoutLabels(items) {
    const width = this.chart.getWidth();
    const height = this.chart.getHeight();
    const circles = items.map((it) => ({ key: it.key, x: it.x - it.r, y: it.y - it.r,
                                         w: 2 * it.r, h: 2 * it.r }));
    const placed = [];
    const out = new Map();
    for (const it of items) {
      const lines = it.text.split("\n").length;
      const w = this.textWidth(it.text, it.size, it.weight) + 4;
      const h = lines * it.size * 1.25 + 2;
      const d = 3;
      const c = it.r * 0.7;  // a corner of the marker
      const sides = {
        right: [it.r + d, -h / 2], left: [-it.r - d - w, -h / 2],
        top: [-w / 2, -it.r - d - h], bottom: [-w / 2, it.r + d],
      };
      const corners = [[c + d, -c - d - h], [-c - d - w, -c - d - h], [c + d, c + d],
                       [-c - d - w, c + d]];
      const further = [[-w / 2, -it.r - d - 2 * h], [-w / 2, it.r + d + h],
                       [it.r + d, -h / 2 - h], [it.r + d, h / 2],
                       [-it.r - d - w, -h / 2 - h], [-it.r - d - w, h / 2]];
      const candidates = [...it.prefer.map((p) => sides[p]), ...corners, ...further];
      let best = null;
      candidates.forEach(([dx, dy], rank) => {
        const box = { x: it.x + dx, y: it.y + dy, w, h };
        let cost = rank * 0.5;
        for (const p of placed) cost += 10 * overlap(box, p);
        for (const o of circles) if (o.key !== it.key) cost += 4 * overlap(box, o);
        cost += 10 * (w * h - overlap(box, { x: 0, y: 0, w: width, h: height }));
        if (best === null || cost < best.cost) best = { cost, dx, dy, box };
      });
      placed.push({ ...best.box, key: it.key, marker: { x: it.x, y: it.y, r: it.r } });
      // ECharts places an array position from the marker's top-left corner
      out.set(it.key, { position: [best.dx + it.r, best.dy + it.r], align: "left",
                        verticalAlign: "top", padding: 0 });
    }
    this.boxes = placed;
    return out;
  }

  // sites: /v1/sites; live: /v1/live; regions: /v1/regions; overview: /v1/dashboard/overview
  render(args) {
    this.last = args;
    const { sites, live, regions, overview, scale } = args;
    const zh = getLang() === "zh";
    const liveById = new Map((live?.sites ?? []).map((s) => [s.site, s]));
    const siteById = new Map(sites.map((s) => [s.id, s]));
    const regionById = new Map(regions.map((r) => [r.id, r]));
    const colourOf = new Map(regions.map((r, i) => [r.id, REGION_COLOURS[i % REGION_COLOURS.length]]));
    const regionName = (r) => (zh ? r.name_zh : r.name_en);
    const maxP = Math.max(1, ...sites.map(sitePflops));
    const size = (s) => scale * (9 + 30 * Math.sqrt(sitePflops(s) / maxP));
    const font = 11 * scale;
    const regionSize = 13 * scale;
    // flows: one per (origin, site) (the view sums the jobs), drawn per origin
    const flows = (overview?.flows ?? []).filter((f) => siteById.has(f.site)
                                                      && regionById.has(f.origin));
    const maxFlow = Math.max(1e-9, ...flows.map((f) => f.pflops));
    const motion = !this.reducedMotion;
    // the arrow ends at the site's rim, not under its dot (needs the map laid out)
    const end = (r, s) => {
      if (!this.hasGeo) return [s.lon, s.lat];
      const [x0, y0] = this.px(r.lon, r.lat);
      const [x1, y1] = this.px(s.lon, s.lat);
      const len = Math.hypot(x1 - x0, y1 - y0);
      const back = size(s) / 2 + 2 * scale;
      if (len <= back) return [s.lon, s.lat];
      const k = (len - back) / len;
      return this.chart.convertFromPixel({ geoIndex: 0 }, [x0 + (x1 - x0) * k, y0 + (y1 - y0) * k]);
    };
    const flowSeries = regions.map((r) => ({
      id: `flows:${r.id}`, name: regionName(r), type: "lines", coordinateSystem: "geo",
      zlevel: 1,
      data: flows.filter((f) => f.origin === r.id).map((f) => {
        const s = siteById.get(f.site);
        return {
          coords: [[r.lon, r.lat], end(r, s)],
          name: `${regionName(r)} → ${siteName(s)}`,
          flow: f,
          lineStyle: { width: scale * (1.2 + 8 * Math.sqrt(f.pflops / maxFlow)) },
        };
      }),
      symbol: ["none", "arrow"], symbolSize: [0, 10 * scale],
      lineStyle: { color: colourOf.get(r.id), opacity: 0.8, curveness: 0.22 },
      effect: { show: motion, period: 6, trailLength: 0.1, symbol: "arrow",
                symbolSize: 6 * scale, color: "#ffffff" },
    }));
    // labels: every marker named, laid out so that no two collide (once the map is laid out)
    let layout = new Map();
    if (this.hasGeo) {
      const items = [
        ...regions.map((r) => ({ key: `r:${r.id}`, lon: r.lon, lat: r.lat, r: regionSize / 2,
                                 text: regionName(r), size: font * 1.1, weight: 700,
                                 prefer: ["right", "bottom", "top", "left"] })),
        ...[...sites].sort((a, b) => sitePflops(b) - sitePflops(a)).map((s) => ({
          key: `s:${s.id}`, lon: s.lon, lat: s.lat, r: size(s) / 2, text: twoLines(siteName(s)),
          size: font, weight: 400, prefer: ["left", "top", "bottom", "right"] })),
      ].map((it) => {
        const [x, y] = this.px(it.lon, it.lat);
        return { ...it, x, y };
      });
      layout = this.layoutLabels(items);
    }
    const labelAt = (key) => layout.get(key) ?? {};
    const siteData = sites.map((s) => {
      const l = liveById.get(s.id);
      const p = sitePflops(s);
      const drained = l ? l.drained : s.drained;
      return {
        id: s.id,
        name: siteName(s),
        value: [s.lon, s.lat, l ? l.green_share : s.green_share, p],
        symbolSize: size(s),
        site: s,
        live: l,
        label: { formatter: twoLines(siteName(s)), ...labelAt(`s:${s.id}`) },
        itemStyle: drained ? { borderColor: "#ff6b6b", borderWidth: 2.5 * scale,
                               borderType: "dashed", opacity: 0.55 } : undefined,
      };
    });
    const regionData = regions.map((r) => ({
      id: r.id, name: regionName(r), value: [r.lon, r.lat],
      itemStyle: { color: colourOf.get(r.id) },
      label: { color: colourOf.get(r.id), ...labelAt(`r:${r.id}`) },
    }));
    this.chart.setOption({
      animation: motion,
      textStyle: { fontFamily: fontFamily() },
      title: { show: false, text: t("mapAria") },
      aria: { enabled: true, label: { data: { maxCount: 200 }, series: { maxCount: 20 } } },
      tooltip: {
        trigger: "item", confine: true, backgroundColor: "#0d1d30", borderColor: "#3a5a7c",
        textStyle: { fontSize: font, color: "#e6eef7" },
        formatter: (p) => this.tooltip(p),
      },
      legend: {
        data: regions.map(regionName), orient: "vertical", right: 6, top: 6,
        itemWidth: 18 * scale, itemHeight: 8 * scale, itemGap: 6 * scale,
        textStyle: { color: "#cfe3f7", fontSize: font },
        formatter: (name) => `${name}`,
        backgroundColor: "rgba(11,23,38,0.7)", padding: 6 * scale,
      },
      geo: {
        // the part of China where the network lies (every site and demand region, with room
        // for their labels); the rest of the country is a pan or zoom away
        map: "china", roam: true, boundingCoords: [[95, 44.5], [132, 18.5]],
        nameMap: getLang() === "en" ? PROVINCES_EN : undefined,
        label: { show: false },
        itemStyle: { areaColor: "#15293f", borderColor: "#3a5a7c", borderWidth: 0.8 },
        emphasis: { label: { show: true, color: "#cfe3f7", fontSize: font },
                    itemStyle: { areaColor: "#1d3a5a" } },
        select: { disabled: true },
      },
      visualMap: {
        type: "continuous", min: 0, max: 1, dimension: 2, seriesIndex: flowSeries.length + 1, calculable: false,
        orient: "horizontal", left: "left", bottom: 6, itemWidth: 10 * scale,
        itemHeight: 110 * scale, text: [`${t("greenShare")} 100%`, "0%"],
        formatter: (v) => fmt.pct(v, 0),
        textStyle: { color: "#cfe3f7", fontSize: font },
        inRange: { color: GREEN_COLOURS },
      },
      series: [
        ...flowSeries,
        {
          id: "regions", name: t("flowLegend"), type: "scatter", coordinateSystem: "geo",
          zlevel: 4, symbol: "diamond", symbolSize: regionSize, data: regionData,
          itemStyle: { borderColor: "#0b1726", borderWidth: 1 },
          label: { show: true, position: "right", distance: 4, formatter: "{b}",
                   fontSize: font * 1.1, fontWeight: "bold", lineHeight: font * 1.1 * 1.25,
                   textBorderColor: "#0b1726", textBorderWidth: 3 },
        },
        {
          id: "sites", name: t("colSite"), type: "scatter", coordinateSystem: "geo",
          zlevel: 3, data: siteData,
          itemStyle: { borderColor: "#e8f1fb", borderWidth: 1, opacity: 0.95 },
          label: { show: true, position: "left", distance: 4, color: "#e8f1fb",
                   fontSize: font, lineHeight: font * 1.25, textBorderColor: "#0b1726",
                   textBorderWidth: 2 },
          emphasis: { scale: 1.15 },
        },
      ],
    }, { replaceMerge: ["series"] });
    if (!this.hasGeo) {  // the first drawing: now that the map is laid out, place the labels
      this.hasGeo = true;
      this.render(args);
    }
  }

  // Every label's box as last laid out: {key ("s:<site>" or "r:<region>"), x, y, w, h, and
  // its marker {x, y, r}}, in the chart's pixels.
  labelBoxes() {
    return this.boxes.map((b) => ({ ...b, marker: { ...b.marker } }));
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
    if (p.seriesId?.startsWith("flows:") && d.flow) {
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
