// Numbers, durations and times as a screen shows them.

import { lang } from "./i18n.js";

const locale = () => (lang === "zh" ? "zh-CN" : "en-GB");

export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

export function percent(ratio) {
  if (ratio == null || !Number.isFinite(ratio)) return "–";
  return `${(ratio * 100).toFixed(1)}%`;
}

export function number(value, digits = 0) {
  if (value == null || !Number.isFinite(value)) return "–";
  return value.toLocaleString(locale(), { maximumFractionDigits: digits });
}

export function clock(date, timeZone) {
  return date.toLocaleTimeString(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
    ...(timeZone ? { timeZone } : {}),
  });
}

export function shortTime(date, timeZone) {
  return date.toLocaleTimeString(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    ...(timeZone ? { timeZone } : {}),
  });
}
