// The selected site's charts: the last day and the forecast ahead, from /v1/dashboard/series.
// History is drawn solid, the forecast (and the units already committed) dashed; the hour in
// progress appears in both, so that the lines join. The x axis is time, its ticks on the hour.
//
// The page polls every few seconds: a chart showing the same site (the same series) is updated
// in place (merged by series id, animation off), so that its lines never vanish and grow back;
// only a change of site or language draws it afresh.

/* global echarts */
import { fontFamily, getLang, t } from "./i18n.js";
import * as fmt from "./format.js";

const POOL_COLOURS = { general: "#4fc3f7", intelligent: "#b388ff", hpc: "#ffb74d" };
const GREEN = "#27ae60";
const INTENSITY = "#ef8354";
const POWER = "#e0e0e0";
const HOUR_MS = 3600 * 1000;

// [epoch ms, value] pairs of the row's hours (null values left out of the line)
function points(series, rowHours, values, map = (v) => v) {
  const ms = (h) => series.start_utc_ms + h * series.hour_s * 1000;
  return rowHours.map((h, i) => [ms(h), values[i] == null ? null : map(values[i])]);
}

export class SiteCharts {
  constructor(energyEl, loadEl, { reducedMotion }) {
    this.energyEl = energyEl;
    this.loadEl = loadEl;
    this.reducedMotion = reducedMotion;
    // how often each chart was drawn afresh and updated in place (tests read these)
    this.stats = { fresh: 0, inPlace: 0 };
    this.init();
  }

  init() {
    for (const c of [this.energy, this.load]) if (c) c.dispose();
    const locale = getLang() === "zh" ? "ZH" : "EN";
    this.energy = echarts.init(this.energyEl, null, { locale });
    this.load = echarts.init(this.loadEl, null, { locale });
    this.drawn = new Map();  // chart -> what it shows (site and series ids)
  }

  // empty both charts (logout): nothing of the last operator's data stays drawn
  clear() {
    for (const c of [this.energy, this.load]) c.clear();
    this.drawn = new Map();
  }

  resize() {
    this.energy.resize();
    this.load.resize();
  }

  // Draw `option` afresh if the chart showed something else, else merge it in place.
  draw(chart, key, option) {
    const fresh = this.drawn.get(chart) !== key;
    this.drawn.set(chart, key);
    this.stats[fresh ? "fresh" : "inPlace"] += 1;
    chart.setOption({ ...option, animation: fresh && !this.reducedMotion },
                    fresh ? { notMerge: true } : { notMerge: false, lazyUpdate: true });
  }

  base(series, scale, whenOf) {
    const font = 11 * scale;
    const hours = [...series.history_hours, ...series.forecast_hours];
    const ms = (h) => series.start_utc_ms + h * series.hour_s * 1000;
    return {
      textStyle: { fontSize: font, color: "#cfe3f7", fontFamily: fontFamily() },
      grid: { left: 44 * scale, right: 52 * scale, top: 30 * scale, bottom: 24 * scale },
      tooltip: {
        trigger: "axis", confine: true, backgroundColor: "#0d1d30", borderColor: "#3a5a7c",
        textStyle: { fontSize: font, color: "#e6eef7" },
        formatter: (params) => {
          const list = Array.isArray(params) ? params : [params];
          const head = list.length ? fmt.dateTime(list[0].value[0]) : "";
          return [head, ...list.filter((p) => p.value[1] != null).map((p) => {
            const w = whenOf.get(p.seriesId);
            return `${p.marker}${fmt.escapeHtml(p.seriesName)} · ${w.when}: ${w.show(p.value[1])}`;
          })].join("<br>");
        },
      },
      // actual and forecast lines of one quantity share a name: one legend entry each
      legend: { top: 0, type: "plain", textStyle: { color: "#cfe3f7", fontSize: font },
                itemWidth: 14 * scale, itemHeight: 8 * scale },
      xAxis: {
        // the axis spans whole hours, so that its ends are ticks on the hour too
        type: "time", min: Math.floor(ms(Math.min(...hours)) / HOUR_MS) * HOUR_MS,
        max: Math.ceil(ms(Math.max(...hours)) / HOUR_MS) * HOUR_MS,
        minInterval: HOUR_MS, splitNumber: 8,
        axisLabel: { color: "#9fb3c8", fontSize: font, hideOverlap: true,
                     formatter: (v) => fmt.clockTime(Number(v)) },
        axisPointer: { label: { formatter: (p) => fmt.dateTime(Number(p.value)) } },
        axisLine: { lineStyle: { color: "#3a5a7c" } },
        splitLine: { show: false },
      },
      nowMark: {
        symbol: "none", silent: true, animation: false,
        label: { formatter: t("now"), color: "#cfe3f7", fontSize: font,
                 position: "insideEndTop" },
        lineStyle: { color: "#cfe3f7", type: "dotted" },
        data: [{ xAxis: series.start_utc_ms + series.now_s * 1000 }],
      },
    };
  }

