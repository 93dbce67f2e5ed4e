// The line board: the screen beside the line.
//
// Data: /status on every `changed` of the live feed; the shift's OEE (/efficiency), its top
// downtime reasons (/downtime) and the line's settings (reorder points) at most every 30 s.
// Between refreshes the timers tick on the client; while the feed is lost the figures are
// greyed and marked "stale since".

import { ApiError, feedUrl, getJson, linePath, shiftSoFar } from "./api.js";
import { el } from "./dom.js";
import { LiveFeed } from "./feed.js";
import { duration, number, percent, shortTime } from "./format.js";
import { ANDON_SHAPES, andonLabel, cardLabel, orderLabel, stateLabel, t } from "./i18n.js";
import { Screen } from "./screen.js";

const FIGURES_EVERY_MS = 30000;
const [, , factory, line] = location.pathname.split("/").map(decodeURIComponent);
const base = linePath(factory, line);
const screen = new Screen();
const board = document.getElementById("board");
const banner = document.getElementById("andon-banner");

const view = {
  status: null, // the last /status answer
  fetchedAt: 0, // Date.now() when it came
  shift: null, // {name, start, end, figures}
  downtime: null, // the /downtime answer, or null where it failed
  orders: null, // the /orders answer (work-order cards), or null where it failed
  figuresAt: 0,
  feedLive: false,
  busy: false,
  again: false,
  levels: {}, // the highest level seen per material: the scale of its bar
  reorderPoints: {}, // material_id: reorder point, from the line's settings (`materials`)
};

function andonBadge(level) {
  return el("span", { class: "andon-text" },
    el("span", { class: "shape", "aria-hidden": "true", text: ANDON_SHAPES[level] ?? "?" }),
    ` ${andonLabel(level)}`);
}

/** Seconds since the answer, frozen while stale. */
function elapsedS() {
  if (!view.fetchedAt) return 0;
  return Math.max(0, (screen.figuresNow().getTime() - view.fetchedAt) / 1000);
}

function stationTile(station) {
  const timer = station.state_for_s == null ? null : station.state_for_s + elapsedS();
  return el("section", { class: `station andon-${station.andon}`, "data-station": station.station, "data-andon": station.andon },
    el("div", { class: "name", text: station.station }),
    el("div", { class: "state" }, andonBadge(station.andon),
      stateLabel(station.state) === andonLabel(station.andon) ? null
        : el("span", { class: "machine", text: ` · ${stateLabel(station.state)}` })),
    el("div", { class: "timer", text: duration(timer) }),
    el("div", { class: "reason", text: station.reason ?? "" }),
    station.performance_10min == null ? null
      : el("div", { class: "perf", text: `${t("slow")}: ${percent(station.performance_10min)}` }));
}

function stat(label, value, cls = "") {
  return el("div", {}, el("span", { class: "label", text: label }), el("span", { class: `value ${cls}`, text: value }));
}

function orderPanel(order) {
  const panel = el("section", { class: "panel order", id: "order" }, el("h2", { text: t("order") }));
  if (!order) {
    panel.append(el("div", { class: "muted", text: t("no_order") }));
    return panel;
  }
  const target = order.target_quantity || 0;
  const fill = target ? Math.min(100, (100 * order.good_count) / target) : 0;
  const mark = target && order.expected_count != null ? Math.min(100, (100 * order.expected_count) / target) : null;
  const finish = order.projected_finish ? shortTime(new Date(order.projected_finish), screen.timeZone) : "–";
  panel.append(
    el("div", { class: "muted", text: `${order.order_id}${order.product_id ? ` · ${order.product_id}` : ""}${order.status === "done" ? ` · ${t("order_done")}` : ""}` }),
    el("div", { class: "pair" },
      stat(t("target"), number(target)),
      stat(t("actual"), number(order.good_count)),
      stat(t("efficiency"), percent(order.efficiency)),
      stat(t("projected_finish"), finish)),
    el("div", { class: "progress", role: "img", "aria-label": `${number(order.good_count)} / ${number(target)}` },
      el("div", { class: "fill", style: { width: `${fill}%` } }),
      mark == null ? null : el("div", { class: "mark", style: { left: `${mark}%` } })),
    el("div", { class: "muted num", text: `${t("expected")}: ${number(order.expected_count)} · ${t("remaining")}: ${number(order.remaining)}` }));
  return panel;
}

