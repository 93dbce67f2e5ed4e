// The start page: the factories and lines the viewer may see, linked to their boards.

import { allLines, pageLink } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { Screen } from "./screen.js";

const screen = new Screen();
const board = document.getElementById("board");

async function load() {
  try {
    const lines = await allLines();
    const factories = new Map();
    for (const item of lines) {
      if (!factories.has(item.factory)) factories.set(item.factory, []);
      factories.get(item.factory).push(item);
    }
    const sections = [...factories].map(([factory, items]) =>
      el("section", { class: "panel", "data-factory": factory },
        el("h2", {}, el("a", { href: pageLink(`/boards/${factory}`), text: `${t("factory")} ${factory}` })),
        el("ul", {}, items.map((item) =>
          el("li", {}, el("a", { href: pageLink(`/boards/${item.factory}/${item.line}`), text: item.name ? `${item.name} (${item.line})` : item.line }))))));
    board.replaceChildren(el("div", { class: "index" },
      sections.length ? sections : el("p", { class: "muted", text: t("no_lines") })));
    screen.showError(null);
  } catch (error) {
    screen.showError(error);
  }
}

document.getElementById("title").textContent = `floorstream · ${t("lines")}`;
screen.tick();
setInterval(() => screen.tick(), 1000);
load();
