// Calcboard: a calculation's production charts and summary on its admin page.
//
// Plain ES module, no build step. Declared by apps.calculations.admin_views, which renders the
// config (<script id="cb-calc-config">), the progress panel and the empty chart containers.
// Highcharts is the global of the classic scripts loaded before this module, from this site's
// static files. Data: GET /api/calculations/{id}?fields=name,summary with the admin session.
// While the run is queued or running, live.js's LiveConnection follows it and the charts are
// drawn when its `finished` event arrives, without a reload. Server text is only ever written
// with textContent, never as HTML.

import { LiveConnection } from "./live.js";

const DAY_MS = 86400000;
export const COLOURS = { liquid: "#4a5568", oil: "#2f855a", water: "#3182ce", wct: "#c53030" };
const RATES = [["liquid", "Liquid"], ["oil", "Oil"], ["water", "Water"]];
const STATE_LABELS = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  "signed-out": "Signed out — reload to log in",
};

// --- data ------------------------------------------------------------------------------

function dayMs(iso) {
  return Date.parse(`${iso}T00:00:00Z`);
}

// The rows of a run as Highcharts series: rates in m3/day, water cut in %, and cumulative
// volumes in m3. A row stands for `lag` days, the last one only up to `dateFin` inclusive:
// the rule the API's summary uses, so the cumulative curves end on its figures.
export function seriesFromRows(rows, { lag, dateFin }) {
  const end = dayMs(dateFin);
  const out = { liquid: [], oil: [], water: [], wct: [], cumLiquid: [], cumOil: [], cumWater: [] };
  let liquid = 0;
  let oil = 0;
  let water = 0;
  for (const row of rows) {
    const x = dayMs(row.date);
    const days = Math.min(lag, Math.round((end - x) / DAY_MS) + 1);
    out.liquid.push([x, row.liquid]);
    out.oil.push([x, row.oil]);
    out.water.push([x, row.water]);
    out.wct.push([x, row.wct * 100]);
    liquid += row.liquid * days;
    oil += row.oil * days;
    water += row.water * days;
    out.cumLiquid.push([x, liquid]);
    out.cumOil.push([x, oil]);
    out.cumWater.push([x, water]);
  }
  return out;
}

// A log axis cannot show zero or negative values: those points become gaps.
export function positiveOnly(data) {
  return data.map(([x, y]) => [x, y > 0 ? y : null]);
}

export async function fetchDetail(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // not JSON: keep the status
    }
    throw new Error(detail);
  }
  return response.json();
}

// --- charts ----------------------------------------------------------------------------

export function baseOptions(title, yTitle) {
  return {
    chart: { zooming: { type: "x" }, height: 340, animation: false },
    title: { text: title, align: "left", style: { fontSize: "14px" } },
    credits: { enabled: false },
    xAxis: { type: "datetime", crosshair: true },
    yAxis: { title: { text: yTitle } },
    tooltip: { shared: true, xDateFormat: "%Y-%m-%d", valueDecimals: 2 },
    legend: { enabled: true },
    plotOptions: { series: { animation: false, marker: { enabled: false }, lineWidth: 1.5 } },
    accessibility: { enabled: true },
  };
}

function drawCharts(root, series) {
  const H = window.Highcharts;
  const rates = H.chart(root.querySelector("[data-chart=rates]"), {
    ...baseOptions("Rates", "Rate, m³/day"),
    yAxis: { title: { text: "Rate, m³/day" }, type: "linear" },
    tooltip: { shared: true, xDateFormat: "%Y-%m-%d", valueDecimals: 2, valueSuffix: " m³/day" },
    series: RATES.map(([key, label]) => ({ id: key, name: label, color: COLOURS[key], data: series[key] })),
  });
  const wct = H.chart(root.querySelector("[data-chart=wct]"), {
    ...baseOptions("Water cut", "Water cut, %"),
    yAxis: { title: { text: "Water cut, %" }, min: 0, max: 100 },
    tooltip: { xDateFormat: "%Y-%m-%d", valueDecimals: 2, valueSuffix: " %" },
    series: [{ id: "wct", name: "Water cut", color: COLOURS.wct, data: series.wct }],
  });
  const cumulative = H.chart(root.querySelector("[data-chart=cumulative]"), {
    ...baseOptions("Cumulative production", "Volume, m³"),
    tooltip: { shared: true, xDateFormat: "%Y-%m-%d", valueDecimals: 0, valueSuffix: " m³" },
    series: [
      { id: "cumOil", name: "Oil", color: COLOURS.oil, data: series.cumOil },
      { id: "cumWater", name: "Water", color: COLOURS.water, data: series.cumWater },
      { id: "cumLiquid", name: "Liquid", color: COLOURS.liquid, data: series.cumLiquid },
    ],
  });
  return { rates, wct, cumulative };
}

// Switches the rate axis between linear and logarithmic (the decline reads as a line on log).
export function setRateAxis(charts, series, type) {
  const log = type === "logarithmic";
  for (const [key] of RATES) {
    charts.rates.get(key).setData(log ? positiveOnly(series[key]) : series[key], false);
  }
  charts.rates.yAxis[0].update({ type: log ? "logarithmic" : "linear" }, false);
  charts.rates.redraw();
}

// --- summary ---------------------------------------------------------------------------

