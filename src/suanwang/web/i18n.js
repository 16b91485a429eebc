// Labels in Chinese (the default) and English. Static labels carry data-i18n="key" (text),
// data-i18n-title, data-i18n-placeholder or data-i18n-aria; dynamic ones call t(key).

const STRINGS = {
  zh: {
    pageTitle: "算网 · 东数西算算力网络监测与调度",
    brandSub: "东数西算 · 算力网络监测与调度平台",
    runTime: "运行时间",
    policy: "调度策略",
    langToggle: "EN",
    langToggleAria: "Switch to English",
    logout: "退出",
    mapTitle: "全国算力网络 · 需求地 → 数据中心集群",
    mapLegend: "圆点大小：算力规模（P）；颜色：当前绿电占比；连线宽度：当前负载（在用 P）",
    mapAria: "中国地图：数据中心集群与需求地之间的算力流向",
    totalsTitle: "全网合计",
    nowTitle: "当前",
    sinceTitle: "启动以来（已完成作业）",
    savedTitle: "对比就近调度（nearest，算力留在东部）",
    powerNow: "当前功率",
    greenNow: "当前绿电占比",
    carbonNow: "碳排放速率",
    costNow: "电费速率",
    computeInUse: "在用算力",
    finished: "已完成作业",
    energy: "能耗",
    greenShare: "绿电占比",
    carbon: "碳排放",
    cost: "电费",
    baselineCarbon: "就近调度的碳排放",
    baselineCost: "就近调度的电费",
    carbonSaved: "减少碳排放",
    costSaved: "节省电费",
    violations: "违规",
    latencyViolations: "时延超限",
    lateJobs: "超期",
    rejectedJobs: "无法调度",
    queue: "排队",
    deferred: "延后（等绿电）",
    perHour: "/时",
    sitesTitle: "数据中心集群",
    colSite: "集群",
    colPflops: "算力",
    colGreen: "绿电",
    colIntensity: "碳强度",
    colPower: "功率",
    colJobs: "作业（运行/传输中）",
    colState: "状态",
    drained: "已停止调度",
    active: "调度中",
    unhealthy: "异常",
    detailTitle: "集群详情",
    chartEnergyTitle: "绿电占比与碳强度：过去一天（实测）与未来（预测）",
    chartLoadTitle: "负载：各算力池占用率（过去与已承诺）与功率",
    actual: "实测",
    forecast: "预测",
    committed: "已承诺",
    now: "现在",
    utilisation: "占用率",
    power: "功率",
    intensityUnit: "克/千瓦时",
    operatorActions: "运营操作",
    drain: "停止调度（排空）",
    undrain: "恢复调度",
    drainConfirm: "停止向 {site} 调度新作业？运行中的作业不受影响。",
    capacity: "装机容量（单位数）",
    apply: "应用",
    updated: "已更新",
    actionFailed: "操作失败",
    placementsTitle: "最新调度",
    colTime: "时间",
    colJob: "作业",
    colTenant: "租户",
    colRoute: "需求地 → 集群",
    colWork: "类型 × 数量",
    colBound: "时延 / 截止",
    colReason: "原因",
    noPlacements: "暂无调度",
    loginTitle: "运营方令牌",
    loginHelp: "请输入运营方令牌（suanwang up 写在 suanwang-data/client.json 中，或打开它打印的链接）。令牌仅保存在本浏览器中。",
    loginButton: "进入",
    loginBad: "令牌无效",
    loginNotOperator: "该令牌不是运营方令牌",
    offline: "无法连接服务",
    live: "实时",
    day: "第{n}天",
    "kind.general": "通用",
    "kind.intelligent": "智算",
    "kind.hpc": "超算",
    realtime: "实时",
    deadline: "截止",
    late: "超期",
    latencyBad: "时延超限",
    ms: "毫秒",
  },
  en: {
    pageTitle: "suanwang · East-Data-West-Compute network monitor",
    brandSub: "East-Data-West-Compute · compute network monitoring and scheduling",
    runTime: "Run time",
    policy: "Policy",
    langToggle: "中文",
    langToggleAria: "切换到中文",
    logout: "Log out",
    mapTitle: "National compute network · demand regions → clusters",
    mapLegend: "Dot size: compute (P); colour: green share now; line width: load now (P in use)",
    mapAria: "Map of China: compute flows from demand regions to data-center clusters",
    totalsTitle: "Network totals",
    nowTitle: "Now",
    sinceTitle: "Since start (finished jobs)",
    savedTitle: "Against the nearest baseline (compute kept in the east)",
    powerNow: "Power now",
    greenNow: "Green share now",
    carbonNow: "Carbon rate",
    costNow: "Cost rate",
    computeInUse: "Compute in use",
    finished: "Jobs finished",
    energy: "Energy",
    greenShare: "Green share",
    carbon: "Carbon",
    cost: "Cost",
    baselineCarbon: "Nearest would have emitted",
    baselineCost: "Nearest would have cost",
    carbonSaved: "Carbon saved",
    costSaved: "Money saved",
    violations: "Violations",
    latencyViolations: "Latency",
    lateJobs: "Late",
    rejectedJobs: "Rejected",
    queue: "Waiting",
    deferred: "Deferred (for green hours)",
    perHour: "/h",
    sitesTitle: "Data-center clusters",
    colSite: "Cluster",
    colPflops: "Compute",
    colGreen: "Green",
    colIntensity: "Carbon intensity",
    colPower: "Power",
    colJobs: "Jobs (running/transferring)",
    colState: "State",
    drained: "Drained",
    active: "Active",
    unhealthy: "Unhealthy",
    detailTitle: "Cluster detail",
    chartEnergyTitle: "Green share and carbon intensity: last day (actual) and ahead (forecast)",
    chartLoadTitle: "Load: pool utilisation (past and committed) and power",
    actual: "actual",
    forecast: "forecast",
    committed: "committed",
    now: "now",
    utilisation: "Utilisation",
    power: "Power",
    intensityUnit: "g/kWh",
    operatorActions: "Operator actions",
    drain: "Drain (stop new placements)",
    undrain: "Undrain (resume placements)",
    drainConfirm: "Stop placing new jobs at {site}? Running jobs are not affected.",
    capacity: "Installed capacity (units)",
    apply: "Apply",
    updated: "Updated",
    actionFailed: "Failed",
    placementsTitle: "Latest placements",
    colTime: "Time",
    colJob: "Job",
    colTenant: "Tenant",
    colRoute: "Origin → cluster",
    colWork: "Kind × units",
    colBound: "Latency / deadline",
    colReason: "Why",
    noPlacements: "No placements yet",
    loginTitle: "Operator token",
    loginHelp: "Enter the operator token (suanwang up writes it to suanwang-data/client.json, or open the link it prints). The token is kept in this browser only.",
    loginButton: "Enter",
    loginBad: "Unknown token",
    loginNotOperator: "This is not an operator token",
    offline: "Cannot reach the service",
    live: "Live",
    day: "day {n}",
    "kind.general": "General",
    "kind.intelligent": "AI",
    "kind.hpc": "HPC",
    realtime: "real-time",
    deadline: "deadline",
    late: "late",
    latencyBad: "over bound",
    ms: "ms",
  },
};

const LANG_KEY = "suanwang.lang";
const listeners = [];

function initialLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "zh" || asked === "en") return asked;
  const saved = localStorage.getItem(LANG_KEY);
  return saved === "en" ? "en" : "zh";
}

let lang = initialLang();

export function getLang() {
  return lang;
}

export function locale() {
  return lang === "zh" ? "zh-CN" : "en-US";
}

// The page's font stack (dashboard.css), for the charts' canvas text.
export function fontFamily() {
  return getComputedStyle(document.documentElement).getPropertyValue("--font").trim()
    || "sans-serif";
}

export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

export function applyStatic(root = document) {
  document.documentElement.lang = locale();
  document.title = t("pageTitle");
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  localStorage.setItem(LANG_KEY, lang);
  applyStatic();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.push(fn);
}
