// Grid coordination (issue 14) in the selected site's panel: the day-ahead
// flexibility curve (GET /v1/grid/flexibility: per hour the kW the known work could shed,
// drawn below zero, or add, above, with the expected power as a line) and the site's grid
// events (GET /v1/grid/events: state, window, and once settled the delivered kWh and credit).
//
// Self-contained: it polls on its own (the curve every FLEX_MS, at once when the selected site
// changes) and asks `site()` which site to show (null: logged out, draw nothing).

/* global echarts */
import { api } from "./api.js";
import * as fmt from "./format.js";
import { getLang, onLangChange } from "./i18n.js";

const CHECK_MS = 1000;
const FLEX_MS = 30000;
const WORDS = {
  // (only characters the bundled font subset has: see web/vendor.py)
  zh: { title: "电网调节能力（未来24小时）", shed: "可减少", add: "可加大", expected: "预计功率",
        events: "电网事件", none: "暂无电网事件", delivered: "响应", credit: "收入",
        kinds: { shed: "减电 shed", cap: "限电上限 cap", fill: "加电 fill" },
        states: { posted: "已接收", notified: "已生效", cancelled: "已停止", settled: "已结算" } },
  en: { title: "Grid flexibility (next 24 h)", shed: "can shed", add: "can add",
        expected: "expected power", events: "Grid events", none: "No grid events",
        delivered: "delivered", credit: "credit",
        kinds: { shed: "shed", cap: "cap", fill: "fill" },
        states: { posted: "posted", notified: "notified", cancelled: "cancelled",
                  settled: "settled" } },
};

function w() {
  return WORDS[getLang() === "zh" ? "zh" : "en"];
}

export class GridPanel {
  constructor(chartEl, listEl, titleEl, { site, reducedMotion = false }) {
    this.chartEl = chartEl;
    this.listEl = listEl;
    this.titleEl = titleEl;
    this.site = site;
    this.reducedMotion = reducedMotion;
    this.shown = null;
    this.fetchedAt = 0;
    this.data = null;
    this.events = [];
    this.init();
    onLangChange(() => {
      this.init();
      this.render();
    });
    setInterval(() => this.check(), CHECK_MS);
  }

  init() {
    if (this.chart) this.chart.dispose();
    this.chart = echarts.init(this.chartEl, null, { locale: getLang() === "zh" ? "ZH" : "EN" });
    this.titleEl.textContent = w().title;
  }

  async check() {
    const site = this.site();
    if (!site) {
      if (this.shown !== null) this.clear();
      return;
    }
    if (site === this.shown && Date.now() - this.fetchedAt < FLEX_MS) return;
    this.shown = site;
    this.fetchedAt = Date.now();
    try {
      const [flex, events] = await Promise.all([
        api(`/v1/grid/flexibility?site=${encodeURIComponent(site)}&hours=24`),
        api("/v1/grid/events"),
      ]);
      if (this.site() !== site) return;
      this.data = flex.sites[0];
      this.events = events.filter((e) => e.sites.includes(site));
      this.render();
    } catch {
      // not allowed or offline: the page's own poll says so; keep what is drawn
    }
  }

  clear() {
    this.shown = null;
    this.data = null;
    this.events = [];
    this.chart.clear();
    this.listEl.innerHTML = "";
  }

  render() {
    const words = w();
    if (this.data) {
      const hours = this.data.hours;
      const x = hours.map((h) => h.hour_start_s * 1000);
      const at = (i) => new Date(hours[i].hour_start).getTime();
      this.chart.setOption({
        animation: !this.reducedMotion,
        textStyle: { color: "#ccc" },
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: [words.shed, words.add, words.expected],
                  textStyle: { color: "#ccc" } },
        grid: { left: 50, right: 12, top: 40, bottom: 24 },
        xAxis: { type: "time", axisLabel: { color: "#aaa" } },
        yAxis: { type: "value", name: "kW", axisLabel: { color: "#aaa" },
                 splitLine: { lineStyle: { color: "#2a3a50" } } },
        series: [
          { id: "shed", name: words.shed, type: "bar", stack: "flex", color: "#4fc3f7",
            data: hours.map((h, i) => [at(i), -h.shed_kw, h.shed_for_h]) },
          { id: "add", name: words.add, type: "bar", stack: "flex", color: "#27ae60",
            data: hours.map((h, i) => [at(i), h.add_kw, h.add_for_h]) },
          { id: "expected", name: words.expected, type: "line", color: "#e0e0e0",
            showSymbol: false, data: hours.map((h, i) => [at(i), h.expected_kw]) },
        ],
      }, { notMerge: true });
      this.chartEl.dataset.hours = String(x.length);
    }
    this.listEl.innerHTML = this.events.length === 0
      ? `<li class="empty">${words.none}</li>`
      : this.events.map((e) => {
        const s = e.settlement;
        const done = s ? ` · ${words.delivered} ${fmt.num(s.delivered_kwh, 1)} kWh · `
          + `${words.credit} ${fmt.money(s.credit_yuan)}` : "";
        return `<li data-event="${fmt.escapeHtml(e.id)}" data-state="${e.state}">`
          + `<b>${fmt.escapeHtml(e.id)}</b> ${words.kinds[e.kind] ?? e.kind} · `
          + `${words.states[e.state] ?? e.state} · ${fmt.dateTime(Date.parse(e.start))} → `
          + `${fmt.dateTime(Date.parse(e.end))}${done}</li>`;
      }).join("");
  }
}