const number = (digits) => new Intl.NumberFormat("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentOf = (fraction) => `${number(1).format(fraction * 100)} %`;

// [label, text] pairs of the summary block, from the API's `summary` (units as documented there).
export function summaryItems(summary) {
  const m3 = (value) => `${number(0).format(value)} m³`;
  return [
    ["Rows", number(0).format(summary.rows)],
    ["First date", summary.first_date],
    ["Last date", summary.last_date],
    ["Cumulative oil", m3(summary.cumulative_oil)],
    ["Cumulative water", m3(summary.cumulative_water)],
    ["Cumulative liquid", m3(summary.cumulative_liquid)],
    ["Water cut, first", percentOf(summary.wct_first)],
    ["Water cut, last", percentOf(summary.wct_last)],
    ["Water cut, mean", percentOf(summary.wct_mean)],
    ["Peak liquid rate", `${number(1).format(summary.peak_liquid)} m³/day`],
    ["Peak liquid date", summary.peak_liquid_date],
    ["Oil rate decline", summary.oil_decline === null ? "-" : `${number(1).format(summary.oil_decline)} %`],
  ];
}

function renderSummary(list, summary) {
  list.replaceChildren();
  for (const [label, text] of summaryItems(summary)) {
    const term = document.createElement("dt");
    term.textContent = label;
    const value = document.createElement("dd");
    value.textContent = text;
    list.append(term, value);
  }
}

// --- the page --------------------------------------------------------------------------

function setProgress(root, event) {
  const bar = root.querySelector(".cb-progress");
  if (bar && typeof event.progress === "number") {
    const percent = Math.max(0, Math.min(100, Math.round(event.progress)));
    bar.setAttribute("aria-valuenow", String(percent));
    bar.querySelector(".cb-progress-bar").style.width = `${percent}%`;
    bar.querySelector(".cb-progress-label").textContent = `${percent}%`;
  }
  const badge = root.querySelector(".cb-calc-status .cb-status");
  if (badge && event.status) {
    const safe = String(event.status).toLowerCase().replace(/[^a-z0-9_-]/g, "");
    badge.className = `cb-status cb-status-${safe}`;
    badge.textContent = safe.charAt(0).toUpperCase() + safe.slice(1);
  }
}

function showState(root, state, delay) {
  const node = root.querySelector("#cb-live");
  if (!node) return;
  node.dataset.state = state;
  let label = STATE_LABELS[state] || state;
  if (state === "reconnecting" && delay) label = `Reconnecting in ${Math.ceil(delay / 1000)} s…`;
  node.querySelector(".cb-live-label").textContent = label;
}

export class ProductionPage {
  constructor(config, root) {
    Object.assign(this, { config, root, charts: null, series: null, drawing: null });
    for (const button of root.querySelectorAll(".cb-axis")) {
      button.addEventListener("click", () => this.setAxis(button.dataset.axis));
    }
  }

  // Draws once. The initial load, the `finished` event and the read after subscribing may
  // all ask; a request made while a read is in flight reads again after it, so a `finished`
  // event that overtakes a read that still saw `running` is never lost.
  draw() {
    if (this.charts || this.failed) return Promise.resolve(this.charts);
    if (this.drawing) {
      this.again = true;
      return this.drawing;
    }
    this.again = false;
    this.drawing = fetchDetail(this.config.detailUrl)
      .then((detail) => {
        this.drawing = null;
        this.show(detail);
        return this.again ? this.draw() : this.charts;
      })
      .catch((error) => {
        this.drawing = null;
        this.fail(`Could not load the run: ${error.message}`);
      });
    return this.drawing;
  }

  show(detail) {
    if (detail.status === "failed") {
      this.root.querySelector("#cb-calc-progress").hidden = true;
      this.fail(detail.error || "The calculation failed.");
      return;
    }
    if (detail.status !== "finished") {
      setProgress(this.root, detail); // not yet: the `finished` event will ask again
      return;
    }
    this.root.dataset.status = "finished";
    this.root.querySelector("#cb-calc-progress").hidden = true;
    this.root.querySelector("#cb-calc-body").hidden = false;
    this.series = seriesFromRows(detail.result || [], this.config);
    this.charts = drawCharts(this.root, this.series);
    if (detail.summary) renderSummary(this.root.querySelector("#cb-calc-summary dl"), detail.summary);
  }

  fail(text) {
    this.failed = true;
    this.root.dataset.status = "failed";
    const note = this.root.querySelector("#cb-calc-error");
    note.textContent = text;
    note.hidden = false;
  }

  setAxis(type) {
    for (const button of this.root.querySelectorAll(".cb-axis")) {
      button.setAttribute("aria-pressed", String(button.dataset.axis === type));
    }
    if (this.charts) setRateAxis(this.charts, this.series, type);
  }

  onEvent(event) {
    if (!event || event.kind !== "calculation" || event.id !== this.config.id) return;
    setProgress(this.root, event);
    if (event.status === "finished") this.draw();
    else if (event.status === "failed") this.show(event);
  }

  follow() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    this.connection = new LiveConnection({
      url: `${scheme}://${window.location.host}${this.config.path}`,
      stream: this.config.stream,
      onEvent: (event) => this.onEvent(event),
      onState: (state, delay) => showState(this.root, state, delay),
      // Events are not replayed: once subscribed, read the run in case it finished meanwhile.
      onSubscribed: () => this.draw(),
    });
    this.connection.connect();
  }
}

export function start() {
  const node = document.getElementById("cb-calc-config");
  const root = document.getElementById("cb-calc");
  if (!node || !root) return null;
  const config = JSON.parse(node.textContent);
  const page = new ProductionPage(config, root);
  if (config.status === "finished") page.draw();
  else if (config.status !== "failed" && "WebSocket" in window) page.follow();
  window.calcboardProduction = page;
  return page;
}

if (typeof document !== "undefined") start();
