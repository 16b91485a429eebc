// The market panel (issue 13): a day of posted prices per provider at one site and kind
// (GET /v1/market/prices), and the latest cleared round of the call auction
// (GET /v1/market/rounds). Self-contained: index.html has its section and loads this module.

import { api, token } from "./api.js";
import { fontFamily, getLang, onLangChange } from "./i18n.js";

const POLL_MS = 15000;
const WORDS = {
  zh: { title: "算力交易 · 标价（元/单位·时）", site: "集群", kind: "类型",
        round: (r) => `最新一期 ${r.id}：成交 ${r.units_traded} / ${r.units_bid} 单位`
          + `（${Math.round(r.fill_ratio * 100)}%），用时 ${(r.clear_s * 1000).toFixed(1)} 毫秒`,
        none: "暂无成交", general: "通用", intelligent: "智算", hpc: "超算" },
  en: { title: "Compute trading · posted prices (yuan per unit-hour)", site: "Site",
        kind: "Kind",
        round: (r) => `Latest round ${r.id}: ${r.units_traded} of ${r.units_bid} units traded`
          + ` (${Math.round(r.fill_ratio * 100)}%), cleared in ${(r.clear_s * 1000).toFixed(1)} ms`,
        none: "No round cleared yet", general: "general", intelligent: "intelligent",
        hpc: "HPC" },
};

function w() {
  return WORDS[getLang() === "zh" ? "zh" : "en"];
}

class MarketPanel {
  constructor(root) {
    this.root = root;
    this.chart = null;
    this.site = root.querySelector("#market-site");
    this.kind = root.querySelector("#market-kind");
    this.line = root.querySelector("#market-round");
    this.title = root.querySelector("#market-title");
    this.prices = [];
    this.site.addEventListener("change", () => this.draw());
    this.kind.addEventListener("change", () => this.draw());
    onLangChange(() => this.draw());
  }

  async poll() {
    if (!token()) return;
    try {
      const [prices, rounds] = await Promise.all([
        api("/v1/market/prices"), api("/v1/market/rounds?limit=1")]);
      this.prices = prices.prices;
      this.latest = rounds.rounds[0] ?? null;
      this.fillChoices();
      this.draw();
    } catch {
      // the main panel reports the connection; try again at the next poll
    }
  }

  fillChoices() {
    const sites = [...new Set(this.prices.map((p) => p.site))];
    if (this.site.options.length !== sites.length) {
      const keep = this.site.value;
      this.site.innerHTML = sites.map((s) => `<option value="${s}">${s}</option>`).join("");
      if (sites.includes(keep)) this.site.value = keep;
    }
  }

  draw() {
    const words = w();
    this.title.textContent = words.title;
    for (const opt of this.kind.options) opt.textContent = words[opt.value] ?? opt.value;
    this.line.textContent = this.latest ? words.round(this.latest) : words.none;
    if (typeof echarts === "undefined") return;
    if (!this.chart) this.chart = echarts.init(this.root.querySelector("#market-chart"));
    const rows = this.prices.filter((p) => p.site === this.site.value
      && p.kind === this.kind.value);
    const byProvider = new Map();
    for (const p of rows) {
      if (!byProvider.has(p.provider)) byProvider.set(p.provider, []);
      byProvider.get(p.provider).push([p.start, p.price_yuan_per_unit_h]);
    }
    this.chart.setOption({
      textStyle: { fontFamily: fontFamily(), color: "#cfe3f7" },
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll", textStyle: { color: "#cfe3f7" } },
      grid: { left: 48, right: 16, top: 28, bottom: 28 },
      xAxis: { type: "time", axisLabel: { color: "#9fb3c8", hideOverlap: true },
               axisLine: { lineStyle: { color: "#3a5a7c" } }, splitLine: { show: false } },
      yAxis: { type: "value", scale: true, axisLabel: { color: "#9fb3c8" },
               splitLine: { lineStyle: { color: "#1f3550" } } },
      series: [...byProvider].map(([name, data]) => ({
        name, type: "line", step: "end", showSymbol: false, data })),
    }, { notMerge: true });
  }
}

const root = document.querySelector("#market-panel");
if (root) {
  const panel = new MarketPanel(root);
  panel.poll();
  setInterval(() => panel.poll(), POLL_MS);
  window.addEventListener("resize", () => panel.chart?.resize());
}
