// The operator's dashboard: polls the API every few seconds and draws the network.

import { api, ApiError, clearToken, describeError, setToken, takeTokenFromHash, token }
  from "./api.js";
import { SiteCharts } from "./charts.js";
import * as fmt from "./format.js";
import { applyStatic, getLang, onLangChange, setLang, t } from "./i18n.js";
import { GREEN_COLOURS, NetworkMap, registerChinaMap, siteName, sitePflops } from "./map.js";
import { GridPanel } from "./grid.js";
import { providerRows } from "./providers.js";

const POLL_MS = 2000;
const SERIES_MS = 10000;
const KINDS = ["general", "intelligent", "hpc"];
const $ = (sel) => document.querySelector(sel);
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;

const state = {
  sites: [], regions: [], live: null, overview: null, summary: null, placements: null,
  series: null, seriesAt: 0, selected: null, formKey: "", online: true, providers: null,
};
let map = null;
let charts = null;
let timer = null;
let running = false;
let generation = 0;  // bumped at logout: answers to polls started before it are dropped

// ---- helpers -----------------------------------------------------------------------------

function scale() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) / 14;
}

// A run-clock instant (seconds since the run's start) on the run's calendar, in epoch ms.
function runMs(runS) {
  return (state.overview?.clock.start_utc_ms ?? 0) + runS * 1000;
}

function greenColour(share) {
  const [a, b, c] = GREEN_COLOURS.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
  const x = Math.min(1, Math.max(0, share ?? 0));
  const [from, to, f] = x < 0.5 ? [a, b, x / 0.5] : [b, c, (x - 0.5) / 0.5];
  const rgb = from.map((v, i) => Math.round(v + (to[i] - v) * f));
  return `rgb(${rgb.join(",")})`;
}

function regionName(id) {
  const r = state.regions.find((x) => x.id === id);
  return r ? (getLang() === "zh" ? r.name_zh : r.name_en) : id;
}

function siteNameById(id) {
  const s = state.sites.find((x) => x.id === id);
  return s ? siteName(s) : id;
}

function policyName(id) {
  const name = t(`policy.${id}`);
  return name === `policy.${id}` ? id : name;
}

// A placement's reason in the reader's language with the site's name (from the view's
// `reason_parts`); a reason of another form is shown as written, its site ids named.
function reasonText(p) {
  const r = p.reason_parts;
  if (!r) {
    return state.sites.reduce((text, s) => text.replace(new RegExp(`\\b${s.id}\\b`, "g"),
                                                        siteName(s)), p.reason ?? "");
  }
  const score = r.form === "ranked"
    ? (r.unit === "ms" ? fmt.ms(r.score) : `${fmt.num(r.score, 4)} ${t(`reasonUnit.${r.unit}`)}`)
    : fmt.num(r.score, 4);
  const at = siteNameById(r.site) + (r.provider ? ` · ${r.provider}` : "");
  return t(`reason.${r.form}`, { policy: policyName(r.policy), site: at,
                                 n: fmt.num(r.feasible), score })
    + (r.notes ?? []).map((note) => `; ${note}`).join("")
    + (r.late ? t("reason.late") : "");
}

function setStatus(el, text, bad = false) {
  el.textContent = text;
  el.classList.toggle("bad", bad);
}

// ---- rendering ---------------------------------------------------------------------------

function renderConnection() {
  const conn = $("#conn");
  conn.classList.toggle("off", !running);
  if (!running) {
    setStatus(conn, `○ ${t("loggedOut")}`);
    return;
  }
  setStatus(conn, `● ${t(state.online ? "live" : "offline")}`, !state.online);
}

function renderHeader() {
  renderConnection();
  const o = state.overview;
  if (!o) return;
  $("#run-clock").textContent = fmt.dateTime(runMs(o.now_s));
  $("#run-day").textContent = t("day", { n: Math.floor(o.now_s / 86400) + 1 });
  $("#clock-speed").textContent = o.clock.speed === 1 ? "" : `×${fmt.num(o.clock.speed)}`;
  $("#policy-name").textContent = policyName(o.policy);
}

function kpi(key, value, { cls = "", note = "" } = {}) {
  return `<div class="kpi ${cls}" data-kpi="${key}"><span class="label">${t(key)}</span>`
    + `<span class="value">${value}</span>${note ? `<span class="note">${note}</span>` : ""}</div>`;
}

