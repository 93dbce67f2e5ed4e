// A line's live feed (Server-Sent Events) that heals itself.
//
// - The server sends `changed` on connect and whenever the line changed, and a `heartbeat`
//   every heartbeat_s (it tells its interval in each `changed`).
// - The feed counts as lost on an error, or when nothing (not even a heartbeat) arrived for
//   2.5 heartbeats: a connection that died silently (a pulled cable, a sleeping proxy) looks
//   open to the browser for minutes.
// - Once lost, it reconnects by itself, waiting 1 s, 2 s, 4 s … up to 30 s (with jitter, so
//   that a hall of screens does not reconnect all at once), and reports the time it was lost.

export class LiveFeed {
  constructor(url, {
    onChanged = () => {},
    onStatus = () => {},
    minDelayMs = 1000,
    maxDelayMs = 30000,
    heartbeatTimeoutMs = 40000,
    EventSourceClass = globalThis.EventSource,
    now = () => new Date(),
  } = {}) {
    this.url = url;
    this.onChanged = onChanged;
    this.onStatus = onStatus;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.heartbeatTimeoutMs = heartbeatTimeoutMs;
    this.EventSourceClass = EventSourceClass;
    this.now = now;
    this.delayMs = minDelayMs;
    this.source = null;
    this.watchdog = null;
    this.retry = null;
    this.live = false;
    this.lostSince = null;
  }

  start() {
    this._connect();
  }

  stop() {
    clearTimeout(this.retry);
    clearTimeout(this.watchdog);
    if (this.source) this.source.close();
    this.source = null;
  }

  _connect() {
    this.retry = null;
    const source = new this.EventSourceClass(this.url);
    this.source = source;
    source.addEventListener("changed", (event) => {
      if (source !== this.source) return;
      this._heard(event);
      this.delayMs = this.minDelayMs; // a working feed: back-off starts over
      if (!this.live) {
        this.live = true;
        this.lostSince = null;
        this.onStatus({ live: true, lostSince: null });
      }
      this.onChanged();
    });
    source.addEventListener("heartbeat", (event) => {
      if (source === this.source) this._heard(event);
    });
    source.addEventListener("error", () => {
      if (source === this.source) this._lost();
    });
    this._arm();
  }

  _heard(event) {
    try {
      const seconds = JSON.parse(event.data).heartbeat_s;
      if (Number.isFinite(seconds) && seconds > 0) {
        this.heartbeatTimeoutMs = Math.max(2000, seconds * 2500);
      }
    } catch {
      // a heartbeat without a body: only its arrival matters
    }
    this._arm();
  }

  _arm() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this._lost(), this.heartbeatTimeoutMs);
  }

  _lost() {
    clearTimeout(this.watchdog);
    if (this.source) this.source.close(); // our own back-off, not the browser's fixed retry
    this.source = null;
    if (this.live || this.lostSince === null) {
      this.live = false;
      this.lostSince = this.lostSince ?? this.now();
      this.onStatus({ live: false, lostSince: this.lostSince });
    }
    if (this.retry === null) {
      const jitter = 0.8 + Math.random() * 0.4;
      this.retry = setTimeout(() => this._connect(), this.delayMs * jitter);
      this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
    }
  }
}
