// What every board page shares: the clock, the stale mark, errors, links.

import { ApiError } from "./api.js";
import { applyDocumentLanguage, t } from "./i18n.js";
import { clock } from "./format.js";

export class Screen {
  constructor() {
    applyDocumentLanguage();
    this.timeZone = undefined;
    this.staleSince = null;
    this.clockNode = document.getElementById("clock");
    this.staleNode = document.getElementById("stale-mark");
    this.errorNode = document.getElementById("error");
  }

  /** Now, or the instant the figures stopped being live (timers freeze while stale). */
  figuresNow() {
    return this.staleSince ?? new Date();
  }

  tick() {
    this.clockNode.textContent = clock(new Date(), this.timeZone);
  }

  markStale(since) {
    this.staleSince = this.staleSince ?? since ?? new Date();
    document.body.classList.add("is-stale");
    this.staleNode.textContent = `⚠ ${t("stale_since", { time: clock(this.staleSince, this.timeZone) })}`;
    this.staleNode.hidden = false;
  }

  markLive() {
    this.staleSince = null;
    document.body.classList.remove("is-stale");
    this.staleNode.hidden = true;
  }

  showError(error) {
    if (error == null) {
      this.errorNode.hidden = true;
      return;
    }
    let text = String(error.message ?? error);
    if (error instanceof ApiError && error.status === 401) text = t("unauthorized");
    else if (error instanceof ApiError && error.status === 404) text = t("not_found");
    this.errorNode.textContent = text;
    this.errorNode.hidden = false;
  }
}