function renderTotals() {
  const o = state.overview;
  const s = state.summary;
  const v = state.placements?.violations;
  if (o) {
    const n = o.now;
    const use = n.pflops_capacity > 0 ? n.pflops_busy / n.pflops_capacity : 0;
    $("#kpi-now").innerHTML = kpi("powerNow", fmt.power(n.power_kw))
      + kpi("greenNow", fmt.pct(n.green_share), { cls: "green" })
      + kpi("carbonNow", fmt.carbon(n.carbon_kg_per_h) + t("perHour"))
      + kpi("costNow", fmt.money(n.cost_yuan_per_h) + t("perHour"))
      + kpi("computeInUse", fmt.pflops(n.pflops_busy),
            { note: `/ ${fmt.pflops(n.pflops_capacity)} · ${fmt.pct(use, 2)}` });
  }
  if (s) {
    $("#kpi-since").innerHTML = kpi("finished", fmt.num(s.finished))
      + kpi("energy", fmt.energy(s.energy_kwh))
      + kpi("greenShare", fmt.pct(s.green_share), { cls: "green" })
      + kpi("carbon", fmt.carbon(s.carbon_kg))
      + kpi("cost", fmt.money(s.cost_yuan));
    const carbonShare = s.baseline_carbon_kg > 0 ? s.carbon_saved_kg / s.baseline_carbon_kg : 0;
    const costShare = s.baseline_cost_yuan > 0 ? s.cost_saved_yuan / s.baseline_cost_yuan : 0;
    $("#kpi-saved").innerHTML = kpi("baselineCarbon", fmt.carbon(s.baseline_carbon_kg))
      + kpi("baselineCost", fmt.money(s.baseline_cost_yuan))
      + kpi("carbonSaved", fmt.carbon(s.carbon_saved_kg),
            { cls: s.carbon_saved_kg >= 0 ? "green" : "bad", note: fmt.pct(carbonShare) })
      + kpi("costSaved", fmt.money(s.cost_saved_yuan),
            { cls: s.cost_saved_yuan >= 0 ? "green" : "bad", note: fmt.pct(costShare) });
  }
  if (v) {
    $("#kpi-violations").innerHTML = kpi("latencyViolations", fmt.num(v.latency),
                                         { cls: v.latency > 0 ? "bad" : "" })
      + kpi("lateJobs", fmt.num(v.late), { cls: v.late > 0 ? "bad" : "" })
      + kpi("rejectedJobs", fmt.num(v.rejected), { cls: v.rejected > 0 ? "bad" : "" });
  }
  const l = state.live;
  if (l) {
    const waiting = KINDS.map((k) => `${t(`kind.${k}`)} ${fmt.num(l.waiting_by_kind[k] ?? 0)}`);
    $("#queue-line").textContent = `${t("queue")}: ${waiting.join(" · ")}  |  `
      + `${t("deferred")}: ${fmt.num(l.deferred)}`;
  }
}

function poolCell(pool, kind) {
  if (!pool) return `<td class="pool none" data-kind="${kind}">—</td>`;
  const share = pool.capacity_units > 0 ? pool.busy_units / pool.capacity_units : 0;
  const width = Math.min(100, share * 100).toFixed(1);
  return `<td class="pool" data-kind="${kind}" data-busy="${pool.busy_units}" `
    + `data-capacity="${pool.capacity_units}"><div class="bar"><i style="width:${width}%"></i>`
    + `</div><span class="busy">${fmt.count(pool.busy_units)}</span> / `
    + `<span class="cap">${fmt.count(pool.capacity_units)}</span></td>`;
}

function renderSites() {
  const liveById = new Map((state.live?.sites ?? []).map((s) => [s.site, s]));
  const jobsById = new Map((state.overview?.sites ?? []).map((s) => [s.site, s]));
  const rows = state.sites.map((s) => {
    const l = liveById.get(s.id);
    const j = jobsById.get(s.id);
    const drained = l ? l.drained : s.drained;
    const unhealthy = l && l.healthy === false;
    const pools = new Map((l?.pools ?? []).map((p) => [p.kind, p]));
    const other = getLang() === "zh" ? s.name_en : s.name_zh;
    const badge = drained ? `<span class="badge bad">${t("drained")}</span>`
      : unhealthy ? `<span class="badge bad">${t("unhealthy")}</span>`
        : `<span class="badge ok">${t("active")}</span>`;
    const cls = [state.selected === s.id ? "selected" : "", drained ? "drained" : ""].join(" ");
    return `<tr data-site="${fmt.escapeHtml(s.id)}" class="${cls}" tabindex="0">`
      + `<th scope="row"><span class="name">${fmt.escapeHtml(siteName(s))}</span>`
      + `<small title="${fmt.escapeHtml(other)}">${fmt.escapeHtml(other)}</small></th>`
      + `<td class="num">${fmt.pflops(sitePflops(s))}</td>`
      + `<td class="num"><span class="chip" style="background:${greenColour(l?.green_share)}">`
      + `</span>${fmt.pct(l?.green_share)}</td>`
      + `<td class="num">${fmt.num(l?.intensity_g_per_kwh)}</td>`
      + `<td class="num">${fmt.power(l?.power_kw)}</td>`
      + KINDS.map((k) => poolCell(pools.get(k), k)).join("")
      + `<td class="num jobs">${fmt.num(j?.running_jobs ?? 0)} / ${fmt.num(j?.placed_jobs ?? 0)}`
      + `</td><td class="state">${badge}</td></tr>`;
  });
  $("#sites-table tbody").innerHTML = rows.join("");
}

