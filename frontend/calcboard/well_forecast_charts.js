// Calcboard: a well run's forecast charts and figures, on the run's admin page.
//
// Loaded instead of calculation_charts.js for a well run (apps.calculations.admin_views); it
// imports that module, which draws the run's own charts, and adds, once the run has finished:
// the history (monthly calendar-day rates from GET /api/wells/{id}/history?resample=month,
// aggregated by PostgreSQL) as markers against the fitted and forecast oil rate with its
// P10-P90 band on a semilog rate-time chart; oil rate against cumulative oil; water cut,
// history against forecast; the Chan plot (water-oil ratio and its time derivative against
// time, log-log); and the forecast's figures. Server text is only written with textContent.

import { baseOptions, COLOURS, fetchDetail } from "./calculation_charts.js";

const DAY_MS = 86400000;
const dayMs = (iso) => Date.parse(`${iso}T00:00:00Z`);
const number = (digits) => new Intl.NumberFormat("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const positive = (points) => points.filter(([x, y]) => x > 0 && y > 0);

// The history's periods as series: calendar-day rates (m3/day), water cut (%), cumulative oil.
export function historySeries(periods) {
  const out = { oil: [], water: [], wct: [], rateCum: [], wor: [] };
  for (const p of periods) {
    const x = dayMs(p.date);
    if (p.oil_rate_calendar !== null) out.oil.push([x, p.oil_rate_calendar]);
    if (p.water_rate_calendar !== null) out.water.push([x, p.water_rate_calendar]);
    if (p.water_cut !== null) out.wct.push([x, p.water_cut * 100]);
    if (p.oil_rate_calendar !== null) out.rateCum.push([p.cumulative_oil, p.oil_rate_calendar]);
    if (p.oil > 0 && p.water > 0) out.wor.push([x, p.water / p.oil]);
  }
  return out;
}

// Chan plot (SPE 30775): WOR and WOR' = t dWOR/dt against t, days since the first period.
export function chanSeries(wor) {
  if (wor.length === 0) return { wor: [], derivative: [] };
  const first = wor[0][0] - 15 * DAY_MS; // the middle of the first month is day 15
  const t = wor.map(([x]) => (x - first) / DAY_MS);
  const ratio = wor.map(([, y]) => y);
  const derivative = [];
  for (let i = 1; i < wor.length - 1; i += 1) {
    const slope = (ratio[i + 1] - ratio[i - 1]) / (t[i + 1] - t[i - 1]);
    derivative.push([t[i], t[i] * slope]);
  }
  return { wor: t.map((day, i) => [day, ratio[i]]), derivative: positive(derivative) };
}

// The forecast rows after the end of the fit window, as oil rate against cumulative oil.
export function forecastRateCum(rows, forecast, lag) {
  const out = [];
  let cumulative = forecast.cum_oil_to_date;
  const asOf = dayMs(forecast.as_of);
  for (const row of rows) {
    if (dayMs(row.date) <= asOf) continue;
    out.push([cumulative, row.oil]);
    cumulative += row.oil * lag;
  }
  return out;
}

export function forecastItems(forecast) {
  const m3 = (value) => `${number(0).format(value)} m³`;
  const eur = forecast.uncertainty ? forecast.uncertainty.eur : null;
  const items = [
    ["Method", forecast.method.replace("_", " ")],
    ["EUR", m3(forecast.eur)],
    ["Remaining reserves", m3(forecast.remaining)],
    ["Economic limit", forecast.economic_limit_date || "not within 100 years"],
    ["Cumulative to date", m3(forecast.cum_oil_to_date)],
    ["Fit RMSE, ln rate", number(3).format(forecast.fit.rmse_log_rate)],
    ["Fit R²", number(3).format(forecast.fit.r2_log_rate)],
    ["qi", `${number(1).format(forecast.parameters.qi)} m³/day`],
    ["Di, secant effective", `${number(1).format(forecast.parameters.di_secant_effective * 100)} %/year`],
    ["b", number(2).format(forecast.parameters.b)],
  ];
  if (eur) items.push(["EUR P90 / P50 / P10", `${m3(eur.p90)} / ${m3(eur.p50)} / ${m3(eur.p10)}`]);
  if (forecast.backtest) items.push(["Backtest, cumulative error", `${number(1).format(forecast.backtest.cum_oil_error_pct)} %`]);
  return items;
}

function renderItems(list, items) {
  list.replaceChildren();
  for (const [label, text] of items) {
    const term = document.createElement("dt");
    term.textContent = label;
    const value = document.createElement("dd");
    value.textContent = text;
    list.append(term, value);
  }
}

export function drawForecast(root, detail, periods, lag) {
  const H = window.Highcharts;
  const forecast = detail.forecast;
  const rows = detail.result || [];
  const history = historySeries(periods);
  const oil = rows.map((row) => [dayMs(row.date), row.oil]);
  const band = rows.map((row, i) => [dayMs(row.date), forecast.oil_rate_band.p90[i], forecast.oil_rate_band.p10[i]]);
  const asOf = { value: dayMs(forecast.as_of), color: "#999", dashStyle: "Dash", width: 1, label: { text: "as of" } };
  const charts = {};
  charts.forecast = H.chart(root.querySelector("[data-chart=forecast]"), {
    ...baseOptions("Oil rate: history and forecast (semilog)", "Rate, m³/day"),
    xAxis: { type: "datetime", plotLines: [asOf] },
    yAxis: { type: "logarithmic", title: { text: "Oil rate, m³/day (calendar day)" } },
    tooltip: { xDateFormat: "%Y-%m-%d", valueDecimals: 2, valueSuffix: " m³/day" },
    series: [
      { id: "band", type: "arearange", name: "Oil P10-P90", color: COLOURS.oil, fillOpacity: 0.2, lineWidth: 0,
        data: band.filter(([, low, high]) => low > 0 && high > 0) },
      { id: "forecast", type: "line", name: "Oil, fit and forecast", color: COLOURS.oil, data: positive(oil) },
      { id: "history", type: "scatter", name: "Oil, history (monthly)", color: "#1a202c",
        marker: { enabled: true, radius: 2 }, data: positive(history.oil) },
    ],
  });
  charts.rateCum = H.chart(root.querySelector("[data-chart=rate-cum]"), {
    ...baseOptions("Oil rate against cumulative oil", "Rate, m³/day"),
    xAxis: { type: "linear", title: { text: "Cumulative oil, m³" } },
    tooltip: { valueDecimals: 2 },
    series: [
      { id: "history", type: "scatter", name: "History", color: "#1a202c", marker: { enabled: true, radius: 2 },
        data: history.rateCum },
      { id: "forecast", type: "line", name: "Forecast", color: COLOURS.oil, data: forecastRateCum(rows, forecast, lag) },
    ],
  });
  charts.wct = H.chart(root.querySelector("[data-chart=wct-history]"), {
    ...baseOptions("Water cut: history and forecast", "Water cut, %"),
    xAxis: { type: "datetime", plotLines: [asOf] },
    yAxis: { title: { text: "Water cut, %" }, min: 0, max: 100 },
    tooltip: { xDateFormat: "%Y-%m-%d", valueDecimals: 1, valueSuffix: " %" },
    series: [
      { id: "history", type: "scatter", name: "History", color: "#1a202c", marker: { enabled: true, radius: 2 },
        data: history.wct },
      { id: "forecast", type: "line", name: "Forecast", color: COLOURS.wct, data: rows.map((r) => [dayMs(r.date), r.wct * 100]) },
    ],
  });
  const chan = chanSeries(history.wor);
  charts.chan = H.chart(root.querySelector("[data-chart=chan]"), {
    ...baseOptions("Chan plot: water-oil ratio and its derivative (log-log)", "WOR"),
    xAxis: { type: "logarithmic", title: { text: "Days since first production" } },
    yAxis: { type: "logarithmic", title: { text: "WOR, WOR'" } },
    tooltip: { valueDecimals: 3 },
    series: [
      { id: "wor", type: "scatter", name: "WOR", color: COLOURS.water, marker: { enabled: true, radius: 2 },
        data: positive(chan.wor) },
      { id: "derivative", type: "scatter", name: "WOR' = t dWOR/dt", color: COLOURS.wct,
        marker: { enabled: true, radius: 2, symbol: "triangle" }, data: chan.derivative },
    ],
  });
  renderItems(root.querySelector("#cb-forecast-summary"), forecastItems(forecast));
  const reason = forecast.selection ? forecast.selection.reason : `Fit window: ${forecast.fit.window || "as given"}.`;
  root.querySelector("#cb-forecast-reason").textContent = reason;
  return charts;
}

export function start() {
  const page = window.calcboardProduction;
  const node = document.getElementById("cb-calc-config");
  if (!page || !node) return null;
  const config = JSON.parse(node.textContent);
  const show = page.show.bind(page);
  // The run's page reads the detail once it has finished; the forecast charts follow it.
  page.show = (detail) => {
    show(detail);
    if (detail.status !== "finished" || !detail.forecast) return;
    fetchDetail(config.historyUrl)
      .then((history) => {
        page.forecastCharts = drawForecast(page.root, detail, history.results, config.lag);
      })
      .catch((error) => page.fail(`Could not load the well's history: ${error.message}`));
  };
  return page;
}

if (typeof document !== "undefined") start();