function oeePanel(shift) {
  const label = shift ? (shift.name ? `${t("shift")} ${shift.name}` : t("last_8h")) : "";
  const f = shift?.figures ?? {};
  return el("section", { class: "panel oee", id: "oee" },
    el("h2", { text: `${t("oee")} · ${label}` }),
    el("div", { class: "pair" },
      stat(t("oee"), percent(f.oee), "big"),
      stat(t("availability"), percent(f.availability)),
      stat(t("performance"), percent(f.performance)),
      stat(t("quality"), percent(f.quality))));
}

function downtimePanel(downtime) {
  const panel = el("section", { class: "panel reasons", id: "downtime" }, el("h2", { text: t("downtime") }));
  const reasons = (downtime?.by_reason ?? []).slice(0, 5);
  if (!reasons.length) {
    panel.append(el("div", { class: "muted", text: downtime ? t("no_downtime") : "–" }));
    return panel;
  }
  const longest = Math.max(...reasons.map((r) => r.duration_s), 1);
  for (const reason of reasons) {
    panel.append(el("div", { class: "bar-row" },
      el("span", { text: reason.reason ?? stateLabel(reason.state) }),
      el("div", { class: "bar", style: { width: `${(100 * reason.duration_s) / longest}%` } }),
      el("span", { class: "num", text: duration(reason.duration_s) })));
  }
  return panel;
}

function operatorsPanel(operators) {
  const list = el("ul", { class: "rows" });
  for (const op of operators) {
    list.append(el("li", { "data-operator": op.operator_id },
      el("span", { text: `${op.operator_id}${op.role ? ` (${op.role})` : ""}` }),
      el("span", { class: "muted", text: op.station }),
      el("span", { class: "num", text: duration(op.present_for_s + elapsedS()) })));
  }
  return el("section", { class: "panel", id: "operators" },
    el("h2", { text: `${t("operators")} · ${operators.length}` }),
    operators.length ? list : el("div", { class: "muted", text: t("no_operator") }));
}

/** "short" (a shortage reported), "low" (at or below its reorder point) or "ok". */
function stockLevel(m) {
  if (m.shortage) return "short";
  const reorder = view.reorderPoints[m.material_id];
  return reorder != null && m.quantity != null && m.quantity <= reorder ? "low" : "ok";
}

function materialsPanel(materials) {
  const list = el("ul", { class: "rows" });
  for (const m of materials) {
    const key = `${m.station}/${m.material_id}`;
    view.levels[key] = Math.max(view.levels[key] ?? 0, m.quantity ?? 0);
    const scale = view.levels[key] || 1;
    const width = m.quantity == null ? 0 : Math.max(0, Math.min(100, (100 * m.quantity) / scale));
    const level = stockLevel(m);
    list.append(el("li", { "data-material": m.material_id, "data-level": level },
      el("span", { text: m.material_id }),
      el("div", { class: "level", role: "img", "aria-label": `${Math.round(width)}%` },
        el("div", { class: `fill stock-${level}`, style: { width: `${width}%` } })),
      el("span", { class: "num", text: `${number(m.quantity, 1)} ${m.unit ?? ""}` }),
      level === "short" ? el("span", { class: "shortage", text: `⚠ ${t("shortage")}` })
        : level === "low" ? el("span", { class: "low-stock", text: `▼ ${t("low_stock")}` }) : null));
  }
  return el("section", { class: "panel", id: "materials" },
    el("h2", { text: t("materials") }),
    materials.length ? list : el("div", { class: "muted", text: t("no_material") }));
}

function cardsPanel(cards) {
  const list = el("div", { class: "line-cards" });
  for (const card of cards ?? []) {
    list.append(el("article", { class: `card card-${card.status}`, "data-card": card.id, "data-status": card.status },
      el("div", { class: "card-status", text: cardLabel(card.status) }),
      el("div", { class: "card-material", text: card.material_id }),
      el("div", { class: "num", text: `${number(card.quantity, 1)} ${card.unit ?? ""} · ${duration(card.age_s + elapsedS())}` })));
  }
  return el("section", { class: "panel", id: "cards" },
    el("h2", { text: `${t("kanban_cards")} · ${(cards ?? []).length}` }),
    (cards ?? []).length ? list : el("div", { class: "muted", text: t("no_card") }));
}