function renderPlacements() {
  const list = state.placements?.placements ?? [];
  if (list.length === 0) {
    $("#placements-table tbody").innerHTML = `<tr class="empty"><td colspan="7">`
      + `${t("noPlacements")}</td></tr>`;
    return;
  }
  $("#placements-table tbody").innerHTML = list.map((p) => {
    const bad = p.latency_violation || p.late;
    let bound;
    if (p.rtt_bound_ms != null) {
      bound = `${fmt.ms(p.rtt_ms)} / ≤${fmt.ms(p.rtt_bound_ms)}`
        + (p.latency_violation ? ` <span class="badge bad">${t("latencyBad")}</span>` : "");
    } else {
      bound = `${fmt.ms(p.rtt_ms)} · ${t("deadline")} ${fmt.dateTime(runMs(p.deadline_s))}`
        + (p.late ? ` <span class="badge bad">${t("late")}</span>` : "");
    }
    return `<tr data-job="${fmt.escapeHtml(p.job)}" data-site="${fmt.escapeHtml(p.site)}" `
      + `class="${bad ? "violation" : ""}">`
      + `<td class="time">${fmt.dateTime(runMs(p.placed_s))}</td>`
      + `<td class="job">${fmt.escapeHtml(p.job)}</td>`
      + `<td>${fmt.escapeHtml(p.tenant)}</td>`
      + `<td class="route">${fmt.escapeHtml(regionName(p.origin))} → `
      + `<b>${fmt.escapeHtml(siteNameById(p.site))}</b></td>`
      + `<td>${t(`kind.${p.kind}`)} × ${fmt.num(p.units)}</td>`
      + `<td class="bound">${bound}</td>`
      + `<td class="reason" title="${fmt.escapeHtml(p.reason)}">`
      + `${fmt.escapeHtml(reasonText(p))}</td></tr>`;
  }).join("");
}

function renderDetail() {
  const site = state.sites.find((s) => s.id === state.selected);
  if (!site) return;
  const l = state.live?.sites.find((s) => s.site === site.id);
  const drained = l ? l.drained : site.drained;
  $("#detail-site").textContent = siteName(site);
  const badge = $("#detail-state");
  badge.textContent = drained ? t("drained") : t("active");
  badge.className = `badge ${drained ? "bad" : "ok"}`;
  const button = $("#drain-button");
  button.textContent = drained ? t("undrain") : t("drain");
  button.dataset.drained = drained ? "1" : "0";
  const key = `${site.id}|${getLang()}|${site.pools.map((p) => p.capacity_units).join(",")}`;
  if (key !== state.formKey) {  // rebuilt only when it changes: never under the user's typing
    state.formKey = key;
    $("#capacity-fields").innerHTML = site.pools.map((p) => `<label>`
      + `<span>${t(`kind.${p.kind}`)} <small>${t(`unitOf.${p.kind}`)}</small></span>`
      + `<input type="text" inputmode="numeric" autocomplete="off" name="${p.kind}" `
      + `value="${p.capacity_units}" data-current="${p.capacity_units}" `
      + `placeholder="${fmt.escapeHtml(t("capEmptyHelp"))}" `
      + `title="${fmt.escapeHtml(t("capEmptyHelp"))}"></label>`).join("");
  }
  if (state.series) charts.render(state.series, site.id, scale());
}

// the national providers table, and the selected site's providers in its panel
function renderProviders() {
  const p = state.providers;
  $("#providers-table tbody").innerHTML = p ? providerRows(p.national, { national: true }) : "";
  $("#detail-providers-table tbody").innerHTML = p && state.selected
    ? providerRows(p.providers.filter((r) => r.site === state.selected)) : "";
}

