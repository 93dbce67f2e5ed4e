// The warehouse's kanban board: every open material replenishment card of the factory, in a
// column per status (requested, in transit, delivered), each with a button that moves it on.
//
// Data: /kanban/cards every 5 s (polled: the factory has no feed of its own, and a feed per
// line would take one connection per line, a browser opening at most six to one server),
// and at once after an advance. Ages tick on the client between polls.

import { ApiError, getJson, kanbanPath, postJson } from "./api.js";
import { el } from "./dom.js";
import { duration, number } from "./format.js";
import { cardLabel, t } from "./i18n.js";
import { Screen } from "./screen.js";

const REFRESH_MS = 5000;
const COLUMNS = ["requested", "in_transit", "delivered"];
const NEXT = { requested: "in_transit", in_transit: "delivered" };
const [, , factory] = location.pathname.split("/").map(decodeURIComponent);
const base = kanbanPath(factory);
const screen = new Screen();
const board = document.getElementById("board");
const view = { cards: [], fetchedAt: 0, busy: false, again: false };

function elapsedS() {
  return view.fetchedAt ? Math.max(0, (screen.figuresNow().getTime() - view.fetchedAt) / 1000) : 0;
}

function ageText(ageS) {
  return `${t("age")} ${duration(ageS + elapsedS())}`;
}

async function advance(card, button) {
  button.disabled = true;
  try {
    await postJson(`${base}/${card.id}/advance`);
    screen.showError(null);
  } catch (error) {
    screen.showError(error);
  }
  await refresh();
}

function cardNode(card) {
  const next = NEXT[card.status];
  const button = next
    ? el("button", { class: "advance", type: "button", text: t("advance_to", { status: cardLabel(next) }) })
    : el("div", { class: "awaiting", text: t("awaiting_replenished") });
  if (next) button.addEventListener("click", () => advance(card, button));
  return el("article", { class: `card card-${card.status}`, "data-card": card.id, "data-status": card.status },
    el("div", { class: "card-status", text: cardLabel(card.status) }),
    el("div", { class: "card-material", text: card.material_id }),
    el("div", { class: "card-line", text: `${t("line")} ${card.line}${card.station ? ` · ${card.station}` : ""}` }),
    el("div", { class: "card-quantity num", text: `${number(card.quantity, 1)} ${card.unit ?? ""}`.trim() }),
    el("div", { class: "card-age num", "data-age-s": card.age_s, text: ageText(card.age_s) }),
    button);
}

function render() {
  screen.tick();
  board.replaceChildren(el("div", { class: "kanban-columns" }, COLUMNS.map((status) => {
    const cards = view.cards.filter((card) => card.status === status);
    return el("section", { class: `kanban-column column-${status}`, "data-column": status },
      el("h2", { text: `${cardLabel(status)} · ${cards.length}` }),
      cards.length ? cards.map(cardNode) : el("div", { class: "muted", text: t("no_card") }));
  })));
}

async function refresh() {
  if (view.busy) {
    view.again = true;
    return;
  }
  view.busy = true;
  try {
    do {
      view.again = false;
      try {
        view.cards = (await getJson(base)).cards;
        view.fetchedAt = Date.now();
        screen.markLive();
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

document.getElementById("title").textContent = `${t("kanban")} · ${factory}`;
document.title = `${t("kanban")} · ${factory} · floorstream`;
render();
refresh();
setInterval(refresh, REFRESH_MS);
setInterval(() => {
  // Ages tick between polls in place: a button is not replaced under a finger.
  screen.tick();
  for (const node of board.querySelectorAll(".card-age")) {
    node.textContent = ageText(Number(node.dataset.ageS));
  }
}, 1000);
