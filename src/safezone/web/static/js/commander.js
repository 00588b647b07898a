/* Commander's KPI page (/commander): charts drawn here as inline SVG from
 * GET /api/v1/commander/kpis, the hotspot / forecast map (hotspots.js) and the proposed
 * patrol plan for the next shift (GET /api/v1/analytics/recommendations).
 *
 * Hooks for tests: svg.sz-chart[data-chart=incidents|response|sos|checkins|compliance] with
 * rect.sz-bar elements (data-value), #kpi-range, #rec-stops rows [data-checkpoint-id].
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, t, api, onReady } = SZ;
  // The SVG namespace, as the HTML parser assigns it (no URL literal in our scripts).
  const SVG = (() => {
    const probe = document.createElement("div");
    probe.innerHTML = "<svg></svg>";
    return probe.firstChild.namespaceURI;
  })();
  const PALETTE = [
    "#0b3d91", "#e6550d", "#31a354", "#756bb1", "#de2d26", "#3182bd", "#fdae6b",
    "#636363", "#c51b8a", "#74c476", "#9e9ac8", "#fd8d3c", "#6baed6", "#bdbdbd",
  ];
  const CHECKIN_COLOURS = { accepted: "#31a354", flagged: "#fdae6b", rejected: "#de2d26" };
  const COMPLIANCE_COLOURS = { on_time: "#31a354", late: "#fdae6b", missed: "#de2d26", pending: "#bdbdbd" };
  const W = 640;
  const H = 240;
  const PAD = { left: 40, right: 10, top: 10, bottom: 40 };

  let data = null;
  let plan = null;

  onReady(init);

  function init() {
    const root = document.getElementById("sz-commander");
    if (!root) return;
    const map = SZ.map.create(document.getElementById("cmd-map"), {
      tileUrl: root.dataset.tileUrl,
      attribution: root.dataset.tileAttribution,
      onTiles: (ok) => {
        document.getElementById("tile-note").hidden = ok;
      },
    });
    SZ.map.publicZones(map);
    SZ.hotspots.attach(map, { initial: "forecast", position: "topright" });
    document.getElementById("kpi-range").addEventListener("change", loadKpis);
    document.addEventListener("sz:lang", () => {
      if (data) renderKpis();
      if (plan) renderPlan();
    });
    document.getElementById("rec-accept").addEventListener("click", acceptPlan);
    loadKpis();
    loadPlan();
    watchEscalations();
  }

  // --- SOS escalated to the commander -----------------------------------------------

  const escalated = new Map(); // incident id -> its summary, while still unacknowledged

  /** An SOS nobody acknowledged in time is escalated to the commander: shown at the top
   * of this page at once (the station's event stream), and on opening the page for those
   * still waiting; gone once someone acknowledges it. */
  const settled = new Set(); // acknowledged (per the stream) while the list was loading

  function watchEscalations() {
    listenForEscalations();
    api("/api/v1/incidents?status=new&limit=200")
      .then((list) => {
        // A list answer older than an acknowledgement the stream brought must not undo it.
        list
          .filter((incident) => incident.escalated_at && !settled.has(incident.id))
          .forEach((incident) => escalated.set(incident.id, incident));
        renderEscalations();
      })
      .catch((err) => console.warn("escalations not loaded", err));
  }

  function listenForEscalations() {
    if (!window.EventSource) return;
    const source = new EventSource("/api/v1/events/stream");
    const on = (topic, handle) =>
      source.addEventListener(topic, (event) => {
        let data = null;
        try {
          data = JSON.parse(event.data);
        } catch (err) {
          return;
        }
        if (data && data.incident) handle(data.incident);
      });
    on("incident.escalated", (incident) => {
      if (incident.status !== "new") return;
      escalated.set(incident.id, incident);
      renderEscalations();
    });
    on("incident.status_changed", (incident) => {
      if (incident.status === "new") return;
      settled.add(incident.id);
      if (escalated.delete(incident.id)) renderEscalations();
    });
  }

  function renderEscalations() {
    const box = document.getElementById("cmd-escalations");
    const list = document.getElementById("cmd-escalated-list");
    list.replaceChildren(
      ...Array.from(escalated.values()).map((incident) =>
        h(
          "li",
          { dataset: { incidentId: incident.id } },
          h("strong", { text: incident.title || "#" + incident.id }),
          " · ",
          SZ.time(incident.created_at)
        )
      )
    );
    box.hidden = escalated.size === 0;
  }

  // Accepting the proposal creates it as a patrol plan, exactly as proposed; the
  // commander then follows it (and its compliance) on /command/patrol.
  async function acceptPlan() {
    const button = document.getElementById("rec-accept");
    const note = document.getElementById("rec-accepted");
    button.disabled = true;
    try {
      const created = await api("/api/v1/patrol/plans", { method: "POST", json: plan.plan });
      note.replaceChildren(
        t("cmd.rec.accepted", { id: created.id }) + " ",
        h("a", { href: "/command/patrol?plan=" + created.id, text: t("nav.patrol") })
      );
      button.hidden = true;
    } catch (err) {
      note.textContent = t("cmd.error", { message: err.message });
      button.disabled = false;
    }
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function fmt(value, digits) {
    return Number(value).toLocaleString(SZ.i18n.lang() === "th" ? "th-TH" : "en-GB", {
      maximumFractionDigits: digits === undefined ? 1 : digits,
    });
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const step = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 5, 10]) if (m * step >= value) return m * step;
    return 10 * step;
  }

  function axes(chart, max, labels) {
    const plotH = H - PAD.top - PAD.bottom;
    for (let i = 0; i <= 4; i++) {
      const y = PAD.top + plotH - (plotH * i) / 4;
      chart.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "sz-grid" }));
      chart.append(
        svg("text", { x: PAD.left - 4, y: y + 4, "text-anchor": "end", class: "sz-tick" }, fmt((max * i) / 4, 1))
      );
    }
    const plotW = W - PAD.left - PAD.right;
    const every = Math.max(1, Math.ceil(labels.length / 10));
    labels.forEach((label, i) => {
      if (i % every) return;
      const x = PAD.left + (plotW * (i + 0.5)) / labels.length;
      chart.append(svg("text", { x, y: H - PAD.bottom + 14, "text-anchor": "middle", class: "sz-tick" }, label));
    });
  }

  function chartBox(name, titleKey) {
    const el = svg("svg", {
      viewBox: `0 0 ${W} ${H}`,
      class: "sz-chart",
      role: "img",
      "data-chart": name,
      "aria-label": t(titleKey),
      preserveAspectRatio: "xMidYMid meet",
    });
    return el;
  }

  /** Stacked bars: labels on x, series [{label, colour, values}]. */
  function stacked(name, titleKey, labels, series) {
    const chart = chartBox(name, titleKey);
    const totals = labels.map((_, i) => series.reduce((s, x) => s + x.values[i], 0));
    // Counts: a top that four gridlines divide into whole numbers.
    const max = Math.max(4, Math.ceil(niceMax(Math.max(0, ...totals)) / 4) * 4);
    axes(chart, max, labels);
    const plotW = W - PAD.left - PAD.right;
    const plotH = H - PAD.top - PAD.bottom;
    const bw = (plotW / labels.length) * 0.7;
    labels.forEach((label, i) => {
      let y = PAD.top + plotH;
      const x = PAD.left + (plotW * i) / labels.length + (plotW / labels.length - bw) / 2;
      for (const s of series) {
        const v = s.values[i];
        if (!v) continue;
        const hgt = (plotH * v) / max;
        y -= hgt;
        const rect = svg("rect", { x, y, width: bw, height: hgt, fill: s.colour, class: "sz-bar", "data-value": v });
        rect.append(svg("title", {}, `${label} · ${s.label}: ${v}`));
        chart.append(rect);
      }
    });
    return chart;
  }

  /** Grouped bars: groups on x, bars [{label, colour, values}] side by side. */
  function grouped(name, titleKey, groups, bars) {
    const chart = chartBox(name, titleKey);
    const values = bars.flatMap((b) => b.values.filter((v) => v !== null));
    const max = niceMax(Math.max(0, ...values));
    axes(chart, max, groups);
    const plotW = W - PAD.left - PAD.right;
    const plotH = H - PAD.top - PAD.bottom;
    const gw = plotW / groups.length;
    const bw = (gw * 0.8) / bars.length;
    groups.forEach((group, i) => {
      bars.forEach((b, j) => {
        const v = b.values[i];
        if (v === null) return;
        const hgt = (plotH * v) / max;
        const x = PAD.left + gw * i + gw * 0.1 + bw * j;
        const rect = svg("rect", {
          x,
          y: PAD.top + plotH - hgt,
          width: bw * 0.9,
          height: hgt,
          fill: b.colour,
          class: "sz-bar",
          "data-value": v,
        });
        rect.append(svg("title", {}, `${group} · ${b.label}: ${fmt(v)}`));
        chart.append(rect);
      });
    });
    return chart;
  }

  function legend(series) {
    return h(
      "ul",
      { class: "sz-legend-list sz-chart-legend" },
      series.map((s) => h("li", {}, h("span", { class: "sz-swatch", style: "background:" + s.colour }), " ", s.label))
    );
  }

  async function loadKpis() {
    const days = parseInt(document.getElementById("kpi-range").value, 10) || 14;
    const status = document.getElementById("kpi-status");
    const end = new Date();
    const start = new Date(end.getTime() - (days - 1) * 86400000);
    const local = (d) => d.toLocaleDateString("en-CA", { timeZone: "Asia/Bangkok" });
    status.textContent = t("cmd.loading");
    try {
      data = await api(`/api/v1/commander/kpis?start=${local(start)}&end=${local(end)}`);
      status.textContent = "";
      renderKpis();
    } catch (err) {
      status.textContent = t("cmd.error", { message: err.message });
    }
  }

  function shortDay(iso) {
    return iso.slice(8, 10) + "/" + iso.slice(5, 7);
  }

  function renderKpis() {
    const labels = data.days.map(shortDay);
    const cats = Object.keys(data.incidents.by_category);
    const catSeries = cats.map((c, i) => ({
      label: t("cat." + c),
      colour: PALETTE[i % PALETTE.length],
      values: data.incidents.by_category[c],
    }));
    const priorities = data.response_times.map((r) => t("priority." + r.priority));
    const minutes = (v) => (v === null ? null : v / 60);
    const responseBars = [
      ["acknowledge_p50_s", "cmd.ack_p50", "#9ecae1"],
      ["acknowledge_p90_s", "cmd.ack_p90", "#3182bd"],
      ["resolve_p50_s", "cmd.resolve_p50", "#fdae6b"],
      ["resolve_p90_s", "cmd.resolve_p90", "#e6550d"],
    ].map(([key, label, colour]) => ({
      label: t(label),
      colour,
      values: data.response_times.map((r) => minutes(r[key])),
    }));
    const checkSeries = ["accepted", "flagged", "rejected"].map((s) => ({
      label: t("cmd.checkin." + s),
      colour: CHECKIN_COLOURS[s],
      values: data.checkins.by_day[s],
    }));
    const totals = data.checkins.totals;
    const checked = totals.accepted + totals.flagged + totals.rejected;
    document.getElementById("kpi-cards").replaceChildren(
      card("cmd.card.incidents", fmt(data.incidents.total, 0)),
      card("cmd.card.sos", fmt(data.sos.total, 0)),
      card("cmd.card.checkins", fmt(checked, 0)),
      card("cmd.card.accepted", checked ? fmt((100 * totals.accepted) / checked, 0) + " %" : "–")
    );
    fill("chart-incidents", stacked("incidents", "cmd.chart.incidents", labels, catSeries), legend(catSeries));
    const table = h(
      "table",
      { class: "table small" },
      h("thead", {}, h("tr", {}, h("th", { i18n: "cmd.priority" }), h("th", { text: "n" }),
        ...responseBars.map((b) => h("th", { text: b.label })))),
      h("tbody", {}, data.response_times.map((r, i) =>
        h("tr", { dataset: { priority: r.priority } }, h("td", { text: priorities[i] }), h("td", { text: r.incidents }),
          ...responseBars.map((b) => h("td", { text: b.values[i] === null ? "–" : fmt(b.values[i]) })))))
    );
    fill("chart-response", grouped("response", "cmd.chart.response", priorities, responseBars), legend(responseBars), h("div", { class: "table-scroll" }, table));
    const sosSeries = [{ label: t("cmd.card.sos"), colour: "#de2d26", values: data.sos.by_day }];
    fill("chart-sos", stacked("sos", "cmd.chart.sos", labels, sosSeries));
    fill("chart-checkins", stacked("checkins", "cmd.chart.checkins", labels, checkSeries), legend(checkSeries));
    // Patrol plans: each target visit of each shift is on time, late, missed or pending.
    const complianceSeries = ["on_time", "late", "missed", "pending"].map((o) => ({
      label: t("cmd.compliance." + o),
      colour: COMPLIANCE_COLOURS[o],
      values: data.compliance.by_day[o],
    }));
    const c = data.compliance.totals;
    const due = c.on_time + c.late + c.missed;
    fill(
      "chart-compliance",
      data.compliance.shifts
        ? stacked("compliance", "cmd.chart.compliance", labels, complianceSeries)
        : tr("cmd.compliance.none", { class: "muted" }),
      data.compliance.shifts ? legend(complianceSeries) : "",
      h("p", { class: "small", dataset: { onTime: due ? Math.round((100 * c.on_time) / due) : "" } },
        t("cmd.compliance.summary", {
          shifts: data.compliance.shifts,
          on_time: due ? fmt((100 * c.on_time) / due, 0) + " %" : "–",
          missed: c.missed,
        }))
    );
  }

  function card(key, value) {
    return h("div", { class: "kpi-card" }, h("span", { class: "kpi-value", text: value }), tr(key, { class: "kpi-label" }));
  }

  function fill(id, ...nodes) {
    document.getElementById(id).replaceChildren(...nodes);
  }

  async function loadPlan() {
    const status = document.getElementById("rec-status");
    status.textContent = t("cmd.loading");
    try {
      plan = await api("/api/v1/analytics/recommendations?shift=next");
      status.textContent = "";
      renderPlan();
    } catch (err) {
      status.textContent = t("cmd.error", { message: err.message });
    }
  }

  function renderPlan() {
    const shift = plan.shift;
    document.getElementById("rec-shift").textContent = t("cmd.rec.shift", {
      date: shift.date,
      shift: shift.start_time + "–" + shift.end_time,
      expected: fmt(plan.expected_incidents, 1),
    });
    const body = document.getElementById("rec-stops");
    body.replaceChildren(
      ...plan.stops.map((s) =>
        h(
          "tr",
          { dataset: { checkpointId: s.checkpoint_id } },
          h("td", { text: s.position + 1 }),
          h("td", { text: s.checkpoint_id + (s.name && s.name !== s.checkpoint_id ? " · " + s.name : "") }),
          h("td", { text: fmt(s.risk_share * 100, 0) + " %" }),
          h("td", { text: s.target_visits })
        )
      )
    );
    document.getElementById("rec-empty").hidden = plan.stops.length > 0;
    document.getElementById("rec-accept").hidden = !plan.plan;
    document.getElementById("rec-body").textContent = plan.plan ? JSON.stringify(plan.plan, null, 2) : "";
    document.getElementById("rec-json").hidden = !plan.plan;
  }
})();