function render() {
  renderHeader();
  renderTotals();
  renderSites();
  renderPlacements();
  renderDetail();
  renderProviders();
  map.render({ sites: state.sites, live: state.live, regions: state.regions,
               overview: state.overview, scale: scale() });
  document.body.dataset.updatedAt = String(state.overview?.now_s ?? "");
  document.body.dataset.ready = "1";
}

// ---- data --------------------------------------------------------------------------------

async function loadSeries(gen) {
  const series = await api("/v1/dashboard/series?hours_back=24&hours_ahead=24");
  if (gen !== generation) return;
  state.series = series;
  state.seriesAt = Date.now();
  renderDetail();
}

async function poll() {
  clearTimeout(timer);
  if (!running) return;
  const gen = generation;
  try {
    const [live, overview, summary, placements, providers] = await Promise.all([
      api("/v1/live"), api("/v1/dashboard/overview"), api("/v1/summary"),
      api("/v1/dashboard/placements?limit=15"), api("/v1/providers"),
    ]);
    if (gen !== generation || !running) return;  // logged out meanwhile
    Object.assign(state, { live, overview, summary, placements, providers });
    state.online = true;
    render();
    if (Date.now() - state.seriesAt > SERIES_MS) await loadSeries(gen);
  } catch (err) {
    if (gen !== generation) return;
    if (handleAuthError(err)) return;
    state.online = false;
    renderConnection();
  }
  if (gen === generation && running) timer = setTimeout(poll, POLL_MS);
}

// Stop polling and empty every view: nothing of the last operator's data stays on the page.
function stopAndClear() {
  running = false;
  generation += 1;
  clearTimeout(timer);
  Object.assign(state, { sites: [], regions: [], live: null, overview: null, summary: null,
                         placements: null, series: null, seriesAt: 0, formKey: "",
                         providers: null });
  for (const sel of ["#kpi-now", "#kpi-since", "#kpi-saved", "#kpi-violations",
                     "#sites-table tbody", "#placements-table tbody", "#capacity-fields",
                     "#providers-table tbody", "#detail-providers-table tbody"]) {
    $(sel).innerHTML = "";
  }
  for (const sel of ["#queue-line", "#detail-site", "#detail-state", "#drain-button",
                     "#action-status", "#policy-name", "#run-clock", "#run-day",
                     "#clock-speed"]) {
    $(sel).textContent = "";
  }
  $("#detail-state").className = "badge";
  map.clear();
  charts.clear();
  delete document.body.dataset.ready;
  delete document.body.dataset.updatedAt;
  renderConnection();
}

function handleAuthError(err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    stopAndClear();
    showLogin(err.status === 401 ? t("loginBad") : t("loginNotOperator"));
    return true;
  }
  return false;
}

async function start() {
  const gen = generation;
  try {
    const [sites, regions] = await Promise.all([api("/v1/sites"), api("/v1/regions")]);
    await api("/v1/dashboard/overview");  // an operator token? (the views need one)
    if (gen !== generation) return;
    Object.assign(state, { sites, regions });
  } catch (err) {
    if (!handleAuthError(err)) showLogin(`${t("offline")}: ${describeError(err)}`);
    return;
  }
  if (!state.selected || !state.sites.some((s) => s.id === state.selected)) {
    state.selected = [...state.sites].sort((a, b) => sitePflops(b) - sitePflops(a))[0]?.id;
  }
  $("#login").hidden = true;
  running = true;
  state.seriesAt = 0;
  await poll();
}

function showLogin(message = "") {
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#token-input").focus();
}

// ---- operator actions --------------------------------------------------------------------

async function patchSite(body) {
  const status = $("#action-status");
  const id = state.selected;
  try {
    const updated = await api(`/v1/sites/${encodeURIComponent(id)}`, { method: "PATCH", body });
    state.sites = state.sites.map((s) => (s.id === updated.id ? updated : s));
    const notes = (updated.warnings ?? []).map((w) => ` · ${t("note")}: ${w}`).join("");
    setStatus(status, `${t("updated")}: ${siteName(updated)}${notes}`);
    state.seriesAt = 0;
    await poll();
  } catch (err) {
    if (!handleAuthError(err)) setStatus(status, `${t("actionFailed")}: ${describeError(err)}`, true);
  }
}

