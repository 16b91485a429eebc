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
    mapLegend: "圆点大小：算力规模（P）；颜色：当前绿电占比；箭头：需求地 → 集群，颜色按需求地，宽度为当前负载（在用 P）",
    mapAria: "中国地图：数据中心集群与需求地之间的算力流向",
    totalsTitle: "全网合计",
    nowTitle: "当前",
    sinceTitle: "启动以来（已完成作业）",
    savedTitle: "对比就近调度（nearest，算力留在东部）",
    powerNow: "作业功率（当前）",
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
    colPower: "作业功率",
    colJobs: "作业",
    colJobsTitle: "运行中 / 已调度（数据传输中）的作业数",
    colState: "状态",
    drained: "已停止调度",
    active: "调度中",
    unhealthy: "异常",
    detailTitle: "集群详情",
    chartEnergyTitle: "绿电占比与碳强度：过去一天（实线，实测）与未来（虚线，预测）",
    chartLoadTitle: "负载：各算力池占用率（实线为过去，虚线为已承诺）与作业功率",
    actual: "实测",
    forecast: "预测",
    committed: "已承诺",
    now: "现在",
    utilisation: "占用率",
    power: "作业功率",
    intensityUnit: "克CO2/千瓦时",
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
    colIntensityUnit: "碳强度（克CO2/千瓦时）",
    colPowerTitle: "运行中作业的设施功率（IT 功率 × PUE）；模型未计入数据中心的空载功率",
    "unitOf.general": "CPU核",
    "unitOf.intelligent": "加速卡",
    "unitOf.hpc": "节点",
    "poolHead.general": "通用（CPU核）",
    "poolHead.intelligent": "智算（加速卡）",
    "poolHead.hpc": "超算（节点）",
    "policy.greenest": "最低碳",
    "policy.cheapest": "最低电价",
    "policy.nearest": "就近",
    "policy.green-window": "绿电窗口",
    "policy.optimal": "最优规划",
    "policy.rolling": "滚动规划",
    "reason.ranked": "{policy}：{site}，{n}个可行集群中最优（{score}）",
    "reason.priced": "{policy}：{site}（含容量价格的代价 {score}）",
    "reason.late": "；无法按截止时间完成",
    "reasonUnit.g_co2_per_unit_h": "克CO2/单位·时",
    "reasonUnit.yuan_per_unit_h": "元/单位·时",
    "reasonUnit.ms": "毫秒",
    loggedOut: "已退出",
    capEmptyHelp: "留空表示不变",
    capNotInteger: "{kind}：“{value}”不是非负整数",
    capTooLarge: "{kind}：{value} 超过上限 {max}（装机的100倍）",
    capNothing: "未修改：留空或与当前相同的项保持不变",
    capBelowBusy: "将 {site} 的{kind}装机从 {from} 减到 {to}，低于当前占用的 {busy}。运行中的作业保留其单位，在足够作业结束前不再向该池调度新作业。确定？",
    note: "注意",
    flowLegend: "需求地",
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
    mapLegend: "Dot size: compute (P); colour: green share now; arrows: demand region → cluster, coloured by region, width by load now (P in use)",
    mapAria: "Map of China: compute flows from demand regions to data-center clusters",
    totalsTitle: "Network totals",
    nowTitle: "Now",
    sinceTitle: "Since start (finished jobs)",
    savedTitle: "Against the nearest baseline (compute kept in the east)",
    powerNow: "Jobs' power now",
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
    colPower: "Jobs' power",
    colJobs: "Jobs",
    colJobsTitle: "Jobs running / placed (their data in transfer)",
    colState: "State",
    drained: "Drained",
    active: "Active",
    unhealthy: "Unhealthy",
    detailTitle: "Cluster detail",
    chartEnergyTitle: "Green share and carbon intensity: last day (solid, actual) and ahead (dashed, forecast)",
    chartLoadTitle: "Load: pool utilisation (solid past, dashed committed) and the jobs' power",
    actual: "actual",
    forecast: "forecast",
    committed: "committed",
    now: "now",
    utilisation: "Utilisation",
    power: "Jobs' power",
    intensityUnit: "gCO2/kWh",
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
    colIntensityUnit: "Carbon intensity (gCO2/kWh)",
    colPowerTitle: "Facility power of the jobs running there (IT power × PUE); the model has no idle draw of the data center",
    "unitOf.general": "CPU cores",
    "unitOf.intelligent": "accelerators",
    "unitOf.hpc": "nodes",
    "poolHead.general": "General (CPU cores)",
    "poolHead.intelligent": "AI (accelerators)",
    "poolHead.hpc": "HPC (nodes)",
    "policy.greenest": "greenest",
    "policy.cheapest": "cheapest",
    "policy.nearest": "nearest",
    "policy.green-window": "green-window",
    "policy.optimal": "optimal",
    "policy.rolling": "rolling",
    "reason.ranked": "{policy}: {site}, best of {n} feasible ({score})",
    "reason.priced": "{policy}: {site} (cost {score} incl. capacity price)",
    "reason.late": "; the deadline cannot be met",
    "reasonUnit.g_co2_per_unit_h": "gCO2 per unit-hour",
    "reasonUnit.yuan_per_unit_h": "¥ per unit-hour",
    "reasonUnit.ms": "ms",
    loggedOut: "Logged out",
    capEmptyHelp: "empty = unchanged",
    capNotInteger: "{kind}: “{value}” is not a whole number ≥ 0",
    capTooLarge: "{kind}: {value} is above the limit of {max} (100 × installed)",
    capNothing: "Nothing changed: empty fields and fields equal to the current value stay",
    capBelowBusy: "Cut {kind} at {site} from {from} to {to}, below the {busy} units busy now? Running jobs keep their units; nothing new is placed in that pool until enough of them end.",
    note: "Note",
    flowLegend: "Demand regions",
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