  render(series, siteId, scale) {
    const row = series?.sites.find((s) => s.site === siteId);
    if (!row) return;
    const whenOf = new Map();  // series id -> its "actual"/"forecast" label and formatter
    const { nowMark, ...base } = this.base(series, scale, whenOf);
    const past = series.history_hours;
    const ahead = series.forecast_hours;
    const yAxis = (fmtFn, extra = {}) => ({
      type: "value",
      axisLabel: { color: "#9fb3c8", fontSize: 10 * scale, formatter: fmtFn },
      splitLine: { lineStyle: { color: "#1f3550" } }, ...extra,
    });
    // one line; `show` formats its values in the tooltip
    const line = ({ id, name, when, data, colour, dashed = false, axis = 0, show, width = 2,
                    extra = {} }) => {
      whenOf.set(id, { when: t(when), show: (v) => (v == null ? "—" : show(v)) });
      return {
        id, name, type: "line", yAxisIndex: axis, data, showSymbol: false,
        connectNulls: false,
        lineStyle: { color: colour, width: width * scale, type: dashed ? "dashed" : "solid" },
        itemStyle: { color: colour }, ...extra,
      };
    };
    const percent = (v) => `${v}%`;
    const toPct = (v) => Math.round(v * 1000) / 10;
    const grams = (v) => fmt.intensity(v);
    const green = t("greenShare");
    const intensity = t("colIntensity");
    const energySeries = [
      line({ id: "green:actual", name: green, when: "actual", colour: GREEN, show: percent,
             data: points(series, past, row.history.green_share, toPct),
             extra: { areaStyle: { color: "rgba(39,174,96,0.18)" }, markLine: nowMark } }),
      line({ id: "green:forecast", name: green, when: "forecast", colour: GREEN, dashed: true,
             show: percent, data: points(series, ahead, row.forecast.green_share, toPct) }),
      line({ id: "intensity:actual", name: intensity, when: "actual", colour: INTENSITY,
             axis: 1, show: grams,
             data: points(series, past, row.history.intensity_g_per_kwh, Math.round) }),
      line({ id: "intensity:forecast", name: intensity, when: "forecast", colour: INTENSITY,
             axis: 1, dashed: true, show: grams,
             data: points(series, ahead, row.forecast.intensity_g_per_kwh, Math.round) }),
    ];
    this.draw(this.energy, `${siteId}|${energySeries.map((s) => s.id)}`, {
      ...base,
      legend: { ...base.legend, data: [green, intensity] },
      yAxis: [yAxis("{value}%", { min: 0, max: 100 }),
              yAxis("{value}", { splitLine: { show: false }, name: t("intensityUnit"),
                                 nameTextStyle: { color: "#9fb3c8", fontSize: 10 * scale } })],
      series: energySeries,
    });
    const loadSeries = [];
    const names = [];
    for (const pool of row.pools) {
      const cap = Math.max(pool.capacity_units, 1);
      const share = (v) => Math.round((v / cap) * 1000) / 10;
      const colour = POOL_COLOURS[pool.kind] ?? "#ffffff";
      const name = t(`kind.${pool.kind}`);
      names.push(name);
      loadSeries.push(line({ id: `${pool.kind}:actual`, name, when: "actual", colour,
                             show: percent, data: points(series, past, pool.busy_units, share),
                             extra: loadSeries.length === 0 ? { markLine: nowMark } : {} }));
      loadSeries.push(line({ id: `${pool.kind}:committed`, name, when: "committed", colour,
                             dashed: true, show: percent,
                             data: points(series, ahead, pool.committed_units, share) }));
    }
    const kw = (v) => Math.round(v * 10) / 10;
    const power = t("power");
    names.push(power);
    loadSeries.push(line({ id: "power:actual", name: power, when: "actual", colour: POWER,
                           axis: 1, width: 1.2, show: fmt.power,
                           data: points(series, past, row.history.power_kw, kw) }));
    loadSeries.push(line({ id: "power:committed", name: power, when: "committed",
                           colour: POWER, axis: 1, width: 1.2, dashed: true, show: fmt.power,
                           data: points(series, ahead, row.forecast.power_kw, kw) }));
    this.draw(this.load, `${siteId}|${loadSeries.map((s) => s.id)}`, {
      ...base,
      legend: { ...base.legend, data: names },
      yAxis: [yAxis("{value}%", { min: 0, max: (v) => Math.max(100, Math.ceil(v.max)) }),
              yAxis((v) => fmt.power(v), { splitLine: { show: false } })],
      series: loadSeries,
    });
  }
}
