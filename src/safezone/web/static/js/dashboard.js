/* Command-centre dashboard.
 *
 * Loads the registry (zones, cameras, SOS boxes, checkpoints), incidents and the queue
 * of reports waiting for triage, then keeps them current from the server-sent event
 * stream (/api/v1/events/stream): each event updates the lists and the map in place.
 * Officers (who have no event stream) poll instead. Commands go over REST.
 *
 * Hooks for tests and scripts: list items carry data-incident-id / data-report-id, and
 * map markers are .sz-incident-marker / .sz-report-marker elements with the same data.
 *
 * Plugins (dash-sos.js, dash-alerts.js, loaded before this file) add to SZ.dashPlugins
 * objects with any of: topics (more event topics), layers (more map layers), init(ctx),
 * onEvent(topic, data), onIncident(incident, fresh), detailBlock(detail) (returns
 * {node, replacesCameras, top} or null), onDetail(id or null), decorateAsset(kind, item,
 * marker), onRegistry() and onLang(). ctx is the dashboard's API for them (makeContext).
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api, t, onReady, busy, showErrors } = SZ;
  const PLUGINS = (SZ.dashPlugins = SZ.dashPlugins || []);

  const ACTIVE = ["new", "acknowledged", "dispatched", "on_scene"];
  const PRIORITIES = ["critical", "high", "medium", "low"];
  const CONTROL_ROOM = ["operator", "commander", "admin"];
  const TOPICS = [
    "incident.created",
    "incident.status_changed",
    "incident.updated",
    "incident.note",
    "incident.report_linked",
    "incident.recorded",
    "report.created",
    "report.triaged",
    "report.photo_added",
    "registry.changed",
  ];
  const LAYERS = [
    ["zones", "layer.zones", true],
    ["cameras", "layer.cameras", true],
    ["sos", "layer.sos", true],
    ["checkpoints", "layer.checkpoints", true],
    ["reports", "layer.reports", true],
    ["incidents", "layer.incidents", true],
    ["closed", "layer.closed", false],
  ];
  const ASSETS = {
    zone: { path: "/api/v1/zones", layer: "zones" },
    camera: { path: "/api/v1/cameras", layer: "cameras" },
    sos_box: { path: "/api/v1/sos-boxes", layer: "sos" },
    checkpoint: { path: "/api/v1/checkpoints", layer: "checkpoints" },
  };
  const SIDE_TABS = ["incidents", "alerts", "devices"];
  const POLL_S = 20;
  const MAX_RETRY_MS = 30000;
  const MERGE_SUGGEST_M = 1000;

  const state = {
    role: "",
    canTriage: false,
    incidents: new Map(),
    reports: new Map(),
    reportSeenAt: new Map(),
    photos: new Map(),
    assets: { zone: new Map(), camera: new Map(), sos_box: new Map(), checkpoint: new Map() },
    filter: "active",
    openId: null,
    detail: null,
    lastEventId: null,
    source: null,
    retryMs: 2000,
    refreshTimer: null,
    detailTimer: null,
    escalated: new Set(),
  };
  const markers = { incidents: new Map(), reports: new Map(), focus: null };
  let dom = {};
  let map = null;
  let layers = {};
  let layerControl = null;
  let ctx = null;

  onReady(init);

  /** Call `name` on every plugin that has it; one plugin's error never stops the rest. */
  function notify(name, ...args) {
    const results = [];
    for (const plugin of PLUGINS) {
      if (typeof plugin[name] !== "function") continue;
      try {
        results.push(plugin[name](...args));
      } catch (err) {
        console.error("dashboard plugin failed in", name, err);
      }
    }
    return results;
  }

  function allLayers() {
    return LAYERS.concat(...PLUGINS.map((p) => p.layers || []));
  }

  function allTopics() {
    const topics = new Set(TOPICS);
    for (const plugin of PLUGINS) for (const topic of plugin.topics || []) topics.add(topic);
    return Array.from(topics);
  }

  /** What plugins may use of the dashboard. */
  function makeContext() {
    return {
      map,
      layers,
      state,
      dom,
      role: state.role,
      canTriage: state.canTriage,
      openDetail,
      closeDetail,
      showDetail,
      upsertIncident,
      isActive,
      isEscalated,
      markEscalated,
      incidentLabel,
      ownTitle,
      zoneLabel,
      cameraBlock,
      fact,
      stamp,
      redrawDetail: () => {
        if (state.detail) renderDetail(state.detail);
      },
      refreshAsset: (kind, id) => {
        const known = state.assets[kind] && state.assets[kind].get(id);
        if (known) upsertAsset(kind, known.item);
      },
      assets: (kind) => Array.from(state.assets[kind].values(), (entry) => entry.item),
      showTab,
    };
  }

  function init() {
    const root = document.getElementById("sz-dashboard");
    state.role = root.dataset.role;
    state.canTriage = CONTROL_ROOM.includes(state.role);
    dom = {
      root,
      map: document.getElementById("map"),
      tileNote: document.getElementById("tile-note"),
      conn: document.getElementById("conn"),
      connLogin: document.getElementById("conn-login"),
      incidentList: document.getElementById("incident-list"),
      incidentEmpty: document.getElementById("incident-empty"),
      incidentCount: document.getElementById("incident-count"),
      filter: document.getElementById("incident-filter"),
      reportsPanel: document.getElementById("reports-panel"),
      reportList: document.getElementById("report-list"),
      reportEmpty: document.getElementById("report-empty"),
      reportCount: document.getElementById("report-count"),
      detail: document.getElementById("detail"),
    };
    dom.reportsPanel.hidden = !state.canTriage;
    initTabs();

    map = SZ.map.create(dom.map, {
      tileUrl: root.dataset.tileUrl,
      attribution: root.dataset.tileAttribution,
      onTiles: (ok) => {
        dom.tileNote.hidden = ok;
      },
    });
    for (const [key, , visible] of allLayers()) {
      layers[key] = L.featureGroup();
      if (visible) layers[key].addTo(map);
    }
    buildLayerControl();
    // The map's box changes when the alarm banner comes and goes.
    if (window.ResizeObserver) new ResizeObserver(() => map.invalidateSize()).observe(dom.map);
    ctx = makeContext();
    notify("init", ctx);

    dom.filter.addEventListener("change", () => {
      state.filter = dom.filter.value;
      renderIncidentList();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && state.openId !== null) closeDetail();
    });
    document.addEventListener("sz:lang", () => {
      buildLayerControl();
      renderIncidentList();
      if (state.detail) renderDetail(state.detail);
      notify("onLang");
    });
    window.addEventListener("online", () => {
      if (state.canTriage && (!state.source || state.source.readyState === EventSource.CLOSED)) connect();
    });

    connect();
    loadRegistry();
    loadIncidents();
    if (state.canTriage) loadReports();
  }

  // --- side panel tabs ----------------------------------------------------------------

  function initTabs() {
    document.querySelectorAll("[data-side-tab]").forEach((tab) => {
      tab.addEventListener("click", () => showTab(tab.dataset.sideTab));
      tab.addEventListener("keydown", (event) => {
        if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
        const tabs = Array.from(document.querySelectorAll("[data-side-tab]")).filter((el) => !el.hidden);
        const step = event.key === "ArrowRight" ? 1 : -1;
        const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
        showTab(next.dataset.sideTab);
        next.focus();
      });
    });
  }

  function showTab(name) {
    if (!SIDE_TABS.includes(name)) return;
    document.querySelectorAll("[data-side-tab]").forEach((tab) => {
      const on = tab.dataset.sideTab === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    });
    document.querySelectorAll("[data-side-pane]").forEach((pane) => {
      pane.hidden = pane.dataset.sidePane !== name;
    });
  }

  // --- map layers ---------------------------------------------------------------------

  function buildLayerControl() {
    if (layerControl) layerControl.remove();
    const overlays = {};
    for (const [key, label] of allLayers()) {
      const span = tr(label);
      overlays[span.outerHTML] = layers[key];
    }
    layerControl = L.control
      .layers(null, overlays, { collapsed: window.matchMedia("(max-width: 900px)").matches })
      .addTo(map);
  }

  function assetMarker(kind, item) {
    const where = [item.lat, item.lon];
    const inactive = item.active ? "" : " inactive";
    if (kind === "camera") {
      const marker = L.marker(where, {
        icon: SZ.map.icon("sz-camera-marker" + inactive, { cameraId: item.id }, 14),
      });
      marker.bindTooltip(() => t("marker.camera", { id: item.id }));
      marker.bindPopup(() => cameraPopup(item));
      return marker;
    }
    if (kind === "sos_box") {
      const marker = L.marker(where, {
        icon: SZ.map.icon("sz-sos-marker" + inactive, { sosBoxId: item.id }, 18),
      });
      marker.bindTooltip(() => t("marker.sos", { id: item.id }) + (item.name ? " · " + item.name : ""));
      notify("decorateAsset", kind, item, marker);
      return marker;
    }
    const marker = L.marker(where, {
      icon: SZ.map.icon("sz-checkpoint-marker" + inactive, { checkpointId: item.id }, 18),
    });
    marker.bindTooltip(() => t("marker.checkpoint", { id: item.id }) + (item.name ? " · " + item.name : ""));
    return marker;
  }

  function cameraPopup(camera) {
    // No direct link to the camera's own snapshot URL: pictures are seen through the
    // audited snapshot endpoint (click a place in the camera's view; dash-cameras.js).
    return h(
      "div",
      { class: "popup" },
      h("strong", { text: t("marker.camera", { id: camera.id }) }),
      camera.name ? h("div", { text: camera.name }) : null,
      h("div", { text: t("marker.pole", { id: camera.pole_id }) }),
      h("div", {
        class: "muted",
        text: t("marker.facing", { deg: camera.bearing_deg, fov: camera.fov_deg, range: camera.range_m }),
      })
    );
  }

  function upsertAsset(kind, item) {
    const spec = ASSETS[kind];
    const store = state.assets[kind];
    removeAsset(kind, item.id);
    const layer =
      kind === "zone" ? SZ.map.zoneLayer([item], L.featureGroup()) : assetMarker(kind, item);
    layers[spec.layer].addLayer(layer);
    store.set(item.id, { item, layer });
  }

  function removeAsset(kind, id) {
    const store = state.assets[kind];
    const known = store.get(id);
    if (!known) return;
    layers[ASSETS[kind].layer].removeLayer(known.layer);
    store.delete(id);
  }

  async function loadRegistry() {
    const kinds = Object.keys(ASSETS);
    const lists = await Promise.all(
      kinds.map((kind) =>
        api(ASSETS[kind].path).catch((err) => {
          console.warn("could not load", kind, err);
          return [];
        })
      )
    );
    kinds.forEach((kind, index) => lists[index].forEach((item) => upsertAsset(kind, item)));
    notify("onRegistry");
    if (layers.zones.getLayers().length) SZ.map.fit(map, layers.zones);
    else if (layers.incidents.getLayers().length) SZ.map.fit(map, layers.incidents);
  }

  // --- incidents ----------------------------------------------------------------------

  function stamp(iso) {
    const date = SZ.i18n.parseTime(iso);
    return date ? date.getTime() : 0;
  }

  function isActive(incident) {
    return ACTIVE.includes(incident.status);
  }

  function zoneLabel(zoneId) {
    const known = zoneId ? state.assets.zone.get(zoneId) : null;
    return known ? SZ.map.zoneName(known.item) : zoneId || "";
  }

  /**
   * The incident's own title, or "" when it is only the server's default (the English
   * category name), so that the translated category is shown instead.
   */
  function ownTitle(incident) {
    const title = (incident.title || "").trim();
    const fallback = incident.category.replace(/_/g, " ");
    return title.toLowerCase() === fallback.toLowerCase() ? "" : title;
  }

  function incidentLabel(incident) {
    return (
      "#" + incident.id + " · " + t("priority." + incident.priority) + " · " +
      (ownTitle(incident) || t("cat." + incident.category)) + " · " + t("status." + incident.status)
    );
  }

  function upsertIncident(incident, fresh) {
    const known = state.incidents.get(incident.id);
    if (known && stamp(known.updated_at) > stamp(incident.updated_at)) return;
    if (incident.escalated_at) state.escalated.add(incident.id);
    state.incidents.set(incident.id, incident);
    placeIncidentMarker(incident, fresh);
    placeIncidentItem(incident, fresh);
    if (incident.id === state.openId) placeFocus();
    updateCounts();
    notify("onIncident", incident, fresh);
  }

  function isEscalated(incident) {
    return state.escalated.has(incident.id) || Boolean(incident.escalated_at);
  }

  /** An incident escalated for lack of acknowledgement: highlighted in the list. */
  function markEscalated(id) {
    if (state.escalated.has(id)) return;
    state.escalated.add(id);
    const incident = state.incidents.get(id);
    if (incident) placeIncidentItem(incident, false);
  }

  function incidentIcon(incident, fresh) {
    const classes = [
      "sz-incident-marker",
      "prio-" + incident.priority,
      "status-" + incident.status,
      state.openId === incident.id ? "selected" : "",
      fresh ? "fresh" : "",
    ].join(" ");
    return SZ.map.icon(classes, { incidentId: String(incident.id) }, isActive(incident) ? 22 : 12);
  }

  function placeIncidentMarker(incident, fresh) {
    const target = isActive(incident) ? layers.incidents : layers.closed;
    let marker = markers.incidents.get(incident.id);
    if (!marker) {
      marker = L.marker([incident.lat, incident.lon], { icon: incidentIcon(incident, fresh), riseOnHover: true });
      marker.on("click", () => openDetail(incident.id));
      marker.bindTooltip(() => incidentLabel(state.incidents.get(incident.id)));
      markers.incidents.set(incident.id, marker);
    } else {
      marker.setLatLng([incident.lat, incident.lon]);
      marker.setIcon(incidentIcon(incident, fresh));
    }
    for (const layer of [layers.incidents, layers.closed]) {
      if (layer !== target && layer.hasLayer(marker)) layer.removeLayer(marker);
    }
    if (!target.hasLayer(marker)) target.addLayer(marker);
    marker.setZIndexOffset(isActive(incident) ? (PRIORITIES.length - PRIORITIES.indexOf(incident.priority)) * 100 : -1000);
  }

  function incidentItem(incident, fresh) {
    const open = () => openDetail(incident.id);
    const zone = zoneLabel(incident.zone_id);
    const title = ownTitle(incident);
    return h(
      "li",
      {
        class: [
          "item incident",
          "prio-" + incident.priority,
          "status-" + incident.status,
          state.openId === incident.id ? "selected" : "",
          fresh ? "flash" : "",
          // Highlighted while nobody has taken it; the chip stays as a record.
          isEscalated(incident) && incident.status === "new" ? "escalated" : "",
        ].join(" "),
        tabindex: 0,
        role: "button",
        dataset: { incidentId: incident.id, ts: stamp(incident.created_at) },
        onclick: open,
        onkeydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            open();
          }
        },
      },
      h(
        "div",
        { class: "item-head" },
        h("span", { class: "badge prio-" + incident.priority, i18n: "priority." + incident.priority }),
        h("span", { class: "chip status-" + incident.status, i18n: "status." + incident.status }),
        h("span", { class: "item-id", text: "#" + incident.id }),
        isEscalated(incident) && isActive(incident) ? h("span", { class: "chip escalated", i18n: "alarm.escalated" }) : null,
        time(incident.created_at, "short")
      ),
      h("div", { class: "item-title" }, title || tr("cat." + incident.category)),
      h(
        "div",
        { class: "item-meta" },
        title ? [tr("cat." + incident.category), " · "] : null,
        tr("source." + incident.source),
        zone ? " · " + zone : ""
      )
    );
  }

  function visibleInList(incident) {
    return state.filter === "all" || isActive(incident);
  }

  function insertSorted(list, item, key) {
    const ts = Number(item.dataset.ts);
    const id = Number(item.dataset[key]);
    for (const other of list.children) {
      const otherTs = Number(other.dataset.ts);
      if (otherTs < ts || (otherTs === ts && Number(other.dataset[key]) < id)) {
        list.insertBefore(item, other);
        return;
      }
    }
    list.append(item);
  }

  function placeIncidentItem(incident, fresh) {
    const old = dom.incidentList.querySelector('[data-incident-id="' + incident.id + '"]');
    if (!visibleInList(incident)) {
      if (old) old.remove();
      return;
    }
    const item = incidentItem(incident, fresh);
    if (old) old.replaceWith(item);
    else insertSorted(dom.incidentList, item, "incidentId");
  }

  function renderIncidentList() {
    const items = Array.from(state.incidents.values())
      .filter(visibleInList)
      .sort((a, b) => stamp(b.created_at) - stamp(a.created_at) || b.id - a.id)
      .map((incident) => incidentItem(incident, false));
    dom.incidentList.replaceChildren(...items);
    updateCounts();
  }

  async function loadIncidents() {
    try {
      const [open, recent] = await Promise.all([
        api("/api/v1/incidents?limit=1000&status=" + ACTIVE.join(",")),
        api("/api/v1/incidents?limit=200"),
      ]);
      for (const incident of open.concat(recent)) upsertIncident(incident, false);
    } catch (err) {
      console.warn("could not load incidents", err);
    }
  }

  function updateCounts() {
    let active = 0;
    for (const incident of state.incidents.values()) if (isActive(incident)) active += 1;
    dom.incidentCount.textContent = String(active);
    dom.incidentEmpty.hidden = dom.incidentList.children.length > 0;
    dom.reportCount.textContent = String(state.reports.size);
    dom.reportEmpty.hidden = state.reports.size > 0;
  }

  // --- incident detail ----------------------------------------------------------------

  /** A ring at the open incident, visible even when its layer (e.g. closed) is off. */
  function placeFocus() {
    if (markers.focus) {
      markers.focus.remove();
      markers.focus = null;
    }
    const incident = state.openId === null ? null : state.incidents.get(state.openId);
    if (!incident) return;
    markers.focus = L.marker([incident.lat, incident.lon], {
      icon: SZ.map.icon("sz-focus-marker", {}, 34),
      interactive: false,
      keyboard: false,
      zIndexOffset: -500,
    }).addTo(map);
  }

  function markSelected(previous) {
    for (const id of [previous, state.openId]) {
      if (id === null || id === undefined) continue;
      const incident = state.incidents.get(id);
      if (incident) {
        placeIncidentMarker(incident, false);
        const item = dom.incidentList.querySelector('[data-incident-id="' + id + '"]');
        if (item) item.classList.toggle("selected", id === state.openId);
      }
    }
    placeFocus();
  }

  async function openDetail(id, preloaded) {
    const previous = state.openId;
    state.openId = id;
    markSelected(previous);
    if (previous !== id) notify("onDetail", id);
    dom.detail.hidden = false;
    const known = state.incidents.get(id);
    if (known) map.setView([known.lat, known.lon], Math.max(map.getZoom(), 16));
    if (!preloaded) {
      if (previous !== id) dom.detail.replaceChildren(h("p", { class: "muted", i18n: "common.loading" }));
    }
    try {
      const detail = preloaded || (await api("/api/v1/incidents/" + id));
      if (state.openId !== id) return;
      showDetail(detail);
    } catch (err) {
      if (state.openId !== id) return;
      dom.detail.replaceChildren(detailHeader(id), h("p", { class: "form-error", text: err.message }));
    }
  }

  function showDetail(detail) {
    if (detail.escalated_at) state.escalated.add(detail.id);
    upsertIncident(detail, false);
    if (state.openId === detail.id) renderDetail(detail);
  }

  function closeDetail() {
    const previous = state.openId;
    state.openId = null;
    state.detail = null;
    dom.detail.hidden = true;
    dom.detail.replaceChildren();
    markSelected(previous);
    notify("onDetail", null);
  }

  function scheduleDetailRefresh() {
    clearTimeout(state.detailTimer);
    const id = state.openId;
    state.detailTimer = setTimeout(async () => {
      if (state.openId !== id || id === null) return;
      try {
        const detail = await api("/api/v1/incidents/" + id);
        if (state.openId === id) showDetail(detail);
      } catch (err) {
        console.warn("could not refresh incident", id, err);
      }
    }, 250);
  }

  function detailHeader(id) {
    return h(
      "div",
      { class: "detail-head" },
      h("h2", { "data-i18n": "detail.title", "data-i18n-params": JSON.stringify({ id }), text: t("detail.title", { id }) }),
      h(
        "button",
        {
          type: "button",
          class: "btn btn-ghost btn-small",
          "aria-label": t("detail.close"),
          "data-i18n-aria-label": "detail.close",
          onclick: closeDetail,
        },
        "✕"
      )
    );
  }

  function fact(labelKey, value) {
    return [h("dt", { i18n: labelKey }), h("dd", {}, value)];
  }

  function priorityControl(detail) {
    if (!state.canTriage) {
      return h("span", { class: "badge prio-" + detail.priority, i18n: "priority." + detail.priority });
    }
    const select = h(
      "select",
      {
        name: "priority",
        "aria-label": t("detail.priority"),
        "data-i18n-aria-label": "detail.priority",
        class: "prio-select prio-" + detail.priority,
      },
      PRIORITIES.map((p) => h("option", { value: p, selected: p === detail.priority, i18n: "priority." + p }))
    );
    select.addEventListener("change", async () => {
      select.disabled = true;
      try {
        const updated = await api("/api/v1/incidents/" + detail.id, { method: "PATCH", json: { priority: select.value } });
        showDetail(updated);
      } catch (err) {
        select.value = detail.priority;
        window.alert(err.message);
      } finally {
        select.disabled = false;
      }
    });
    return select;
  }

  function camerasSeeing(detail) {
    const point = [detail.lat, detail.lon];
    return Array.from(state.assets.camera.values())
      .map((entry) => entry.item)
      .filter((camera) => camera.active && SZ.map.cameraSees(camera, point))
      .map((camera) => ({ camera, metres: Math.round(SZ.map.distance([camera.lat, camera.lon], point)) }))
      .sort((a, b) => a.metres - b.metres);
  }

  function statusForm(detail) {
    const form = h("form", { class: "form detail-block", novalidate: true });
    form.addEventListener("submit", (event) => event.preventDefault());
    form.append(h("h3", { i18n: "detail.move" }));
    if (!detail.allowed_next.length) {
      form.append(h("p", { class: "muted", i18n: "detail.finished" }));
      return form;
    }
    const note = h("textarea", {
      name: "note",
      rows: 2,
      maxlength: 2000,
      placeholder: t("detail.note_ph"),
      "data-i18n-placeholder": "detail.note_ph",
      "aria-label": t("detail.note_label"),
      "data-i18n-aria-label": "detail.note_label",
    });
    form.append(h("div", { class: "field" }, note), h("p", { class: "form-error", role: "alert", hidden: true }));
    const buttons = h("div", { class: "actions" });
    for (const next of detail.allowed_next) {
      const button = h("button", {
        type: "button",
        class: "btn status-btn status-" + next,
        dataset: { status: next },
        i18n: "status." + next,
      });
      button.addEventListener("click", async () => {
        try {
          const updated = await busy(button, () =>
            api("/api/v1/incidents/" + detail.id + "/transitions", {
              method: "POST",
              json: { status: next, note: note.value.trim() },
            })
          );
          note.value = "";
          showDetail(updated);
        } catch (err) {
          showErrors(form, err);
        }
      });
      buttons.append(button);
    }
    form.append(buttons);
    return form;
  }

  function noteForm(detail) {
    const note = h("textarea", {
      name: "note",
      rows: 2,
      maxlength: 2000,
      required: true,
      "aria-label": t("detail.note_label"),
      "data-i18n-aria-label": "detail.note_label",
    });
    const button = h("button", { type: "submit", class: "btn", i18n: "detail.add_note" });
    const form = h(
      "form",
      { class: "form detail-block note-form", novalidate: true },
      h("h3", { i18n: "detail.add_note" }),
      h("div", { class: "field" }, note),
      h("p", { class: "form-error", role: "alert", hidden: true }),
      h("div", { class: "actions" }, button)
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const updated = await busy(button, () =>
          api("/api/v1/incidents/" + detail.id + "/notes", { method: "POST", json: { note: note.value.trim() } })
        );
        note.value = "";
        showDetail(updated);
      } catch (err) {
        showErrors(form, err);
      }
    });
    return form;
  }

  function cameraBlock(detail) {
    const seen = camerasSeeing(detail);
    const block = h("section", { class: "detail-block" }, h("h3", { i18n: "detail.cameras" }));
    if (!seen.length) {
      block.append(h("p", { class: "muted", i18n: "detail.no_cameras" }));
      return block;
    }
    block.append(
      h(
        "ul",
        { class: "plain" },
        seen.slice(0, 8).map(({ camera, metres }) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "link",
                onclick: () => {
                  const entry = state.assets.camera.get(camera.id);
                  if (entry) {
                    map.setView([camera.lat, camera.lon], Math.max(map.getZoom(), 18));
                    entry.layer.openPopup();
                  }
                },
              },
              camera.id + (camera.name ? " · " + camera.name : "")
            ),
            " ",
            h("span", { class: "muted", text: t("common.meters", { m: metres }) })
          )
        )
      )
    );
    return block;
  }

  function reportsBlock(detail) {
    const block = h("section", { class: "detail-block" }, h("h3", { i18n: "detail.reports" }));
    if (!detail.reports.length) {
      block.append(h("p", { class: "muted", i18n: "detail.no_reports" }));
      return block;
    }
    block.append(
      h(
        "ul",
        { class: "plain" },
        detail.reports.map((report) =>
          h(
            "li",
            { dataset: { linkedReportId: report.id } },
            h("code", { text: report.tracking_code }),
            " ",
            h("span", { class: "chip kind-" + report.kind, i18n: "kind." + report.kind }),
            " ",
            h("span", { class: "muted", i18n: "rstatus." + report.status }),
            " ",
            time(report.created_at, "short")
          )
        )
      )
    );
    return block;
  }

  function timelineBlock(detail) {
    const entries = detail.timeline.slice().reverse();
    return h(
      "section",
      { class: "detail-block" },
      h("h3", { i18n: "detail.timeline" }),
      h(
        "ol",
        { class: "timeline" },
        entries.map((entry) =>
          h(
            "li",
            {},
            h(
              "div",
              { class: "timeline-head" },
              time(entry.ts, "short"),
              " ",
              SZ.i18n.has("action." + entry.action) ? tr("action." + entry.action) : entry.action,
              entry.to_status
                ? [
                    " ",
                    entry.from_status ? [tr("status." + entry.from_status), " → "] : null,
                    h("span", { class: "chip status-" + entry.to_status, i18n: "status." + entry.to_status }),
                  ]
                : null
            ),
            h("div", { class: "muted small", text: entry.actor }),
            entry.note ? h("div", { class: "timeline-note", text: entry.note }) : null
          )
        )
      )
    );
  }

  /** Keep what the user was typing in the panel across a re-render. */
  function drafts() {
    const saved = {};
    dom.detail.querySelectorAll("form textarea").forEach((area, index) => {
      if (area.value) saved[index] = area.value;
    });
    return saved;
  }

  function restoreDrafts(saved) {
    dom.detail.querySelectorAll("form textarea").forEach((area, index) => {
      if (saved[index]) area.value = saved[index];
    });
  }

  function renderDetail(detail) {
    const saved = state.detail && state.detail.id === detail.id ? drafts() : {};
    state.detail = detail;
    const zone = zoneLabel(detail.zone_id);
    const extra = notify("detailBlock", detail).filter(Boolean);
    const replacesCameras = extra.some((block) => block.replacesCameras);
    const parts = [
      detailHeader(detail.id),
      h(
        "div",
        { class: "detail-badges" },
        priorityControl(detail),
        h("span", { class: "chip status-" + detail.status, i18n: "status." + detail.status }),
        isEscalated(detail) ? h("span", { class: "chip escalated", i18n: "alarm.escalated" }) : null
      ),
      isEscalated(detail) && detail.status === "new" ? h("p", { class: "notice escalated-note", i18n: "detail.escalated" }) : null,
      extra.filter((block) => block.top).map((block) => block.node),
      h(
        "dl",
        { class: "facts" },
        fact("form.category", tr("cat." + detail.category)),
        fact("detail.source", tr("source." + detail.source)),
        fact("detail.created", time(detail.created_at)),
        fact("detail.updated", time(detail.updated_at)),
        zone ? fact("detail.zone", zone) : fact("detail.zone", tr("dash.outside_zone")),
        fact("detail.location", detail.lat.toFixed(5) + ", " + detail.lon.toFixed(5)),
        ownTitle(detail) ? fact("detail.headline", detail.title) : null,
        fact("detail.description", h("span", { class: "prewrap", text: detail.description }))
      ),
      statusForm(detail),
      extra.filter((block) => !block.top).map((block) => block.node),
      noteForm(detail),
      replacesCameras ? null : cameraBlock(detail),
      reportsBlock(detail),
      timelineBlock(detail),
    ];
    dom.detail.replaceChildren(...parts.flat().filter(Boolean));
    restoreDrafts(saved);
  }

  // --- reports waiting for triage -----------------------------------------------------

  function reportIcon(report, fresh) {
    return SZ.map.icon(
      "sz-report-marker kind-" + report.kind + (fresh ? " fresh" : ""),
      { reportId: String(report.id) },
      20
    );
  }

  function reportLabel(report) {
    return t("kind." + report.kind) + " · " + t("cat." + report.category) + " · " + report.tracking_code;
  }

  function placeReportMarker(report, fresh) {
    let marker = markers.reports.get(report.id);
    if (!marker) {
      marker = L.marker([report.lat, report.lon], { icon: reportIcon(report, fresh), riseOnHover: true, zIndexOffset: 2000 });
      marker.bindTooltip(() => reportLabel(state.reports.get(report.id) || report));
      marker.on("click", () => focusReport(report.id));
      markers.reports.set(report.id, marker);
      layers.reports.addLayer(marker);
    } else {
      marker.setLatLng([report.lat, report.lon]);
    }
  }

  function focusReport(id) {
    const item = dom.reportList.querySelector('[data-report-id="' + id + '"]');
    const report = state.reports.get(id);
    if (report) map.setView([report.lat, report.lon], Math.max(map.getZoom(), 17));
    if (item) {
      item.scrollIntoView({ block: "nearest", behavior: "smooth" });
      item.classList.remove("flash");
      void item.offsetWidth;
      item.classList.add("flash");
    }
  }

  function photoThumbs(reportId) {
    const ids = state.photos.get(reportId) || [];
    return ids.map((photoId) => {
      const src = "/api/v1/reports/" + reportId + "/photos/" + photoId;
      return h("a", { href: src, target: "_blank", rel: "noopener" }, h("img", { src, alt: "", loading: "lazy", class: "thumb" }));
    });
  }

  function refreshPhotos(reportId) {
    const holder = dom.reportList.querySelector('[data-report-id="' + reportId + '"] .thumbs');
    if (holder) holder.replaceChildren(...photoThumbs(reportId));
  }

  function reportItem(report, fresh) {
    const item = h(
      "li",
      {
        class: "item report kind-" + report.kind + (fresh ? " flash" : ""),
        dataset: { reportId: report.id, ts: stamp(report.created_at) },
      },
      h(
        "div",
        { class: "item-head" },
        h("span", { class: "badge kind-" + report.kind, i18n: "kind." + report.kind }),
        h("span", { class: "item-id", text: "#" + report.id }),
        report.outside_zone ? h("span", { class: "chip warn", i18n: "dash.outside_zone" }) : null,
        time(report.created_at, "short")
      ),
      h("div", { class: "item-title" }, tr("cat." + report.category)),
      h("p", { class: "item-desc", text: report.description }),
      h(
        "div",
        { class: "item-meta" },
        h("code", { text: report.tracking_code }),
        report.accuracy_m !== null && report.accuracy_m !== undefined
          ? " · " + t("dash.accuracy", { m: Math.round(report.accuracy_m) })
          : "",
        report.anonymous ? [" · ", tr("dash.anonymous")] : null
      ),
      h("div", { class: "thumbs" }, photoThumbs(report.id)),
      h(
        "div",
        { class: "actions triage-actions" },
        h("button", { type: "button", class: "btn btn-small btn-primary", dataset: { triage: "create" }, i18n: "triage.create" }),
        h("button", { type: "button", class: "btn btn-small", dataset: { triage: "merge" }, i18n: "triage.merge" }),
        h("button", { type: "button", class: "btn btn-small btn-danger", dataset: { triage: "reject" }, i18n: "triage.reject" })
      )
    );
    item.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-triage]");
      if (button) {
        openTriage(item, state.reports.get(report.id) || report, button.dataset.triage);
        return;
      }
      if (!event.target.closest("a, button, input, select, textarea, form")) focusReport(report.id);
    });
    return item;
  }

  function nearestActive(report) {
    let best = null;
    for (const incident of state.incidents.values()) {
      if (!isActive(incident)) continue;
      const metres = SZ.map.distance([report.lat, report.lon], [incident.lat, incident.lon]);
      if (metres <= MERGE_SUGGEST_M && (!best || metres < best.metres)) best = { incident, metres };
    }
    return best;
  }

  function labelled(labelKey, input) {
    return h("label", { class: "field" }, tr(labelKey), input);
  }

  function openTriage(item, report, action) {
    const existing = item.querySelector("form.triage");
    if (existing) {
      const same = existing.dataset.action === action;
      existing.remove();
      if (same) return;
    }
    const parts = [];
    if (action === "create") {
      const fallback = report.kind === "emergency" ? "high" : "medium";
      parts.push(
        labelled(
          "triage.priority",
          h("select", { name: "priority" }, PRIORITIES.map((p) => h("option", { value: p, selected: p === fallback, i18n: "priority." + p })))
        )
      );
    }
    if (action === "merge") {
      const near = nearestActive(report);
      parts.push(
        labelled("triage.incident_id", h("input", { name: "incident_id", type: "number", min: 1, required: true, inputmode: "numeric", value: near ? near.incident.id : null }))
      );
      if (near) {
        parts.push(
          h("p", {
            class: "muted small",
            "data-i18n": "triage.nearest",
            "data-i18n-params": JSON.stringify({ id: near.incident.id, m: Math.round(near.metres) }),
            text: t("triage.nearest", { id: near.incident.id, m: Math.round(near.metres) }),
          })
        );
      }
    }
    parts.push(labelled("triage.note", h("textarea", { name: "note", rows: 2, maxlength: 2000, required: action === "reject" })));
    parts.push(labelled("triage.public_message", h("textarea", { name: "public_message", rows: 2, maxlength: 1000 })));
    const submit = h("button", { type: "submit", class: "btn btn-small btn-primary", i18n: "triage.confirm" });
    const form = h(
      "form",
      { class: "triage form", dataset: { action }, novalidate: true },
      parts,
      h("p", { class: "form-error", role: "alert", hidden: true }),
      h(
        "div",
        { class: "actions" },
        submit,
        h("button", { type: "button", class: "btn btn-small btn-ghost", i18n: "common.cancel", onclick: () => form.remove() })
      )
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitTriage(form, submit, report, action);
    });
    item.append(form);
    const first = form.querySelector("select, input, textarea");
    if (first) first.focus();
  }

  async function submitTriage(form, button, report, action) {
    const payload = {
      action: { create: "create_incident", merge: "merge", reject: "reject" }[action],
      note: form.elements.note.value.trim(),
      public_message: form.elements.public_message.value.trim(),
    };
    if (action === "create") payload.priority = form.elements.priority.value;
    if (action === "merge") {
      const id = parseInt(form.elements.incident_id.value, 10);
      payload.incident_id = Number.isFinite(id) ? id : null;
    }
    try {
      const updated = await busy(button, () =>
        api("/api/v1/reports/" + report.id + "/triage", { method: "POST", json: payload })
      );
      removeReport(report.id);
      if (updated.incident_id) {
        const detail = await api("/api/v1/incidents/" + updated.incident_id);
        upsertIncident(detail, action === "create");
        openDetail(updated.incident_id, detail);
      }
    } catch (err) {
      showErrors(form, err);
    }
  }

  function upsertReport(report, fresh) {
    // An emergency opens its incident at once: it never waits for triage.
    if (report.status !== "received" || report.kind === "emergency") {
      removeReport(report.id);
      return;
    }
    const isNew = !state.reports.has(report.id);
    state.reports.set(report.id, report);
    if (isNew) {
      state.reportSeenAt.set(report.id, Date.now());
      insertSorted(dom.reportList, reportItem(report, fresh), "reportId");
      placeReportMarker(report, fresh);
      if (!fresh) loadPhotos(report.id);
    }
    updateCounts();
  }

  function removeReport(id) {
    state.reports.delete(id);
    state.reportSeenAt.delete(id);
    const item = dom.reportList.querySelector('[data-report-id="' + id + '"]');
    if (item) item.remove();
    const marker = markers.reports.get(id);
    if (marker) {
      layers.reports.removeLayer(marker);
      markers.reports.delete(id);
    }
    updateCounts();
  }

  async function loadPhotos(id) {
    try {
      const detail = await api("/api/v1/reports/" + id);
      if (detail.photos.length) {
        state.photos.set(id, detail.photos.map((p) => p.id));
        refreshPhotos(id);
      }
    } catch (err) {
      console.warn("could not load photos of report", id, err);
    }
  }

  async function loadReports() {
    const started = Date.now();
    try {
      const waiting = await api("/api/v1/reports?status=received&limit=500");
      const ids = new Set(waiting.map((r) => r.id));
      // Drop reports triaged elsewhere, but not ones that arrived while this request ran.
      for (const [id, seenAt] of state.reportSeenAt) {
        if (!ids.has(id) && seenAt < started) removeReport(id);
      }
      for (const report of waiting) upsertReport(report, false);
    } catch (err) {
      console.warn("could not load reports", err);
    }
  }

  // --- live updates -------------------------------------------------------------------

  function setConn(name, params) {
    dom.conn.dataset.state = name;
    const label = dom.conn.querySelector(".conn-label");
    label.setAttribute("data-i18n", "dash.conn." + name);
    if (params) label.setAttribute("data-i18n-params", JSON.stringify(params));
    else label.removeAttribute("data-i18n-params");
    label.textContent = t("dash.conn." + name, params);
    dom.connLogin.hidden = name !== "expired";
  }

  function onEvent(topic, data) {
    if (topic === "incident.escalated" && data.incident) state.escalated.add(data.incident.id);
    if (data.incident) {
      upsertIncident(data.incident, topic === "incident.created");
      if (state.openId === data.incident.id) scheduleDetailRefresh();
    }
    if (data.report) {
      const report = data.report;
      if (topic === "report.photo_added" && data.photo_id) {
        const ids = state.photos.get(report.id) || [];
        if (!ids.includes(data.photo_id)) ids.push(data.photo_id);
        state.photos.set(report.id, ids);
        refreshPhotos(report.id);
      }
      if (topic === "report.created" || state.reports.has(report.id)) {
        upsertReport(report, topic === "report.created");
      }
      if (report.incident_id && report.incident_id === state.openId) scheduleDetailRefresh();
    }
    if (topic === "registry.changed" && ASSETS[data.kind]) {
      if (data.deleted) removeAsset(data.kind, data.id);
      else upsertAsset(data.kind, data);
    }
    notify("onEvent", topic, data);
  }

  /** Reload lists shortly after (re)connecting without a position: closes any gap. */
  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(() => {
      loadIncidents();
      if (state.canTriage) loadReports();
    }, 500);
  }

  function connect() {
    if (!state.canTriage) {
      setConn("polling", { s: POLL_S });
      setInterval(loadIncidents, POLL_S * 1000);
      return;
    }
    if (state.source) state.source.close();
    const url = "/api/v1/events/stream" + (state.lastEventId ? "?after=" + encodeURIComponent(state.lastEventId) : "");
    const source = new EventSource(url);
    state.source = source;
    setConn("connecting");
    source.onopen = () => {
      state.retryMs = 2000;
      setConn("live");
      if (!state.lastEventId) scheduleRefresh();
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) recover(source);
      else setConn("reconnecting");
    };
    for (const topic of allTopics()) {
      source.addEventListener(topic, (event) => {
        if (event.lastEventId) state.lastEventId = event.lastEventId;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch (err) {
          console.warn("bad event", topic, err);
          return;
        }
        onEvent(topic, data);
      });
    }
  }

  /** The browser gave up on the stream (e.g. a 401): find out why, then retry or stop. */
  async function recover(source) {
    source.close();
    if (state.source !== source) return;
    setConn("reconnecting");
    try {
      await api("/api/v1/auth/me");
    } catch (err) {
      if (err.status === 401) {
        setConn("expired");
        return;
      }
    }
    setTimeout(() => {
      if (state.source === source) connect();
    }, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, MAX_RETRY_MS);
  }
})();
