// Draws the dashboard's charts with ECharts from the tables the page embeds
// (#dashboard-data), again after each live refresh, and toggles each chart's table view.
(function () {
  "use strict";
  const charts = [];
  const palette = ["#1d5fa7", "#d97706", "#15803d", "#b91c1c", "#7c3aed", "#0e7490"];

  function compact(value) {
    const size = Math.abs(value);
    if (size >= 1e9) return value / 1e9 + "B";
    if (size >= 1e6) return value / 1e6 + "M";
    if (size >= 1e3) return value / 1e3 + "k";
    return String(value);
  }

  function unique(values) {
    return Array.from(new Set(values));
  }

  // "import" and "export" in the reader's language, from the page (#direction-labels).
  function directionLabel(direction) {
    const labels = document.getElementById("direction-labels");
    return (labels && JSON.parse(labels.textContent)[direction]) || direction;
  }

  function seriesByDirection(rows, xKey, valueKey, type, suffix) {
    const xs = unique(rows.map((r) => r[xKey]));
    return {
      xs: xs,
      series: unique(rows.map((r) => r.direction)).map((direction) => ({
        name: directionLabel(direction) + (suffix || ""),
        type: type,
        connectNulls: true,
        data: xs.map((x) => {
          const row = rows.find((r) => r[xKey] === x && r.direction === direction);
          return row ? row[valueKey] : null;
        }),
      })),
    };
  }

  function option(table) {
    const rows = table.rows;
    const label = (key) => (table.columns.find((c) => c.key === key) || {}).label || key;
    const base = {
      color: palette,
      grid: { left: 48, right: 16, top: 36, bottom: 40, containLabel: true },
      tooltip: { trigger: "axis" },
      // One scrolling line: a wrapped legend would run into the plot.
      legend: { top: 0, type: "scroll" },
    };
    if (table.key === "releases_per_hour" || table.key === "zone_gate_per_hour") {
      return Object.assign(base, {
        legend: { show: false },
        xAxis: { type: "category", data: rows.map((r) => r.hour) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: label("count"), type: "bar", data: rows.map((r) => r.count) }],
      });
    }
    if (table.key === "clearance_by_day" || table.key === "clearance_by_terminal") {
      const xKey = table.key === "clearance_by_day" ? "day" : "terminal";
      const type = table.key === "clearance_by_day" ? "line" : "bar";
      const median = seriesByDirection(rows, xKey, "median_h", type, " · " + label("median_h"));
      const p90 = seriesByDirection(rows, xKey, "p90_h", type, " · " + label("p90_h"));
      p90.series.forEach((s) => {
        s.lineStyle = { type: "dashed" };
        s.itemStyle = { opacity: 0.55 };
      });
      return Object.assign(base, {
        xAxis: { type: "category", data: median.xs },
        yAxis: { type: "value", name: "h" },
        series: median.series.concat(p90.series),
      });
    }
    if (table.key === "inspection_waiting") {
      return Object.assign(base, {
        xAxis: { type: "category", data: rows.map((r) => r.terminal) },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: label("containers"), type: "bar", data: rows.map((r) => r.containers) },
          { name: label("median_wait_h"), type: "line", yAxisIndex: 0, data: rows.map((r) => r.median_wait_h) },
        ],
      });
    }
    if (table.key === "inspection_queue") {
      return Object.assign(base, {
        legend: { show: false },
        xAxis: { type: "category", data: rows.map((r) => r.area) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: label("waiting"), type: "bar", data: rows.map((r) => r.waiting) }],
      });
    }
    if (table.key === "boardings") {
      return Object.assign(base, {
        xAxis: {
          type: "category",
          data: rows.map((r) => r.who),
          axisLabel: { interval: 0, width: 120, overflow: "break" },
        },
        yAxis: { type: "value", axisLabel: { formatter: "{value} h" } },
        series: ["to_boarding", "to_release"].map((key) => ({
          name: label(key),
          type: "bar",
          data: rows.map((r) => r[key]),
        })),
      });
    }
    if (table.key === "diversion") {
      const parts = ["ship_side", "inspection_area", "yard", "direct_loading"];
      return Object.assign(base, {
        xAxis: { type: "category", data: rows.map((r) => r.call) },
        yAxis: { type: "value", minInterval: 1 },
        series: parts.map((part) => ({
          name: label(part),
          type: "bar",
          stack: "containers",
          data: rows.map((r) => r[part]),
        })),
      });
    }
    // Trade tables: value by key, largest on top.
    const ordered = rows.slice().reverse();
    return Object.assign(base, {
      legend: { show: false },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", axisLabel: { formatter: compact } },
      yAxis: {
        type: "category",
        data: ordered.map((r) => String(r.key)),
        axisLabel: { width: 150, overflow: "truncate" },
      },
      series: [{ name: label("value"), type: "bar", data: ordered.map((r) => r.value) }],
    });
  }

  function draw() {
    charts.splice(0).forEach((chart) => chart.dispose());
    const data = document.getElementById("dashboard-data");
    if (!data || !window.echarts) {
      return;
    }
    const tables = JSON.parse(data.textContent);
    document.querySelectorAll("[data-chart]").forEach((el) => {
      const table = tables.find((t) => t.key === el.dataset.chart);
      if (!table) {
        return;
      }
      if (table.rows.length === 0) {
        el.classList.add("no-data");
        return;
      }
      const chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option(table));
      charts.push(chart);
    });
  }

  // The panels switched to their table view; a live refresh redraws the panels, so the
  // choice is kept here and applied again after every swap.
  const tableViews = new Set();

  function showView(button, showTable) {
    const panel = button.closest(".panel");
    const table = document.getElementById(button.getAttribute("aria-controls"));
    table.hidden = !showTable;
    panel.querySelector(".chart").hidden = showTable;
    panel.dataset.view = showTable ? "table" : "chart";
    button.setAttribute("aria-expanded", String(showTable));
  }

  function restoreViews() {
    tableViews.forEach((id) => {
      const button = document.querySelector(`[data-toggle-view][aria-controls="${id}"]`);
      if (button) {
        showView(button, true);
      }
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-toggle-view]");
    if (!button) {
      return;
    }
    const id = button.getAttribute("aria-controls");
    const showTable = document.getElementById(id).hidden;
    if (showTable) {
      tableViews.add(id);
    } else {
      tableViews.delete(id);
    }
    showView(button, showTable);
  });

  window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id === "dashboard-body") {
      draw();
      restoreViews();
    }
  });
})();
