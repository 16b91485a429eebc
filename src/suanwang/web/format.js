// Numbers the way each language writes them: Chinese counts in 万 (10^4) and 亿 (10^8)
// ("2.4万P", "12.35万千瓦时"); English groups thousands ("24,000 P", "123,456 kWh") and
// moves to larger units (MWh, t) instead.

import { getLang, locale, t } from "./i18n.js";

const cache = new Map();

function nf(opts) {
  const key = locale() + JSON.stringify(opts);
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale(), opts);
    cache.set(key, f);
  }
  return f;
}

function finite(x) {
  return typeof x === "number" && Number.isFinite(x);
}

// A plain number: Chinese uses 万/亿 from 10,000 on; English groups thousands.
export function num(x, digits = 0) {
  if (!finite(x)) return "—";
  if (getLang() === "zh" && Math.abs(x) >= 1e4) {
    return nf({ notation: "compact", maximumFractionDigits: 2 }).format(x);
  }
  return nf({ maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(x);
}

// A count short enough for a table cell: exact below 10,000 (zh) or 100,000 (en), else to 3
// significant figures in 万/亿 ("2310万") or k/M ("23.1M").
export function count(x) {
  if (!finite(x)) return "—";
  const zh = getLang() === "zh";
  if (Math.abs(x) < (zh ? 1e4 : 1e5)) return num(x);
  return nf({ notation: "compact", maximumSignificantDigits: 3 }).format(x);
}

export function pct(share, digits = 1) {
  if (!finite(share)) return "—";
  return nf({ style: "percent", maximumFractionDigits: digits,
              minimumFractionDigits: digits }).format(share);
}

export function energy(kwh) {
  if (!finite(kwh)) return "—";
  if (getLang() === "zh") return `${num(kwh, 1)}千瓦时`;
  if (Math.abs(kwh) < 1e4) return `${num(kwh, 1)} kWh`;
  if (Math.abs(kwh) < 1e7) return `${num(kwh / 1e3, 1)} MWh`;
  return `${num(kwh / 1e6, 2)} GWh`;
}

export function power(kw) {
  if (!finite(kw)) return "—";
  if (getLang() === "zh") return `${num(kw, 1)}千瓦`;
  if (Math.abs(kw) < 1e4) return `${num(kw, 1)} kW`;
  return `${num(kw / 1e3, 1)} MW`;
}

export function carbon(kg) {
  if (!finite(kg)) return "—";
  const zh = getLang() === "zh";
  if (Math.abs(kg) < 1000) return zh ? `${num(kg, 1)}千克` : `${num(kg, 1)} kg`;
  return zh ? `${num(kg / 1000, 2)}吨` : `${num(kg / 1000, 2)} t`;
}

// x to `digits` significant figures, as a plain decimal ("538", "53.8", "0.0123")
function sig(x, digits) {
  return nf({ maximumSignificantDigits: digits, useGrouping: false }).format(x);
}

// Money to 3 significant figures, in the reader's units: "¥53.8万" and "¥1.23亿" in Chinese,
// "¥538k", "¥1.23M" and "¥4.56B" in English (the inputs are estimates: no false cents).
export function money(yuan) {
  if (!finite(yuan)) return "—";
  const sign = yuan < 0 ? "−" : "";
  const a = Math.abs(yuan);
  const steps = getLang() === "zh" ? [[1e8, "亿"], [1e4, "万"]]
    : [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
  for (const [size, suffix] of steps) {
    // 999,950 rounds to 1000k at 3 figures: it is written 1M
    if (Number(sig(a / size, 3)) >= 1) return `${sign}¥${sig(a / size, 3)}${suffix}`;
  }
  return `${sign}¥${sig(a, 3)}`;
}

export function pflops(p) {
  if (!finite(p)) return "—";
  return getLang() === "zh" ? `${num(p, 1)}P` : `${num(p, 1)} P`;
}

export function intensity(g) {
  if (!finite(g)) return "—";
  return `${num(g, 0)} ${t("intensityUnit")}`;
}

export function ms(x) {
  if (!finite(x)) return "—";
  return getLang() === "zh" ? `${num(x, 1)}毫秒` : `${num(x, 1)} ms`;
}

// Run-clock instants are shown in Beijing time, as the operators read them.
const TZ = "Asia/Shanghai";

export function dateTime(epochMs) {
  if (!finite(epochMs)) return "—";
  return new Intl.DateTimeFormat(locale(), {
    timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hour12: false,
  }).format(new Date(epochMs));
}

export function clockTime(epochMs) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(new Date(epochMs));
}

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}
