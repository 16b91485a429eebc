// The providers' tables (issue 12, multi-cloud monitoring): per provider its units busy and
// installed per kind, jobs, revenue, and the measured service level beside the promised one.
// `providerRows` draws the rows of one site's providers (the site panel) or of the national
// view (one row per provider across its sites), from GET /v1/providers.

import * as fmt from "./format.js";
import { getLang, t } from "./i18n.js";

const KINDS = ["general", "intelligent", "hpc"];

function providerName(p) {
  return getLang() === "zh" ? p.name_zh : p.name_en;
}

// run seconds, short: "9秒" / "9 s", "1.5分钟" / "1.5 min", "2小时" / "2 h"
export function seconds(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "—";
  const zh = getLang() === "zh";
  if (s < 120) return zh ? `${fmt.num(s, 1)}秒` : `${fmt.num(s, 1)} s`;
  if (s < 7200) return zh ? `${fmt.num(s / 60, 1)}分钟` : `${fmt.num(s / 60, 1)} min`;
  return zh ? `${fmt.num(s / 3600, 1)}小时` : `${fmt.num(s / 3600, 1)} h`;
}

function unitsCell(units) {
  const byKind = new Map(units.map((u) => [u.kind, u]));
  const parts = KINDS.filter((k) => byKind.has(k) && byKind.get(k).installed_units > 0)
    .map((k) => {
      const u = byKind.get(k);
      return `<span class="pu" data-kind="${k}" data-busy="${u.busy_units}" `
        + `data-installed="${u.installed_units}">${t(`kind.${k}`)} `
        + `${fmt.count(u.busy_units)} / ${fmt.count(u.installed_units)}</span>`;
    });
  return `<td class="units">${parts.join("<br>") || "—"}</td>`;
}

function availabilityCell(measured, promisedMin) {
  const m = measured.availability;
  const short = typeof m === "number" && m + 1e-12 < promisedMin;
  return `<td class="num avail${short ? " short" : ""}" data-measured="${m ?? ""}">`
    + `${fmt.pct(m, 2)} <small>/ ≥${fmt.pct(promisedMin, 2)}</small>`
    + (short ? ` <span class="badge bad">${t("slaMissed")}</span>` : "") + `</td>`;
}

function startCell(measured, promisedS) {
  if (!measured.start_samples) {
    return `<td class="num start" data-samples="0">— <small>/ ≤${seconds(promisedS)}</small></td>`;
  }
  const share = measured.start_within_share;
  return `<td class="num start" data-samples="${measured.start_samples}" `
    + `data-p95="${measured.start_p95_s}">${seconds(measured.start_p50_s)} · `
    + `${seconds(measured.start_p95_s)} <small>/ ≤${seconds(promisedS)}</small><br>`
    + `<small>${t("startWithin", { share: fmt.pct(share, 0), n: fmt.num(measured.start_samples) })}`
    + `</small></td>`;
}

// The rows of a providers table; `national`: rows of GET /v1/providers' `national` list.
export function providerRows(rows, { national = false } = {}) {
  if (!rows || rows.length === 0) {
    return `<tr class="empty"><td colspan="${national ? 7 : 6}">${t("noProviders")}</td></tr>`;
  }
  return rows.map((p) => {
    const other = getLang() === "zh" ? p.name_en : p.name_zh;
    const promised = p.sla.promised;
    const availMin = national ? promised.availability_min : promised.availability;
    const startMax = national ? promised.start_s_max : promised.start_s;
    const jobs = p.jobs;
    const key = national ? p.provider : p.id;
    return `<tr data-provider="${fmt.escapeHtml(key)}">`
      + `<th scope="row"><span class="name">${fmt.escapeHtml(providerName(p))}</span>`
      + `<small title="${fmt.escapeHtml(other)}">${fmt.escapeHtml(other)}</small></th>`
      + (national ? `<td class="num sites-n">${fmt.num(p.sites.length)}</td>` : "")
      + unitsCell(p.units)
      + `<td class="num jobs">${jobs ? `${fmt.num(jobs.running)} / ${fmt.num(jobs.placed)}`
        + ` / ${fmt.num(jobs.finished)}` : "—"}</td>`
      + `<td class="num revenue" data-yuan="${p.revenue_yuan ?? ""}">`
      + `${fmt.money(p.revenue_yuan)}</td>`
      + availabilityCell(p.sla.measured, availMin)
      + startCell(p.sla.measured, startMax) + `</tr>`;
  }).join("");
}
