// The factory board: every line as a tile (andon, OEE of the shift so far, target vs actual,
// operators present, material alerts). Tiles refresh every 15 s: a live feed per line would
// take one connection per tile, and a browser opens at most six to one server.

import { allLines, getJson, linePath, pageLink, shiftSoFar } from "./api.js";
import { el } from "./dom.js";
import { number, percent } from "./format.js";
import { ANDON_SHAPES, andonLabel, t } from "./i18n.js";
import { Screen } from "./screen.js";

const REFRESH_MS = 15000;
const [, , factory] = location.pathname.split("/").map(decodeURIComponent);
const screen = new Screen();
const board = document.getElementById("board");

async function tileData(item) {
  const [status, shift] = await Promise.all([
    getJson(`${linePath(item.factory, item.line)}/status`),
    shiftSoFar(item.factory, item.line).catch(() => null),
  ]);
  return { item, status, shift };
}

function tile({ item, status, shift }) {
  const order = status.order;
  const alerts = status.materials.filter((m) => m.shortage).length;
  return el("a", { class: `tile andon-${status.andon}`, href: pageLink(`/boards/${item.factory}/${item.line}`), "data-line": item.line },
    el("div", { class: "name", text: item.name ?? item.line }),
    el("div", { class: "andon" },
      el("span", { class: "shape", "aria-hidden": "true", text: ANDON_SHAPES[status.andon] ?? "?" }),
      ` ${andonLabel(status.andon)}`),
    el("div", { class: "stats" },
      el("span", { text: `${t("oee")}: ${percent(shift?.figures?.oee)}` }),
      el("span", { text: order ? `${number(order.good_count)} / ${number(order.target_quantity)}` : t("no_order") }),
      el("span", { text: `${t("operators_count")}: ${status.operators.length}` }),
      el("span", { text: alerts ? `⚠ ${t("alerts")}: ${alerts}` : `${t("alerts")}: 0` })));
}

async function refresh() {
  try {
    const lines = (await allLines()).filter((item) => item.factory === factory);
    const tiles = await Promise.all(lines.map(tileData));
    board.replaceChildren(tiles.length
      ? el("div", { class: "tiles" }, tiles.map(tile))
      : el("p", { class: "muted", text: t("no_lines") }));
    screen.showError(null);
    screen.markLive();
  } catch (error) {
    screen.markStale(new Date());
    if (error.status) screen.showError(error);
  }
}

document.getElementById("title").textContent = `${t("factory")} ${factory}`;
screen.tick();
setInterval(() => screen.tick(), 1000);
refresh();
setInterval(refresh, REFRESH_MS);