function orderCardsPanel(orders) {
  const list = el("ul", { class: "order-cards" });
  for (const order of (orders?.orders ?? []).slice(0, 6)) {
    list.append(el("li", { class: `order-${order.status}`, "data-order": order.order_id },
      el("span", { text: `${order.order_id}${order.product_id ? ` · ${order.product_id}` : ""}` }),
      el("span", { class: "num", text: `${number(order.good_count)} / ${number(order.target_quantity)}` }),
      el("span", { text: orderLabel(order.status) })));
  }
  return el("section", { class: "panel", id: "order-cards" },
    el("h2", { text: t("orders") }),
    list.childElementCount ? list : el("div", { class: "muted", text: orders ? t("no_order") : "–" }));
}

function renderBanner(status) {
  const late = (status?.stations ?? []).filter((s) => s.andon === "stopped_too_long");
  if (late.length) {
    banner.textContent = `✖ ${t("andon_banner")}: ${late
      .map((s) => `${s.station}${s.reason ? ` (${s.reason})` : ""} ${duration(s.state_for_s + elapsedS())}`)
      .join(" · ")}`;
    banner.hidden = false;
  } else if (status?.stale && status.stations.length) {
    banner.textContent = `? ${t("no_signal_banner")}`;
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

function render() {
  screen.tick();
  const status = view.status;
  if (!status) return;
  document.getElementById("title").textContent = status.name ?? status.line;
  document.getElementById("subtitle").textContent = `${status.factory} / ${status.line} · ${andonLabel(status.andon)}`;
  document.getElementById("shift").textContent = view.shift
    ? (view.shift.name ? `${t("shift")} ${view.shift.name}` : t("last_8h")) : "";
  document.title = `${status.name ?? status.line} · floorstream`;
  renderBanner(status);
  board.replaceChildren(el("div", { class: "line-grid" },
    el("section", {},
      el("h2", { text: t("stations") }),
      el("div", { class: "stations", id: "stations" }, status.stations.map(stationTile))),
    el("div", { class: "figures" },
      orderPanel(status.order),
      oeePanel(view.shift),
      downtimePanel(view.downtime),
      el("div", { class: "lists" }, operatorsPanel(status.operators), materialsPanel(status.materials)),
      el("div", { class: "lists" }, cardsPanel(status.cards), orderCardsPanel(view.orders)))));
}

/** The line's settings: the clock's time zone and the materials' reorder points. */
async function readSettings() {
  try {
    const settings = (await getJson(base)).settings;
    if (settings?.timezone) screen.timeZone = settings.timezone;
    view.reorderPoints = Object.fromEntries(
      Object.entries(settings?.materials ?? {}).map(([id, kanban]) => [id, kanban.reorder_point]));
  } catch {
    // the clock falls back to the screen's own time zone; the reorder points stay as they were
  }
}

async function refreshFigures() {
  const now = new Date();
  view.figuresAt = Date.now();
  await readSettings(); // settings change rarely: read again with the figures
  try {
    view.shift = await shiftSoFar(factory, line, now);
  } catch (error) {
    view.shift = null;
  }
  try {
    view.downtime = await getJson(`${base}/downtime`, { start: view.shift?.start ?? new Date(now - 8 * 3600e3).toISOString(), end: now.toISOString() });
  } catch {
    view.downtime = null; // the call is optional for the board: show "–"
  }
}

async function refresh() {
  if (view.busy) {
    view.again = true; // a notice during a refresh: one more refresh after it, not one each
    return;
  }
  view.busy = true;
  try {
    do {
      view.again = false;
      try {
        view.status = await getJson(`${base}/status`);
        view.fetchedAt = Date.now();
        view.orders = await getJson(`${base}/orders`).catch(() => null); // optional: "–"
        if (Date.now() - view.figuresAt >= FIGURES_EVERY_MS) await refreshFigures();
        screen.showError(null);
        if (view.feedLive) screen.markLive();
      } catch (error) {
        screen.markStale(new Date());
        if (error instanceof ApiError && error.status !== 0) screen.showError(error);
      }
      render();
    } while (view.again);
  } finally {
    view.busy = false;
  }
}

async function start() {
  await readSettings();
  const feed = new LiveFeed(feedUrl(`${base}/live`), {
    onChanged: refresh,
    onStatus: ({ live, lostSince }) => {
      view.feedLive = live;
      if (!live) {
        screen.markStale(lostSince);
        render();
      }
    },
  });
  feed.start();
  setInterval(() => {
    render();
    if (view.feedLive && Date.now() - view.figuresAt >= FIGURES_EVERY_MS) refresh();
  }, 1000);
  render();
}

start();
