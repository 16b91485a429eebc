// The selected site's charts: the last day and the forecast ahead, from /v1/dashboard/series.
// History is drawn solid, the forecast (and the units already committed) dashed; the hour in
// progress appears in both, so that the lines join.

/* global echarts */
import { fontFamily, getLang, t } from "./i18n.js";
import * as fmt from "./format.js";

const POOL_COLOURS = { general: "#4fc3f7", intelligent: "#b388ff", hpc: "#ffb74d" };
const GREEN = "#27ae60";
const INTENSITY = "#ef8354";
const POWER = "#e0e0e0";

function axisHours(series) {
  const hours = [...series.history_hours];
  for (const h of series.forecast_hours) if (h > hours[hours.length - 1]) hours.push(h);
  return hours;
}

// values indexed by `hours` (null where the row has nothing)
function align(hours, rowHours, values, map = (v) => v) {
  const at = new Map(rowHours.map((h, i) => [h, values[i]]));
  return hours.map((h) => (at.has(h) && at.get(h) != null ? map(at.get(h)) : null));
}

export class SiteCharts {
  constructor(energyEl, loadEl, { reducedMotion }) {
    this.energyEl = energyEl;
    this.loadEl = loadEl;
    this.reducedMotion = reducedMotion;
    this.init();
  }

  init() {
    for (const c of [this.energy, this.load]) if (c) c.dispose();
    const locale = getLang() === "zh" ? "ZH" : "EN";
    this.energy = echarts.init(this.energyEl, null, { locale });
    this.load = echarts.init(this.loadEl, null, { locale });
  }

  resize() {
    this.energy.resize();
    this.load.resize();
  }

  base(series, scale, hours) {
    const font = 11 * scale;
    const nowHour = series.forecast_hours[0];
    return {
      animation: !this.reducedMotion,
      textStyle: { fontSize: font, color: "#cfe3f7", fontFamily: fontFamily() },
      grid: { left: 44 * scale, right: 48 * scale, top: 30 * scale, bottom: 24 * scale },
      tooltip: { trigger: "axis", confine: true, backgroundColor: "#0d1d30",
                 borderColor: "#3a5a7c", textStyle: { fontSize: font, color: "#e6eef7" } },
      legend: { top: 0, textStyle: { color: "#cfe3f7", fontSize: font },
                itemWidth: 14 * scale, itemHeight: 8 * scale },
      xAxis: {
        type: "category", boundaryGap: false,
        data: hours.map((h) => series.start_utc_ms + h * series.hour_s * 1000),
        axisLabel: { color: "#9fb3c8", fontSize: font, hideOverlap: true,
                     formatter: (ms) => fmt.clockTime(Number(ms)) },
        axisPointer: { label: { formatter: (p) => fmt.dateTime(Number(p.value)) } },
        axisLine: { lineStyle: { color: "#3a5a7c" } },
      },
      nowMark: {
        symbol: "none", silent: true,
        label: { formatter: t("now"), color: "#cfe3f7", fontSize: font,
                 position: "insideEndTop" },
        lineStyle: { color: "#cfe3f7", type: "dotted" },
        data: [{ xAxis: hours.indexOf(nowHour) }],
      },
    };
  }

  render(series, siteId, scale) {
    const row = series?.sites.find((s) => s.site === siteId);
    if (!row) return;
    const hours = axisHours(series);
    const { nowMark, ...base } = this.base(series, scale, hours);
    const past = series.history_hours;
    const ahead = series.forecast_hours;
    const yAxis = (fmtFn, extra = {}) => ({
      type: "value",
      axisLabel: { color: "#9fb3c8", fontSize: 10 * scale, formatter: fmtFn },
      splitLine: { lineStyle: { color: "#1f3550" } }, ...extra,
    });
    // one line; `show` formats its values in the tooltip
    const line = ({ name, data, colour, dashed = false, axis = 0, show, width = 2, extra = {} }) => ({
      name, type: "line", yAxisIndex: axis, data, showSymbol: false, connectNulls: false,
      lineStyle: { color: colour, width: width * scale, type: dashed ? "dashed" : "solid" },
      itemStyle: { color: colour }, tooltip: { valueFormatter: (v) => (v == null ? "—" : show(v)) },
      ...extra,
    });
    const percent = (v) => `${v}%`;
    const toPct = (v) => Math.round(v * 1000) / 10;
    const grams = (v) => fmt.intensity(v);
    const label = (what, when) => `${t(what)} · ${t(when)}`;
    this.energy.setOption({
      ...base,
      yAxis: [yAxis("{value}%", { min: 0, max: 100 }),
              yAxis("{value}", { splitLine: { show: false } })],
      series: [
        line({ name: label("greenShare", "actual"), colour: GREEN, show: percent,
               data: align(hours, past, row.history.green_share, toPct),
               extra: { areaStyle: { color: "rgba(39,174,96,0.18)" }, markLine: nowMark } }),
        line({ name: label("greenShare", "forecast"), colour: GREEN, dashed: true, show: percent,
               data: align(hours, ahead, row.forecast.green_share, toPct) }),
        line({ name: label("colIntensity", "actual"), colour: INTENSITY, axis: 1, show: grams,
               data: align(hours, past, row.history.intensity_g_per_kwh, Math.round) }),
        line({ name: label("colIntensity", "forecast"), colour: INTENSITY, axis: 1, dashed: true,
               show: grams,
               data: align(hours, ahead, row.forecast.intensity_g_per_kwh, Math.round) }),
      ],
    }, { replaceMerge: ["series"] });
    const loadSeries = [];
    for (const pool of row.pools) {
      const cap = Math.max(pool.capacity_units, 1);
      const share = (v) => Math.round((v / cap) * 1000) / 10;
      const colour = POOL_COLOURS[pool.kind] ?? "#ffffff";
      const kind = `kind.${pool.kind}`;
      loadSeries.push(line({ name: label(kind, "actual"), colour, show: percent,
                             data: align(hours, past, pool.busy_units, share),
                             extra: loadSeries.length === 0 ? { markLine: nowMark } : {} }));
      loadSeries.push(line({ name: label(kind, "committed"), colour, dashed: true, show: percent,
                             data: align(hours, ahead, pool.committed_units, share) }));
    }
    const kw = (v) => Math.round(v * 10) / 10;
    loadSeries.push(line({ name: label("power", "actual"), colour: POWER, axis: 1, width: 1.2,
                           show: fmt.power, data: align(hours, past, row.history.power_kw, kw) }));
    loadSeries.push(line({ name: label("power", "committed"), colour: POWER, axis: 1, width: 1.2,
                           dashed: true, show: fmt.power,
                           data: align(hours, ahead, row.forecast.power_kw, kw) }));
    this.load.setOption({
      ...base,
      legend: { ...base.legend, type: "scroll" },
      yAxis: [yAxis("{value}%", { min: 0, max: (v) => Math.max(100, Math.ceil(v.max)) }),
              yAxis((v) => fmt.power(v), { splitLine: { show: false } })],
      series: loadSeries,
    }, { replaceMerge: ["series"] });
  }
}
