// Calcboard admin live widget: keeps a change list in step with the websocket API
// (/ws/events/, protocol in apps/live/consumers.py) without reloading the page.
//
// Plain ES module, no build step. Declared by apps.live.admin.LiveChangeListMixin, which
// renders the config (<script id="cb-live-config">), the status line and the new-rows notice.
// Server text is only ever written with textContent or attributes, never as HTML.

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const PING_MS = 25000;
const CLOSE_UNAUTHENTICATED = 4401;
// Event keys the widget renders itself; any other key updates a cell of the same name as text.
const SPECIAL_KEYS = new Set(["kind", "id", "status", "status_display", "progress", "duration",
  "image_url", "error", "updated_at"]);
// Cells a resync copies from a fresh copy of the page.
const LIVE_FIELDS = ["status", "progress", "duration", "chart", "error", "processed_at",
  "launched_at", "started_at", "finished_at", "queued_at", "updated_at"];
const IN_FLIGHT = new Set(["queued", "running"]);
// What the functions admin writes in place of a chart not drawn yet.
const CHART_WAITING = { queued: "Waiting for a worker…", running: "Drawing…" };
const STATE_LABELS = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  "signed-out": "Signed out — reload to log in",
};

// --- time ------------------------------------------------------------------------------

// Microseconds since the epoch of an ISO-8601 timestamp, keeping the microseconds that
// Date.parse drops (two events of one object can be less than a millisecond apart).
export function eventTime(iso) {
  if (typeof iso !== "string") return null;
  const match = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso.trim());
  if (!match) return null;
  const millis = Date.parse(match[1].replace(" ", "T") + (match[3] || "Z"));
  if (Number.isNaN(millis)) return null;
  const micros = Number((match[2] || "").padEnd(6, "0").slice(0, 6));
  return millis * 1000 + micros;
}

// Django's English DATETIME_FORMAT, "N j, Y, P" ("Jan. 5, 2026, 2:05 p.m."), in the site's
// time zone: what the admin draws on a reload, so a live update does not change the look.
const MONTHS = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."];

export function formatDateTime(iso, timeZone) {
  const micros = eventTime(iso);
  if (micros === null) return String(iso);
  const parts = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timeZone || "UTC", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", hourCycle: "h23",
  });
  for (const part of format.formatToParts(new Date(Math.floor(micros / 1000)))) parts[part.type] = Number(part.value);
  const { year, month, day, minute } = parts;
  const hour = parts.hour % 24;
  let time;
  if (hour === 0 && minute === 0) time = "midnight";
  else if (hour === 12 && minute === 0) time = "noon";
  else {
    const twelve = hour % 12 || 12;
    time = `${twelve}${minute ? `:${String(minute).padStart(2, "0")}` : ""} ${hour < 12 ? "a.m." : "p.m."}`;
  }
  return `${MONTHS[month - 1]} ${day}, ${year}, ${time}`;
}

// Seconds as the calculations admin draws them ("1.234 s").
export function formatDuration(value) {
  if (value === null || value === undefined || value === "") return "-";
  if (typeof value !== "number") return String(value);
  return `${value.toFixed(3)} s`;
}

// --- cells -----------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function statusBadge(status, label) {
  const safe = String(status).toLowerCase().replace(/[^a-z0-9_-]/g, "");
  const text = label || (safe.charAt(0).toUpperCase() + safe.slice(1));
  return element("span", `cb-status cb-status-${safe}`, text);
}

function progressBar(progress) {
  const percent = Math.max(0, Math.min(100, Math.round(Number(progress))));
  const bar = element("div", "cb-progress");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(percent));
  const fill = element("div", "cb-progress-bar");
  fill.style.width = `${percent}%`;
  bar.append(fill, element("span", "cb-progress-label", `${percent}%`));
  return bar;
}

