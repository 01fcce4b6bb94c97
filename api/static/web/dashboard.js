/* 统计 (/dashboard/): one chart per table, drawn with the vendored ECharts from the statistics endpoint.
   Each chart's container names its query in data-src (same origin: the session cookie authenticates).
   Bars: 发现数, 整改数, 逾期数; line: 整改率 (%, right axis). No inline script anywhere (CSP script-src 'self'). */
(function () {
  "use strict";

  function percent(rate) {
    return rate === null ? null : Math.round(rate * 1000) / 10;
  }

  function labels(box, data) {
    // Weeks by their Monday (11-02起); schools and categories by name, wrapped, or slanted when many.
    if (box.getAttribute("data-group") === "week") {
      return data.groups.map(function (g) { return g.key.slice(5) + "起"; });
    }
    return data.groups.map(function (g) { return g.name; });
  }

  function draw(box, data) {
    var names = labels(box, data);
    var room = box.clientWidth / Math.max(names.length, 1);
    var slanted = room < 64;
    var chart = echarts.init(box, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: ["发现数", "整改数", "逾期数", "整改率"] },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: {
        type: "category",
        data: names,
        axisLabel: slanted
          ? { interval: 0, rotate: 45, width: 96, overflow: "truncate" }
          : { interval: 0, width: Math.max(room - 8, 40), overflow: "break" }
      },
      yAxis: [
        { type: "value", minInterval: 1 },
        { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }
      ],
      series: [
        { name: "发现数", type: "bar", data: data.groups.map(function (g) { return g.found; }) },
        { name: "整改数", type: "bar", data: data.groups.map(function (g) { return g.rectified; }) },
        { name: "逾期数", type: "bar", data: data.groups.map(function (g) { return g.overdue; }) },
        {
          name: "整改率", type: "line", yAxisIndex: 1,
          data: data.groups.map(function (g) { return percent(g.rectification_rate); }),
          tooltip: { valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + "%"; } }
        }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    // What the chart was drawn from, for a reader of the page's source (and the browser test).
    box.setAttribute("data-total-found", String(data.total.found));
    box.setAttribute("data-total-rate", data.total.rectification_rate === null ? "" : String(data.total.rectification_rate));
    box.setAttribute("data-drawn", "true");
  }

  function load(box) {
    fetch(box.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) { draw(box, data); })
      .catch(function () {
        box.textContent = "图表暂时无法加载（表格中的数据不受影响）。";
        box.setAttribute("data-drawn", "failed");
      });
  }

  function start() {
    if (typeof echarts === "undefined") { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".chart[data-src]"), load);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
