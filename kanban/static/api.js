// The JSON calls of /api/v1, with the token the page was opened with (?token=).

const query = new URLSearchParams(location.search);
export const token = query.get("token");

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function getJson(path, params = {}) {
  return callJson("GET", path, params);
}

/** A POST without a body (an action such as advancing a kanban card); answers its JSON. */
export async function postJson(path) {
  return callJson("POST", path);
}

async function callJson(method, path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  let response;
  try {
    response = await fetch(url, { method, headers, cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, String(error));
  }
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = (await response.json()).error.message;
    } catch {
      // not our JSON error: keep the status text
    }
    throw new ApiError(response.status, message);
  }
  return response.json();
}

/** A link to another page that keeps the token and the language. */
export function pageLink(path) {
  const url = new URL(path, location.origin);
  for (const key of ["token", "lang"]) {
    const value = query.get(key);
    if (value) url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

/** An address for the live feed: EventSource cannot send a header, so ?token= it is. */
export function feedUrl(path) {
  const url = new URL(path, location.origin);
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

export function kanbanPath(factory) {
  return `/api/v1/factories/${encodeURIComponent(factory)}/kanban/cards`;
}

export function linePath(factory, line) {
  return `/api/v1/factories/${encodeURIComponent(factory)}/lines/${encodeURIComponent(line)}`;
}

/** Every line the caller may see, following the pages. */
export async function allLines() {
  const lines = [];
  let after = null;
  do {
    const page = await getJson("/api/v1/lines", after ? { after, limit: "500" } : { limit: "500" });
    lines.push(...page.items);
    after = page.next;
  } while (after);
  return lines;
}

/**
 * The figures of the shift so far: the shift on now (from the line's shifts, via the
 * efficiency call's shift buckets of the last 24 h), else the last 8 hours.
 */
export async function shiftSoFar(factory, line, now = new Date()) {
  const base = `${linePath(factory, line)}/efficiency`;
  const end = now.toISOString();
  const dayAgo = new Date(now.getTime() - 24 * 3600e3).toISOString();
  const byShift = await getJson(base, { start: dayAgo, end, granularity: "shift" });
  const current = (byShift.buckets ?? []).at(-1);
  if (current && Date.parse(current.end) >= now.getTime() - 1000) {
    return { name: current.name, start: current.start, end, figures: current };
  }
  const start = new Date(now.getTime() - 8 * 3600e3).toISOString();
  return { name: null, start, end, figures: await getJson(base, { start, end }) };
}