// Only http(s) URLs on this site or relative ones become image sources (no javascript: URLs).
function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return ["http:", "https:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

function renderImage(cell, url, alt) {
  const href = safeUrl(url);
  if (!href) return;
  const img = cell.querySelector("img");
  if (img) {
    img.src = href;
    const link = img.closest("a");
    if (link) link.href = href;
    cell.querySelectorAll(".cb-error").forEach((node) => node.remove());
    return;
  }
  const link = element("a");
  link.href = href;
  link.target = "_blank";
  link.rel = "noopener";
  const image = element("img", "cb-thumb");
  image.src = href;
  image.alt = alt;
  image.loading = "lazy";
  link.append(image);
  cell.replaceChildren(link);
}

function renderError(cell, text) {
  const node = element("span", "cb-error", text);
  node.title = text;
  cell.replaceChildren(node);
}

// Turns cells drawn as plain text ("Running", "40%") into the badge and bar live updates draw.
function upgradeCells(row) {
  const status = cellFor(row, "status");
  if (status && !status.querySelector(".cb-status")) {
    const text = status.textContent.trim();
    if (text && text !== "-") status.replaceChildren(statusBadge(text.toLowerCase(), text));
  }
  const progress = cellFor(row, "progress");
  if (progress && !progress.querySelector(".cb-progress")) {
    const value = parseFloat(progress.textContent);
    if (!Number.isNaN(value)) progress.replaceChildren(progressBar(value));
  }
}

function cellFor(row, field) {
  // The first column of a change list is a <th>; the others are <td>.
  return row.querySelector(`td.field-${field}, th.field-${field}`);
}

function rowStatus(row) {
  const cell = cellFor(row, "status");
  const badge = cell && cell.querySelector(".cb-status");
  const text = badge ? badge.className.replace(/.*cb-status-/, "") : (cell ? cell.textContent : "");
  return text.trim().toLowerCase();
}

// --- the table -------------------------------------------------------------------------

export class LiveTable {
  constructor(config, doc = document) {
    this.config = config;
    this.doc = doc;
    this.maxId = Number(config.maxId) || 0;
    this.newIds = new Set();
    this.seen = new Map(); // id -> newest updated_at (µs) shown for it
    for (const [id, iso] of Object.entries(config.rows || {})) this.remember(Number(id), iso);
    for (const row of this.rows()) upgradeCells(row);
  }

  rows() {
    return Array.from(this.doc.querySelectorAll("#result_list tbody tr"));
  }

  static rowId(row) {
    const box = row.querySelector('input[name="_selected_action"]');
    if (box) return Number(box.value);
    const link = row.querySelector("th a[href], td a[href]");
    const match = link && /\/(\d+)\/change\/?(?:\?.*)?$/.exec(link.getAttribute("href"));
    return match ? Number(match[1]) : null;
  }

  rowFor(id, doc = this.doc) {
    const box = doc.querySelector(`#result_list input[name="_selected_action"][value="${Number(id)}"]`);
    if (box) return box.closest("tr");
    return Array.from(doc.querySelectorAll("#result_list tbody tr")).find((row) => LiveTable.rowId(row) === id) || null;
  }

  remember(id, iso) {
    const at = eventTime(iso);
    if (at === null) return true;
    const last = this.seen.get(id);
    if (last !== undefined && at <= last) return false; // older than (or the same as) what is shown
    this.seen.set(id, at);
    return true;
  }

  hasInFlightRows() {
    return this.rows().some((row) => IN_FLIGHT.has(rowStatus(row)));
  }

  apply(event) {
    if (!event || event.kind !== this.config.kind || !Number.isInteger(event.id)) return false;
    if (!this.remember(event.id, event.updated_at)) return false;
    const row = this.rowFor(event.id);
    if (!row) {
      if (event.id > this.maxId) this.noteNew(event.id);
      return false;
    }
    this.update(row, event);
    row.classList.remove("cb-updated");
    void row.offsetWidth; // restart the highlight animation
    row.classList.add("cb-updated");
    return true;
  }

  update(row, event) {
    const { timeZone } = this.config;
    if ("status" in event) {
      const cell = cellFor(row, "status");
      if (cell) cell.replaceChildren(statusBadge(event.status, event.status_display));
    }
    if (typeof event.progress === "number") {
      const cell = cellFor(row, "progress");
      if (cell) cell.replaceChildren(progressBar(event.progress));
    }
    if ("duration" in event) {
      const cell = cellFor(row, "duration");
      if (cell) cell.textContent = formatDuration(event.duration);
    }
    const chart = cellFor(row, "chart");
    if (chart) this.updateChart(chart, event);
    if ("error" in event) {
      const cell = row.querySelector("td.field-error");
      if (cell) cell.textContent = event.error ? String(event.error) : "-";
    }
    // Any other key fills a plain-text cell of the same name (never a link cell like the name).
    for (const [key, value] of Object.entries(event)) {
      if (SPECIAL_KEYS.has(key) || !/^[a-z][a-z0-9_]*$/.test(key)) continue;
      if (value !== null && typeof value === "object") continue;
      const cell = row.querySelector(`td.field-${key}`);
      if (!cell || cell.firstElementChild) continue;
      if (value === null || value === "") cell.textContent = "-";
      else if (key.endsWith("_at")) cell.textContent = formatDateTime(value, timeZone);
      else cell.textContent = String(value);
    }
  }

  updateChart(cell, event) {
    const busy = IN_FLIGHT.has(event.status);
    cell.classList.toggle("cb-busy", busy);
    if (event.status === "failed" && event.error) renderError(cell, String(event.error));
    else if (event.image_url && (event.status === "finished" || cell.querySelector("img"))) {
      renderImage(cell, event.image_url, `Chart ${event.id}`);
    } else if (busy && !cell.querySelector("img")) cell.textContent = CHART_WAITING[event.status];
    else if (event.status === "cancelled" && !event.image_url) cell.textContent = "—"; // as the admin renders it
  }

  noteNew(id) {
    this.newIds.add(id);
    const notice = this.doc.getElementById("cb-live-new");
    if (!notice) return;
    notice.querySelector(".cb-live-new-count").textContent = String(this.newIds.size);
    notice.querySelector(".cb-live-new-show").href = window.location.href;
    notice.hidden = false;
  }

  // Copies the live cells of every shown row from a fresh copy of this page: after a
  // reconnect (events were missed) or when the page was drawn while rows were in flight.
  resync(fresh) {
    const config = fresh.getElementById("cb-live-config");
    const freshRows = config ? JSON.parse(config.textContent).rows || {} : {};
    for (const row of this.rows()) {
      const id = LiveTable.rowId(row);
      const source = id === null ? null : this.rowFor(id, fresh);
      if (!source) continue;
      const iso = freshRows[String(id)];
      if (iso !== undefined && !this.remember(id, iso)) continue; // the page already shows newer
      for (const field of LIVE_FIELDS) {
        const from = cellFor(source, field);
        const to = cellFor(row, field);
        if (from && to) to.replaceChildren(...Array.from(from.childNodes, (node) => this.doc.importNode(node, true)));
      }
      upgradeCells(row);
    }
    for (const row of Array.from(fresh.querySelectorAll("#result_list tbody tr"))) {
      const id = LiveTable.rowId(row);
      if (id !== null && id > this.maxId && !this.rowFor(id)) this.noteNew(id);
    }
  }
}

// --- the connection --------------------------------------------------------------------

// Follows one stream. Remembers the `event_id` of the last event it handed on, and after every
// reconnect subscribes with `since`: the server replays what was missed (then says
// `subscribed` with `replayed`), or answers `resync` when it no longer has it all.
export class LiveConnection {
  constructor({ url, stream, onEvent, onState, onSubscribed, onResync }) {
    Object.assign(this, { url, stream, onEvent, onState, onSubscribed, onResync });
    this.attempt = 0;
    this.everSubscribed = false;
    this.lastEventId = null;
    this.timer = null;
    this.pinger = null;
  }

  subscription() {
    const message = { action: "subscribe", stream: this.stream };
    if (this.lastEventId) message.since = this.lastEventId;
    return message;
  }

  connect() {
    this.onState(this.everSubscribed ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify(this.subscription()));
      this.pinger = setInterval(() => ws.send(JSON.stringify({ action: "ping" })), PING_MS);
    });
    ws.addEventListener("message", (message) => this.receive(message.data));
    ws.addEventListener("close", (close) => this.closed(close.code));
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === "event") {
      this.onEvent(message.event);
      if (message.event && typeof message.event.event_id === "string") this.lastEventId = message.event.event_id;
    } else if (message.type === "resync") {
      this.onResync();
    } else if (message.type === "subscribed") {
      const reconnected = this.everSubscribed;
      this.attempt = 0;
      this.everSubscribed = true;
      this.onState("connected");
      // `replayed` is there when we asked with `since`: nothing was missed (or `resync` came).
      this.onSubscribed({ reconnected, replayed: "replayed" in message });
    } else if (message.type === "error") console.warn("calcboard live:", message.code, message.message);
  }

  closed(code) {
    clearInterval(this.pinger);
    if (code === CLOSE_UNAUTHENTICATED) {
      this.onState("signed-out");
      return;
    }
    // Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.onState("reconnecting", delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

// --- wiring ----------------------------------------------------------------------------

function showState(state, delay) {
  const node = document.getElementById("cb-live");
  if (!node) return;
  node.dataset.state = state;
  let label = STATE_LABELS[state] || state;
  if (state === "reconnecting" && delay) label = `Reconnecting in ${Math.ceil(delay / 1000)} s…`;
  node.querySelector(".cb-live-label").textContent = label;
}

async function fetchFreshPage() {
  const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`page reload answered ${response.status}`);
  return new DOMParser().parseFromString(await response.text(), "text/html");
}

export function start() {
  const node = document.getElementById("cb-live-config");
  if (!node || !("WebSocket" in window)) return null;
  const config = JSON.parse(node.textContent);
  const table = new LiveTable(config);
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const reload = () =>
    fetchFreshPage().then((fresh) => table.resync(fresh)).catch((error) => console.warn("calcboard live:", error));
  const connection = new LiveConnection({
    url: `${scheme}://${window.location.host}${config.path}`,
    stream: config.stream,
    onEvent: (event) => table.apply(event),
    onState: showState,
    onSubscribed: ({ reconnected, replayed }) => {
      // With `since` the server replayed what we missed. Without it (no event seen yet), what
      // changed while we were away, or between drawing the page and subscribing, is re-read.
      if (!replayed && (reconnected || table.hasInFlightRows())) reload();
    },
    onResync: reload, // the server no longer has everything we missed
  });
  connection.connect();
  window.calcboardLive = { config, table, connection };
  return window.calcboardLive;
}

if (typeof document !== "undefined") start();
