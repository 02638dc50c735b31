// Calcboard: a well's production history as charts on its admin page.
//
// Plain ES module, no build step. Declared by apps.wells.admin, which renders the config
// (<script id="cb-well-config">) and the empty chart containers. Highcharts is the global of
// the classic scripts loaded before this module. Data: GET /api/wells/{id}/history (or
// ?resample=month) with the admin session: rates per producing day (null on shut-ins, drawn
// as gaps), water cut, cumulative volumes, all derived by the API. Server text is only ever
// written with textContent, never as HTML.

import { COLOURS, baseOptions, fetchDetail, positiveOnly } from "./calculation_charts.js";

const RATES = [["liquid", "Liquid"], ["oil", "Oil"], ["water", "Water"]];

function dayMs(iso) {
  return Date.parse(`${iso}T00:00:00Z`);
}

// The API's periods as Highcharts series: rates in m3/day, water cut in %, cumulatives in m3.
export function seriesFromHistory(results) {
  const out = { liquid: [], oil: [], water: [], wct: [], cumOil: [], cumWater: [], cumGas: [] };
  for (const row of results) {
    const x = dayMs(row.date);
    out.liquid.push([x, row.liquid_rate]);
    out.oil.push([x, row.oil_rate]);
    out.water.push([x, row.water_rate]);
    out.wct.push([x, row.water_cut === null ? null : row.water_cut * 100]);
    out.cumOil.push([x, row.cumulative_oil]);
    out.cumWater.push([x, row.cumulative_water]);
    out.cumGas.push([x, row.cumulative_gas]);
  }
  return out;
}

class WellPage {
  constructor(config, root) {
    Object.assign(this, { config, root, charts: null, series: null, axis: "linear", period: "" });
    for (const button of root.querySelectorAll(".cb-axis")) {
      button.addEventListener("click", () => this.setAxis(button.dataset.axis));
    }
    for (const button of root.querySelectorAll(".cb-period")) {
      button.addEventListener("click", () => this.load(button.dataset.period));
    }
  }

  press(selector, attribute, value) {
    for (const button of this.root.querySelectorAll(selector)) {
      button.setAttribute("aria-pressed", String(button.dataset[attribute] === value));
    }
  }

  load(period) {
    this.loaded = this.read(period);
    return this.loaded;
  }

  async read(period) {
    this.period = period;
    this.press(".cb-period", "period", period);
    const url = period ? `${this.config.historyUrl}?resample=${period}` : this.config.historyUrl;
    try {
      const history = await fetchDetail(url);
      this.series = seriesFromHistory(history.results);
      this.draw();
    } catch (error) {
      const note = this.root.querySelector("#cb-well-error");
      note.textContent = `Could not load the history: ${error.message}`;
      note.hidden = false;
    }
  }

  rateData(key) {
    return this.axis === "logarithmic" ? positiveOnly(this.series[key]) : this.series[key];
  }

  draw() {
    const H = window.Highcharts;
    for (const chart of Object.values(this.charts || {})) chart.destroy();
    const unit = this.period === "month" ? "monthly" : this.config.frequency;
    this.charts = {
      rates: H.chart(this.root.querySelector("[data-chart=rates]"), {
        ...baseOptions(`Rates per producing day (${unit})`, "Rate, m³/day"),
        yAxis: { title: { text: "Rate, m³/day" }, type: this.axis },
        tooltip: { shared: true, xDateFormat: "%Y-%m-%d", valueDecimals: 2, valueSuffix: " m³/day" },
        series: RATES.map(([key, label]) => ({ id: key, name: label, color: COLOURS[key], data: this.rateData(key) })),
      }),
      wct: H.chart(this.root.querySelector("[data-chart=wct]"), {
        ...baseOptions("Water cut", "Water cut, %"),
        yAxis: { title: { text: "Water cut, %" }, min: 0, max: 100 },
        tooltip: { xDateFormat: "%Y-%m-%d", valueDecimals: 1, valueSuffix: " %" },
        series: [{ id: "wct", name: "Water cut", color: COLOURS.wct, data: this.series.wct }],
      }),
      cumulative: H.chart(this.root.querySelector("[data-chart=cumulative]"), {
        ...baseOptions("Cumulative production", "Volume, m³"),
        tooltip: { shared: true, xDateFormat: "%Y-%m-%d", valueDecimals: 0, valueSuffix: " m³" },
        series: [
          { id: "cumOil", name: "Oil", color: COLOURS.oil, data: this.series.cumOil },
          { id: "cumWater", name: "Water", color: COLOURS.water, data: this.series.cumWater },
        ],
      }),
    };
  }

  setAxis(type) {
    this.axis = type;
    this.press(".cb-axis", "axis", type);
    if (!this.charts) return;
    for (const [key] of RATES) this.charts.rates.get(key).setData(this.rateData(key), false);
    this.charts.rates.yAxis[0].update({ type }, false);
    this.charts.rates.redraw();
  }
}

const configNode = document.getElementById("cb-well-config");
const root = document.getElementById("cb-well");
if (configNode && root && root.querySelector("[data-chart]")) {
  const page = new WellPage(JSON.parse(configNode.textContent), root);
  page.loaded = page.load("");
  window.calcboardWell = page; // for the browser tests and the console
}
