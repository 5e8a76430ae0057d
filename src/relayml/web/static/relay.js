// relayml pages: the CSRF header on htmx requests, charts (uPlot) and graphs (dagre) drawn from
// JSON islands. No inline script anywhere: the pages' Content-Security-Policy forbids it.
"use strict";

(function () {
  function csrf() {
    return document.body ? document.body.dataset.csrf || "" : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  function island(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  var PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563"];

  function drawChart(box) {
    var data = island(box.dataset.chart);
    if (!data || typeof uPlot === "undefined") {
      return;
    }
    var width = Math.max(box.clientWidth || 0, 320);
    var height = parseInt(box.dataset.height || "220", 10);
    var series = [{ label: data.x_label || (data.x_time ? "time" : "step") }];
    var columns = [data.x];
    (data.series || []).forEach(function (s, i) {
      series.push({
        label: s.label,
        stroke: s.color || PALETTE[i % PALETTE.length],
        width: 1.5,
        dash: s.dash || undefined,
        points: { show: data.x.length < 60 },
        spanGaps: true,
      });
      columns.push(s.values);
    });
    var options = {
      width: width,
      height: height,
      series: series,
      scales: { x: { time: !!data.x_time } },
      axes: [{}, { size: 60 }],
      legend: { live: true },
    };
    box.textContent = "";
    box.uplot = new uPlot(options, columns, box);
  }

  var SVG = "http://www.w3.org/2000/svg";

  function svgElement(name, attrs) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) {
      element.setAttribute(key, attrs[key]);
    });
    return element;
  }

  function drawGraph(box) {
    var data = island(box.dataset.graph);
    if (!data || typeof dagre === "undefined") {
      return;
    }
    var g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: data.direction || "LR", nodesep: 18, ranksep: 50, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(function () {
      return {};
    });
    data.nodes.forEach(function (n) {
      var width = Math.min(Math.max(60, n.label.length * 7 + 20), 260);
      g.setNode(n.id, { label: n.label, width: width, height: 30, node: n });
    });
    data.edges.forEach(function (e) {
      if (g.hasNode(e.from) && g.hasNode(e.to)) {
        g.setEdge(e.from, e.to);
      }
    });
    dagre.layout(g);
    var size = g.graph();
    var svg = svgElement("svg", {
      viewBox: "0 0 " + Math.ceil(size.width) + " " + Math.ceil(size.height),
      width: Math.ceil(size.width),
      height: Math.ceil(size.height),
      class: "graph-svg",
    });
    var title = svgElement("title", {});
    title.textContent = box.getAttribute("aria-label") || "graph";
    svg.appendChild(title);
    g.edges().forEach(function (e) {
      var points = g.edge(e).points;
      var d = points.map(function (p, i) {
        return (i ? "L" : "M") + p.x.toFixed(1) + " " + p.y.toFixed(1);
      }).join(" ");
      svg.appendChild(svgElement("path", { d: d, class: "edge" }));
    });
    g.nodes().forEach(function (id) {
      var n = g.node(id);
      var group = svgElement("g", { class: "node " + (n.node.kind || "") + (n.node.current ? " current" : "") });
      var holder = group;
      if (n.node.href) {
        holder = svgElement("a", { href: n.node.href });
        group.appendChild(holder);
      }
      holder.appendChild(svgElement("rect", {
        x: (n.x - n.width / 2).toFixed(1), y: (n.y - n.height / 2).toFixed(1),
        width: n.width, height: n.height, rx: 5,
      }));
      var text = svgElement("text", { x: n.x.toFixed(1), y: (n.y + 4).toFixed(1), "text-anchor": "middle" });
      text.textContent = n.label.length > 36 ? n.label.slice(0, 35) + "…" : n.label;
      holder.appendChild(text);
      svg.appendChild(group);
    });
    box.textContent = "";
    box.appendChild(svg);
  }

  function drawAll(root) {
    root.querySelectorAll("[data-chart]").forEach(drawChart);
    root.querySelectorAll("[data-graph]").forEach(drawGraph);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    drawAll(event.target);
  });
})();
