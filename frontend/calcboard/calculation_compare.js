// Calcboard: Compare, the oil rates and water cuts of 2 to 8 finished runs on shared axes.
//
// Plain ES module, no build step. Declared by apps.calculations.admin_views.compare_view,
// which renders the config (<script id="cb-compare-config">) with each run's id, name and
// API URL. One colour per run (Highcharts' palette, the same in both charts); the legends
// name the runs. Server text is only ever written with textContent.

import { baseOptions, fetchDetail, summaryItems } from "./calculation_charts.js";

const SUMMARY_COLUMNS = ["Rows", "First date", "Last date", "Cumulative oil", "Cumulative water",
  "Water cut, last", "Peak liquid rate", "Oil rate decline"];

// Highcharts reads series names as a subset of HTML and drops what looks like a tag; run names
// are escaped so "Well 7 <base case>" is shown as written.
export function escapeMarkup(text) {
  return String(text).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function dayMs(iso) {
  return Date.parse(`${iso}T00:00:00Z`);
}

export function compareSeries(runs, details, colours) {
  const oil = [];
  const wct = [];
  runs.forEach((run, index) => {
    const rows = details[index].result || [];
    const colour = colours[index % colours.length];
    const name = escapeMarkup(run.name);
    oil.push({ id: `oil-${run.id}`, name, color: colour, data: rows.map((r) => [dayMs(r.date), r.oil]) });
    wct.push({ id: `wct-${run.id}`, name, color: colour, data: rows.map((r) => [dayMs(r.date), r.wct * 100]) });
  });
  return { oil, wct };
}

function renderSummary(table, runs, details) {
  const head = table.querySelector("thead tr");
  for (const label of SUMMARY_COLUMNS) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = label;
    head.append(cell);
  }
  const body = table.querySelector("tbody");
  runs.forEach((run, index) => {
    const items = new Map(summaryItems(details[index].summary));
    const line = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = run.name;
    line.append(name);
    for (const label of SUMMARY_COLUMNS) {
      const cell = document.createElement("td");
      cell.textContent = items.get(label);
      line.append(cell);
    }
    body.append(line);
  });
  table.hidden = false;
}

// Zooming one chart zooms the other to the same dates (and "Reset zoom" resets both).
export function syncZoom(charts) {
  for (const chart of charts) {
    chart.xAxis[0].update({
      events: {
        afterSetExtremes(event) {
          if (event.trigger === "sync") return;
          for (const other of charts) {
            if (other !== chart) other.xAxis[0].setExtremes(event.userMin, event.userMax, true, false, { trigger: "sync" });
          }
        },
      },
    }, false);
  }
}

export async function start() {
  const node = document.getElementById("cb-compare-config");
  if (!node) return null;
  const { runs } = JSON.parse(node.textContent);
  const H = window.Highcharts;
  let details;
  try {
    details = await Promise.all(runs.map((run) => fetchDetail(run.detailUrl)));
  } catch (error) {
    const note = document.getElementById("cb-compare-error");
    note.textContent = `Could not load the runs: ${error.message}`;
    note.hidden = false;
    return null;
  }
  const series = compareSeries(runs, details, H.getOptions().colors);
  const oil = H.chart(document.getElementById("cb-compare-oil"), {
    ...baseOptions("Oil rate", "Oil rate, m³/day"),
    tooltip: { shared: true, xDateFormat: "%Y-%m-%d", valueDecimals: 2, valueSuffix: " m³/day" },
    series: series.oil,
  });
  const wct = H.chart(document.getElementById("cb-compare-wct"), {
    ...baseOptions("Water cut", "Water cut, %"),
    yAxis: { title: { text: "Water cut, %" }, min: 0, max: 100 },
    tooltip: { shared: true, xDateFormat: "%Y-%m-%d", valueDecimals: 2, valueSuffix: " %" },
    series: series.wct,
  });
  syncZoom([oil, wct]);
  renderSummary(document.getElementById("cb-compare-summary"), runs, details);
  window.calcboardCompare = { oil, wct };
  return window.calcboardCompare;
}

if (typeof document !== "undefined") start();
