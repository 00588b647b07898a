/* Command-centre dashboard: patrol check-ins, live. A plugin of dashboard.js (see the
 * comment at its top); loaded before it.
 *
 * Lists the station's latest check-ins (GET /api/v1/patrol/checkins) and adds each new one
 * from the patrol.checkin event as it arrives: its verdict, checkpoint, officer's fix and
 * reasons, and a marker where the officer stood (green accepted, amber flagged, red
 * rejected). Officers' dashboards (no event stream) reload the list with the incidents.
 *
 * Hooks for tests: #checkin-feed li[data-checkin-id][data-status] with li[data-reason],
 * and map markers .sz-checkin-marker[data-checkin-id].
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api } = SZ;
  const KEEP = 20;
  const POLL_S = 20;

  let ctx = null;
  const dom = {};
  const checkins = new Map();
  const markers = new Map();

  function newestFirst(a, b) {
    return ctx.stamp(b.scanned_at) - ctx.stamp(a.scanned_at) || b.id - a.id;
  }

  function reasons(list) {
    if (!list.length) return null;
    return h(
      "ul",
      { class: "reasons" },
      list.map((reason) =>
        h("li", { dataset: { reason } }, SZ.i18n.has("off.reason." + reason) ? tr("off.reason." + reason) : reason)
      )
    );
  }

  function item(row, fresh) {
    return h(
      "li",
      { class: "item checkin-item status-" + row.status + (fresh ? " fresh" : ""), dataset: { checkinId: row.id, status: row.status } },
      h(
        "div",
        { class: "item-head" },
        h("span", { class: "chip verdict-" + row.status, i18n: "off.status." + row.status }),
        h("strong", { text: row.checkpoint_id || "?" }),
        time(row.scanned_at, "short")
      ),
      h("div", { class: "item-meta", text: "±" + Math.round(row.accuracy_m) + " m · " + row.device_id }),
      reasons(row.reasons || [])
    );
  }

  function place(row) {
    const old = markers.get(row.id);
    if (old) old.remove();
    const marker = L.marker([row.lat, row.lon], {
      icon: SZ.map.icon("sz-checkin-marker verdict-" + row.status, { checkinId: row.id }, 16),
      zIndexOffset: 500,
    });
    marker.bindTooltip((row.checkpoint_id || "?") + " · " + SZ.t("off.status." + row.status));
    marker.addTo(ctx.layers.checkins);
    markers.set(row.id, marker);
  }

  function render(freshId) {
    const rows = Array.from(checkins.values()).sort(newestFirst).slice(0, KEEP);
    const keep = new Set(rows.map((r) => r.id));
    for (const [id, marker] of markers) {
      if (!keep.has(id)) {
        marker.remove();
        markers.delete(id);
      }
    }
    for (const id of Array.from(checkins.keys())) if (!keep.has(id)) checkins.delete(id);
    dom.list.replaceChildren(...rows.map((row) => item(row, row.id === freshId)));
    dom.empty.hidden = rows.length > 0;
    dom.count.textContent = String(rows.length);
  }

  async function load() {
    try {
      const rows = await api("/api/v1/patrol/checkins?limit=" + KEEP);
      for (const row of rows) {
        checkins.set(row.id, row);
        place(row);
      }
      render(null);
    } catch (err) {
      console.warn("check-ins not loaded", err);
    }
  }

  (SZ.dashPlugins = SZ.dashPlugins || []).push({
    topics: ["patrol.checkin"],
    layers: [["checkins", "layer.checkins", true]],

    init(context) {
      ctx = context;
      dom.list = document.getElementById("checkin-feed");
      dom.empty = document.getElementById("checkin-feed-empty");
      dom.count = document.getElementById("checkin-feed-count");
      load();
      if (!ctx.canTriage) setInterval(load, POLL_S * 1000);
    },

    onEvent(topic, data) {
      if (topic !== "patrol.checkin" || !data.checkin) return;
      checkins.set(data.checkin.id, data.checkin);
      place(data.checkin);
      render(data.checkin.id);
    },
  });
})();