// What the capacity form asks for: an empty field or the current value leaves a pool as it
// is; anything else must be a whole number from 0 to the most the service allows (100 x the
// installed units). A cut below the units busy now is asked about first, as drain is.
function capacityChanges() {
  const site = state.sites.find((s) => s.id === state.selected);
  const facts = state.overview?.sites.find((s) => s.site === state.selected);
  const live = state.live?.sites.find((s) => s.site === state.selected);
  const changes = {};
  const confirmations = [];
  for (const input of $("#capacity-fields").querySelectorAll("input")) {
    const text = input.value.trim();
    const kind = t(`kind.${input.name}`);
    if (text === "" || text === input.dataset.current) continue;
    if (!/^[0-9]+$/.test(text)) {
      input.focus();
      return { error: t("capNotInteger", { kind, value: text }) };
    }
    const units = Number(text);
    const max = facts?.max_capacity_units?.[input.name];
    if (!Number.isSafeInteger(units) || (max != null && units > max)) {
      input.focus();
      return { error: t("capTooLarge", { kind, value: fmt.num(units), max: fmt.num(max) }) };
    }
    const busy = live?.pools.find((p) => p.kind === input.name)?.busy_units ?? 0;
    if (units < busy) {
      confirmations.push(t("capBelowBusy", { site: siteName(site), kind,
                                              from: fmt.num(Number(input.dataset.current)),
                                              to: fmt.num(units), busy: fmt.num(busy) }));
    }
    changes[input.name] = units;
  }
  return { changes, confirmations };
}

function selectSite(id) {
  if (!state.sites.some((s) => s.id === id)) return;
  state.selected = id;
  setStatus($("#action-status"), "");
  renderSites();
  renderDetail();
}

function wire() {
  $("#lang-toggle").addEventListener("click", () => setLang(getLang() === "zh" ? "en" : "zh"));
  onLangChange(() => {
    map.init();
    charts.init();
    state.formKey = "";
    if (state.overview) render();
  });
  $("#logout").addEventListener("click", () => {
    clearToken();
    stopAndClear();
    showLogin();
  });
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setToken($("#token-input").value);
    $("#token-input").value = "";
    start();
  });
  $("#sites-table tbody").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-site]");
    if (row) selectSite(row.dataset.site);
  });
  $("#sites-table tbody").addEventListener("keydown", (ev) => {
    const row = ev.target.closest("tr[data-site]");
    if (row && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      selectSite(row.dataset.site);
    }
  });
  $("#drain-button").addEventListener("click", () => {
    const drain = $("#drain-button").dataset.drained !== "1";
    if (drain && !confirm(t("drainConfirm", { site: siteNameById(state.selected) }))) return;
    patchSite({ drained: drain });
  });
  $("#capacity-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const result = capacityChanges();
    if (result.error) {
      setStatus($("#action-status"), result.error, true);
      return;
    }
    if (Object.keys(result.changes).length === 0) {
      setStatus($("#action-status"), t("capNothing"));
      return;
    }
    for (const question of result.confirmations) if (!confirm(question)) return;
    patchSite({ capacity_units: result.changes });
  });
  // the charts follow their boxes (the grid moves them as the window or the tables change)
  let resizeTimer = null;
  const resized = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      map.resize();
      charts.resize();
      if (state.overview) render();
    }, 150);
  };
  const observer = new ResizeObserver(resized);
  for (const el of [$("#map"), $("#chart-energy"), $("#chart-load")]) observer.observe(el);
}

async function main() {
  applyStatic();
  takeTokenFromHash();
  // canvas text (the charts) needs the bundled CJK font loaded before it is drawn
  await Promise.all([document.fonts.load('400 16px "Suanwang Sans SC"', "算网"),
                     document.fonts.load('700 16px "Suanwang Sans SC"', "算网"),
                     registerChinaMap()]);
  map = new NetworkMap($("#map"), { reducedMotion, onSelect: selectSite });
  charts = new SiteCharts($("#chart-energy"), $("#chart-load"), { reducedMotion });
  new GridPanel($("#chart-grid-flex"), $("#grid-events"), $("#grid-flex-title"),  // grid.js
                { reducedMotion, site: () => (running ? state.selected : null) });
  wire();
  window.suanwang = { state, drawnSites: () => map.drawnSites(),
                      labelBoxes: () => map.labelBoxes(), mapOption: () => map.chart.getOption(),
                      chartStats: () => ({ ...charts.stats }), money: fmt.money };
  if (token()) await start();
  else {
    renderConnection();
    showLogin();
  }
}

// echarts.min.js is a deferred classic script: it has run before this module executes
main();
