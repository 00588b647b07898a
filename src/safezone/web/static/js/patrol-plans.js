/* The commander's patrol map: for a plan and a shift date, each checkpoint coloured by
 * whether its target visits were made on time, late, partly, missed or are still due,
 * the route drawn in order, the figures per checkpoint and officer, and the exports.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, api, t } = SZ;

  SZ.onReady(() => {
    const root = document.getElementById("sz-plans");
    if (!root) return;
    const form = document.getElementById("plan-pick");
    const select = document.getElementById("plan-select");
    const dateInput = document.getElementById("plan-date");
    const map = SZ.map.create(document.getElementById("plan-map"), {
      tileUrl: root.dataset.tileUrl,
      attribution: root.dataset.tileAttribution,
    });
    const layer = L.featureGroup().addTo(map);

    function query() {
      return dateInput.value ? "?date=" + encodeURIComponent(dateInput.value) : "";
    }

    function exports(planId) {
      const base = "/api/v1/patrol/plans/" + encodeURIComponent(planId) + "/compliance";
      document.getElementById("plan-csv").href = base + ".csv" + query();
      document.getElementById("plan-pdf").href = base + ".pdf" + query();
    }

    function drawMap(report) {
      // The page around the map may have changed size since it was made.
      map.invalidateSize();
      layer.clearLayers();
      const route = [];
      for (const cp of report.checkpoints) {
        if (cp.lat === null || cp.lon === null) continue;
        const point = [cp.lat, cp.lon];
        route.push(point);
        const marker = L.marker(point, {
          icon: SZ.map.icon("plan-" + cp.state, { checkpoint: cp.checkpoint_id, state: cp.state }, 22),
          title: cp.name,
        });
        marker.bindTooltip(
          () => (cp.position + 1) + ". " + cp.name + " · " + t("plan.state." + cp.state),
        );
        layer.addLayer(marker);
      }
      if (route.length > 1) {
        layer.addLayer(L.polyline(route, { color: "#0b3d91", weight: 2, dashArray: "6 6" }));
      }
      SZ.map.fit(map, layer);
    }

    function drawTables(report) {
      const totals = report.totals;
      document.getElementById("plan-shift").replaceChildren(
        report.plan_name + " · ",
        SZ.time(report.shift_start, "short"),
        " – ",
        SZ.time(report.shift_end, "short"),
      );
      document.getElementById("plan-totals").replaceChildren(
        ...["on_time", "late", "missed", "pending", "flagged"].map((key) =>
          h("span", { class: "badge plan-" + key, dataset: { total: key } }, t("plan.outcome." + key), " ", String(totals[key])),
        ),
      );
      const head = h("tr", null, ...["plan.col.checkpoint", "plan.col.target", "plan.outcome.on_time", "plan.outcome.late", "plan.outcome.missed", "plan.outcome.flagged", "plan.col.state"].map((key) => h("th", { i18n: key })));
      const rows = report.checkpoints.map((cp) =>
        h(
          "tr",
          { dataset: { checkpoint: cp.checkpoint_id } },
          h("td", null, (cp.position + 1) + ". " + cp.name, cp.housewatch_request_id ? h("span", { class: "badge", i18n: "plan.housewatch" }) : null),
          h("td", { text: String(cp.target_visits) }),
          h("td", { text: String(cp.on_time) }),
          h("td", { text: String(cp.late) }),
          h("td", { text: String(cp.missed) }),
          h("td", { text: String(cp.flagged) }),
          h("td", { i18n: "plan.state." + cp.state }),
        ),
      );
      document.getElementById("plan-table").replaceChildren(h("thead", null, head), h("tbody", null, ...rows));
      const officerHead = h("tr", null, ...["plan.col.officer", "plan.outcome.on_time", "plan.outcome.late", "plan.outcome.flagged", "plan.col.checkins", "plan.col.rejected"].map((key) => h("th", { i18n: key })));
      const officerRows = report.officers.map((o) =>
        h("tr", null, ...[o.officer, o.on_time, o.late, o.flagged, o.checkins, o.rejected_scans].map((v) => h("td", { text: String(v) }))),
      );
      document.getElementById("plan-officers").replaceChildren(h("thead", null, officerHead), h("tbody", null, ...officerRows));
    }

    async function show() {
      SZ.clearErrors(form);
      if (!select.value) return;
      exports(select.value);
      try {
        const report = await api("/api/v1/patrol/plans/" + encodeURIComponent(select.value) + "/compliance" + query());
        if (!dateInput.value) dateInput.value = report.date;
        exports(select.value);
        drawMap(report);
        drawTables(report);
      } catch (err) {
        SZ.showErrors(form, err);
      }
    }

    select.addEventListener("change", show);
    dateInput.addEventListener("change", show);
    api("/api/v1/patrol/plans?active=true")
      .then((plans) => {
        document.getElementById("plan-none").hidden = plans.length > 0;
        select.replaceChildren(...plans.map((p) => h("option", { value: p.id, text: p.name })));
        show();
      })
      .catch((err) => SZ.showErrors(form, err));
    // The running shift fills in as officers scan.
    setInterval(() => {
      if (document.visibilityState === "visible") show();
    }, 60000);
  });
})();
