/* Command-centre dashboard: SOS alarm, SOS response, patrol units and device health.
 * A plugin of dashboard.js (see the comment at its top); loaded before it.
 *
 * - The alarm: every critical incident from an SOS box or a citizen's emergency/SOS that
 *   nobody has acknowledged yet (status "new") is listed in a flashing banner above the
 *   map, with an Acknowledge button. While the list is not empty a two-tone siren plays
 *   (WebAudio oscillator, no sound file) if the operator has enabled sound once on this
 *   browser (remembered in localStorage); browsers refuse audio before a user gesture, so
 *   the banner offers to enable it and works silently meanwhile.
 * - The SOS response (GET /api/v1/sos/responses/{id}) in the incident's detail: the
 *   cameras that see the place, nearest first, with their view cones on the map and their
 *   evidence snapshots (new ones appear live); the suggested units with distance and ETA;
 *   the caller's live location trail as a line on the map.
 * - Patrol units on the map (GET /api/v1/units, moved by unit.location / unit.changed).
 * - SOS boxes coloured online / offline (GET /api/v1/sos/boxes/status, sos.box_status)
 *   and the open maintenance alerts, on the Devices tab.
 *
 * Hooks for tests: #sos-alarm[data-sound] (idle, off, blocked, playing), alarm items
 * [data-incident-id] with [data-alarm-ack]; .sos-response [data-camera-id] /
 * [data-unit-id]; map paths .sz-camera-cone, .sz-trail; markers .sz-unit-marker[data-unit-id].
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api, t } = SZ;
  const URGENT_SOURCES = ["sos", "emergency"];
  const SOUND_KEY = "sz_alarm_sound";
  const SIREN_EVERY_MS = 2400;
  const SIREN_STEP_S = 0.22;
  const SIREN_STEPS = 6;

  let ctx = null;
  const dom = {};
  const alarms = new Map(); // incident id -> incident waiting for acknowledgement
  const triggers = new Map(); // incident id -> {trigger, box_id}
  const responses = new Map(); // incident id -> response | "loading" | "missing" | {failed}
  const snapshotUrls = new Map(); // snapshot id -> Promise of an object URL
  const units = new Map(); // unit id -> {unit, marker}
  const boxes = new Map(); // box id -> {box_id, online, last_heartbeat_at, ...}
  const maintenance = new Map(); // maintenance alert id -> view
  let overlay = null;
  let overlayId = null;
  let fittedId = null; // the SOS the map was last zoomed to (once per opening)
  let trailLine = null;
  let trailHead = null;
  let elapsedTimer = null;

  // --- sound ----------------------------------------------------------------------------

  const sound = {
    audio: null,
    timer: null,
    wanted() {
      try {
        return window.localStorage.getItem(SOUND_KEY) === "on";
      } catch (err) {
        return false;
      }
    },
    setWanted(on) {
      try {
        window.localStorage.setItem(SOUND_KEY, on ? "on" : "off");
      } catch (err) {
        // Not remembered, but on for this page.
      }
      this.on = on;
    },
    context() {
      if (!this.audio) {
        const Audio = window.AudioContext || window.webkitAudioContext;
        if (!Audio) return null;
        this.audio = new Audio();
        this.audio.addEventListener("statechange", updateSound);
      }
      return this.audio;
    },
    running() {
      return Boolean(this.audio && this.audio.state === "running");
    },
    /** off: never enabled (or muted); on: will sound; blocked: enabled, but the browser waits for a gesture. */
    state() {
      if (!this.wanted() && !this.on) return "off";
      return this.running() ? "on" : "blocked";
    },
    unlock() {
      const audio = this.context();
      if (!audio) return Promise.resolve();
      return (audio.state === "running" ? Promise.resolve() : audio.resume()).catch(() => undefined).then(updateSound);
    },
  };

  /** One burst of the siren: alternating 880/660 Hz square wave, about 1.3 s. */
  function siren(steps) {
    const audio = sound.audio;
    if (!audio || audio.state !== "running") return;
    const count = steps || SIREN_STEPS;
    const start = audio.currentTime + 0.02;
    const end = start + count * SIREN_STEP_S;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "square";
    for (let i = 0; i < count; i += 1) {
      oscillator.frequency.setValueAtTime(i % 2 ? 660 : 880, start + i * SIREN_STEP_S);
    }
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.03);
    gain.gain.setValueAtTime(0.2, end - 0.05);
    gain.gain.exponentialRampToValueAtTime(0.0001, end);
    oscillator.connect(gain);
    gain.connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(end + 0.02);
  }

  // Other alarms (dash-dispatch.js) ring the same siren: SZ.alarmSound.ring(key, on).
  const otherAlarms = new Set();
  const soundListeners = [];

  function updateSound() {
    if (!dom.banner) return;
    const state = sound.state();
    const sosRinging = alarms.size > 0;
    const ringing = sosRinging || otherAlarms.size > 0;
    const label = { off: "alarm.sound_enable", on: "alarm.sound_on", blocked: "alarm.sound_blocked" }[state];
    dom.soundButton.dataset.state = state;
    dom.soundButton.setAttribute("aria-pressed", state === "on" ? "true" : "false");
    dom.soundLabel.setAttribute("data-i18n", label);
    dom.soundLabel.textContent = t(label);
    dom.banner.dataset.sound = !sosRinging ? "idle" : state === "on" ? "playing" : state;
    dom.unmute.hidden = !sosRinging || state === "on";
    if (ringing && state === "on") {
      if (!sound.timer) {
        siren();
        sound.timer = setInterval(() => siren(), SIREN_EVERY_MS);
      }
    } else if (sound.timer) {
      clearInterval(sound.timer);
      sound.timer = null;
    }
    for (const listener of soundListeners) listener(state);
  }

  function enableSound() {
    sound.setWanted(true);
    return sound.unlock().then(() => {
      if (!alarms.size && !otherAlarms.size) siren(2); // a short beep says it works
    });
  }

  SZ.alarmSound = {
    /** off, on or blocked (see sound.state). */
    state: () => sound.state(),
    /** Ring (or stop ringing) for another alarm, named by key. */
    ring(key, on) {
      if (on) otherAlarms.add(key);
      else otherAlarms.delete(key);
      updateSound();
    },
    enable: enableSound,
    /** fn(state) after every change of the sound or of what rings. */
    onChange(fn) {
      soundListeners.push(fn);
    },
  };

  // --- the alarm ------------------------------------------------------------------------

  function isUrgent(incident) {
    return incident.priority === "critical" && URGENT_SOURCES.includes(incident.source);
  }

  function triggerText(incident) {
    const known = triggers.get(incident.id);
    if (known && known.trigger === "box") return t("alarm.trigger.box", { id: known.box_id || "" });
    if (known && known.trigger === "panic") return t("alarm.trigger.panic");
    return t("source." + incident.source);
  }

  function elapsed(since) {
    const seconds = Math.max(0, Math.floor((Date.now() - since) / 1000));
    const minutes = Math.floor(seconds / 60);
    return minutes + ":" + String(seconds % 60).padStart(2, "0");
  }

  function alarmItem(incident) {
    const since = ctx.stamp(incident.created_at);
    const escalated = ctx.isEscalated(incident);
    const zone = ctx.zoneLabel(incident.zone_id);
    const ack = h("button", {
      type: "button",
      class: "btn btn-small btn-alarm-ack",
      dataset: { alarmAck: incident.id },
      i18n: "alarm.ack",
    });
    ack.addEventListener("click", () => acknowledge(incident.id, ack));
    return h(
      "li",
      { class: "sos-alarm-item" + (escalated ? " escalated" : ""), dataset: { incidentId: incident.id } },
      h("span", { class: "item-id", text: "#" + incident.id }),
      h("strong", { class: "sos-alarm-what", text: triggerText(incident) }),
      zone ? h("span", { class: "sos-alarm-zone", text: zone }) : null,
      h("span", { class: "sos-alarm-time" }, time(incident.created_at, "short"), " · ", h("span", { class: "alarm-elapsed", dataset: { since }, text: elapsed(since) })),
      escalated ? h("span", { class: "chip escalated", i18n: "alarm.escalated" }) : null,
      h("span", { class: "sos-alarm-actions" },
        h("button", {
          type: "button",
          class: "btn btn-small btn-ghost",
          dataset: { alarmOpen: incident.id },
          i18n: "alarm.open",
          onclick: () => ctx.openDetail(incident.id),
        }),
        ack
      )
    );
  }

  function renderBanner() {
    if (!dom.banner) return;
    const items = Array.from(alarms.values()).sort((a, b) => ctx.stamp(a.created_at) - ctx.stamp(b.created_at) || a.id - b.id);
    dom.banner.hidden = items.length === 0;
    dom.count.textContent = String(items.length);
    document.body.classList.toggle("sos-alarming", items.length > 0);
    dom.list.replaceChildren(...items.map(alarmItem));
    if (items.length && !elapsedTimer) {
      elapsedTimer = setInterval(() => {
        dom.list.querySelectorAll(".alarm-elapsed").forEach((el) => {
          el.textContent = elapsed(Number(el.dataset.since));
        });
      }, 1000);
    } else if (!items.length && elapsedTimer) {
      clearInterval(elapsedTimer);
      elapsedTimer = null;
    }
    updateSound();
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    try {
      const updated = await api("/api/v1/incidents/" + id + "/transitions", {
        method: "POST",
        json: { status: "acknowledged", note: "" },
      });
      ctx.showDetail(updated);
    } catch (err) {
      // Someone else may have acknowledged it first: take the current state.
      try {
        ctx.showDetail(await api("/api/v1/incidents/" + id));
      } catch (ignored) {
        // Still shown as waiting; the operator may try again.
      }
      if (alarms.has(id)) {
        button.disabled = false;
        window.alert(err.message);
      }
    }
  }

  // --- SOS response in the detail -------------------------------------------------------

  function isSosIncident(incident) {
    return URGENT_SOURCES.includes(incident.source) || incident.category === "sos";
  }

  async function loadResponse(id) {
    responses.set(id, "loading");
    try {
      const response = await api("/api/v1/sos/responses/" + id);
      responses.set(id, response);
      triggers.set(id, { trigger: response.trigger, box_id: response.box_id });
    } catch (err) {
      responses.set(id, err.status === 404 ? "missing" : { failed: err.message });
    }
    if (ctx.state.openId === id) {
      ctx.redrawDetail();
      drawOverlay(id, true);
    }
    if (alarms.has(id)) renderBanner();
  }

  function loaded(id) {
    const response = responses.get(id);
    return response && typeof response === "object" && Array.isArray(response.cameras) ? response : null;
  }

  function snapshotUrl(id) {
    if (!snapshotUrls.has(id)) {
      // Fetched once per page (each viewing is audited), then shown from memory.
      const pending = fetch("/api/v1/cameras/snapshots/" + id, { credentials: "same-origin" })
        .then((response) => {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.blob();
        })
        .then((blob) => URL.createObjectURL(blob));
      pending.catch(() => snapshotUrls.delete(id));
      snapshotUrls.set(id, pending);
    }
    return snapshotUrls.get(id);
  }

  function snapshotThumb(snapshot) {
    const caption = t("sosr.snapshot", { camera: snapshot.camera_id });
    if (!ctx.canTriage) {
      return h("span", { class: "chip", dataset: { snapshotId: snapshot.id }, title: snapshot.sha256 }, "📷 ", time(snapshot.captured_at, "short"));
    }
    const img = h("img", { class: "thumb snapshot", alt: caption, title: "SHA-256 " + snapshot.sha256 });
    const link = h("a", { class: "snap-link", dataset: { snapshotId: snapshot.id }, target: "_blank", rel: "noopener" }, img);
    snapshotUrl(snapshot.id)
      .then((url) => {
        img.src = url;
        link.href = url;
      })
      .catch(() => {
        img.alt = t("sosr.snapshot_failed");
      });
    return link;
  }

  function unitSuggestionText(unit) {
    return t("sosr.unit_eta", {
      m: Math.round(unit.distance_m),
      min: Math.max(1, Math.round(unit.eta_s / 60)),
    });
  }

  function trailNode(response) {
    const last = response.trail.length ? response.trail[response.trail.length - 1] : null;
    if (!last) return h("p", { class: "muted", dataset: { sosTrail: "" }, i18n: "sosr.no_trail" });
    return h(
      "p",
      { dataset: { sosTrail: "" } },
      t("sosr.trail_points", { n: response.trail.length }),
      " ",
      time(last.at, "short"),
      last.accuracy_m !== null && last.accuracy_m !== undefined ? " · " + t("dash.accuracy", { m: Math.round(last.accuracy_m) }) : ""
    );
  }

  function focusCamera(camera) {
    ctx.map.setView([camera.lat, camera.lon], Math.max(ctx.map.getZoom(), 18));
  }

  function responseBlock(detail, response) {
    const cameras = response.cameras.slice().sort((a, b) => a.distance_m - b.distance_m);
    const byCamera = new Map();
    for (const snapshot of response.snapshots) {
      if (!byCamera.has(snapshot.camera_id)) byCamera.set(snapshot.camera_id, []);
      byCamera.get(snapshot.camera_id).push(snapshot);
    }
    const unitsList = response.units.slice().sort((a, b) => a.eta_s - b.eta_s);
    return h(
      "section",
      { class: "detail-block sos-response", dataset: { sosResponse: detail.id } },
      h("h3", { i18n: "sosr.title" }),
      h("p", { class: "sos-trigger" }, h("span", { class: "badge prio-critical", text: "SOS" }), " ", triggerText(detail)),
      response.cancelled_at ? h("p", { class: "notice" }, tr("sosr.cancelled"), " ", time(response.cancelled_at, "short")) : null,
      h("h4", {}, tr("sosr.cameras"), " ", h("span", { class: "count", text: String(cameras.length) })),
      cameras.length
        ? h(
            "ul",
            { class: "plain sos-cameras" },
            cameras.map((camera) =>
              h(
                "li",
                { dataset: { cameraId: camera.camera_id } },
                h("button", { type: "button", class: "link", onclick: () => focusCamera(camera) }, camera.camera_id + (camera.name ? " · " + camera.name : "")),
                " ",
                h("span", { class: "muted", text: t("common.meters", { m: Math.round(camera.distance_m) }) }),
                h("div", { class: "thumbs" }, (byCamera.get(camera.camera_id) || []).map(snapshotThumb))
              )
            )
          )
        : h("p", { class: "muted", i18n: "sosr.no_cameras" }),
      cameras.length && !response.snapshots.length ? h("p", { class: "muted small", i18n: "sosr.no_snapshots" }) : null,
      h("h4", {}, tr("sosr.units"), " ", h("span", { class: "count", text: String(unitsList.length) })),
      unitsList.length
        ? h(
            "ul",
            { class: "plain sos-units" },
            unitsList.map((unit) =>
              h(
                "li",
                { dataset: { unitId: unit.unit_id } },
                h("strong", { text: unit.callsign }),
                " ",
                h("span", { class: "chip", i18n: "unit.kind." + unit.kind }),
                " ",
                h("span", { class: "muted", text: unitSuggestionText(unit) })
              )
            )
          )
        : h("p", { class: "muted", i18n: "sosr.no_units" }),
      response.trigger === "panic" ? [h("h4", { i18n: "sosr.trail" }), trailNode(response)] : null
    );
  }

  // --- map overlay of the open SOS ------------------------------------------------------

  function clearOverlay() {
    if (overlay) overlay.remove();
    overlay = null;
    overlayId = null;
    trailLine = null;
    trailHead = null;
  }

  function trailLatLngs(response) {
    return response.trail.map((p) => [p.lat, p.lon]);
  }

  function drawOverlay(id, fitView) {
    clearOverlay();
    const response = loaded(id);
    if (!response || ctx.state.openId !== id) return;
    const incident = ctx.state.incidents.get(id);
    overlay = L.featureGroup().addTo(ctx.map);
    overlayId = id;
    const cones = L.featureGroup().addTo(overlay);
    for (const camera of response.cameras) {
      L.polygon(SZ.map.coneLatLngs(camera), {
        className: "sz-camera-cone",
        color: "#1565c0",
        weight: 1,
        fillColor: "#42a5f5",
        fillOpacity: 0.2,
      })
        .bindTooltip(camera.camera_id + (camera.name ? " · " + camera.name : "") + " · " + t("common.meters", { m: Math.round(camera.distance_m) }))
        .addTo(cones);
      L.circleMarker([camera.lat, camera.lon], { radius: 4, className: "sz-camera-origin", color: "#0d47a1", weight: 2, fillOpacity: 1 }).addTo(cones);
    }
    const at = incident ? [incident.lat, incident.lon] : null;
    for (const unit of response.units) {
      if (at) {
        L.polyline([[unit.lat, unit.lon], at], {
          className: "sz-unit-route",
          color: "#2e7d32",
          weight: 2,
          dashArray: "6 6",
          interactive: false,
        }).addTo(overlay);
      }
      L.marker([unit.lat, unit.lon], {
        icon: SZ.map.icon("sz-unit-suggest kind-" + unit.kind, { unitId: unit.unit_id }, 22),
        zIndexOffset: 900,
      })
        .bindTooltip(unit.callsign + " · " + unitSuggestionText(unit), { permanent: true, direction: "right", className: "sz-unit-label" })
        .addTo(overlay);
    }
    if (response.trigger === "panic" && response.trail.length) {
      trailLine = L.polyline(trailLatLngs(response), { className: "sz-trail", color: "#c62828", weight: 4, opacity: 0.85 }).addTo(overlay);
      const last = response.trail[response.trail.length - 1];
      trailHead = L.circleMarker([last.lat, last.lon], { radius: 7, className: "sz-trail-head", color: "#fff", weight: 2, fillColor: "#c62828", fillOpacity: 1 }).addTo(overlay);
    }
    if (fitView && fittedId !== id && response.cameras.length && at) {
      fittedId = id;
      const bounds = cones.getBounds().extend(at);
      ctx.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 18 });
    }
  }

  function updateTrail(id) {
    const response = loaded(id);
    if (!response || ctx.state.openId !== id) return;
    const holder = ctx.dom.detail.querySelector("[data-sos-trail]");
    if (holder) holder.replaceWith(trailNode(response));
    if (overlayId !== id) return;
    if (!trailLine) {
      drawOverlay(id, false);
      return;
    }
    trailLine.setLatLngs(trailLatLngs(response));
    const last = response.trail[response.trail.length - 1];
    if (trailHead && last) trailHead.setLatLng([last.lat, last.lon]);
  }

  // --- patrol units ---------------------------------------------------------------------

  function unitLabel(unit) {
    return unit.callsign + " · " + t("unit.kind." + unit.kind) + " · " + t("unit.status." + unit.status);
  }

  function upsertUnit(unit) {
    const known = units.get(unit.id);
    const hasPlace = unit.lat !== null && unit.lat !== undefined && unit.lon !== null && unit.lon !== undefined;
    if (!hasPlace) {
      if (known && known.marker) ctx.layers.units.removeLayer(known.marker);
      units.set(unit.id, { unit, marker: null });
      return;
    }
    const icon = SZ.map.icon("sz-unit-marker kind-" + unit.kind + " ustatus-" + unit.status, { unitId: unit.id }, 20);
    if (known && known.marker) {
      known.unit = unit;
      known.marker.setLatLng([unit.lat, unit.lon]);
      known.marker.setIcon(icon);
      return;
    }
    const marker = L.marker([unit.lat, unit.lon], { icon, zIndexOffset: 600 });
    marker.bindTooltip(() => unitLabel(units.get(unit.id).unit));
    ctx.layers.units.addLayer(marker);
    units.set(unit.id, { unit, marker });
  }

  // --- SOS boxes and maintenance --------------------------------------------------------

  function boxState(id) {
    const known = boxes.get(id);
    if (!known) return "unknown";
    return known.online ? "online" : "offline";
  }

  function renderDevices() {
    if (!dom.boxList) return;
    const open = Array.from(maintenance.values())
      .filter((m) => !m.cleared_at)
      .sort((a, b) => ctx.stamp(b.raised_at) - ctx.stamp(a.raised_at));
    dom.maintList.replaceChildren(
      ...open.map((m) =>
        h(
          "li",
          { class: "item maintenance", dataset: { maintenanceId: m.id, assetId: m.asset_id } },
          h(
            "div",
            { class: "item-head" },
            h("span", { class: "chip warn", text: SZ.i18n.has("maint.kind." + m.kind) ? t("maint.kind." + m.kind) : m.kind }),
            h("strong", {
              text: SZ.i18n.has("asset." + m.asset_kind) ? t("asset." + m.asset_kind, { id: m.asset_id }) : m.asset_kind + " " + m.asset_id,
            }),
            time(m.raised_at, "short")
          ),
          m.detail ? h("div", { class: "item-meta", text: m.detail }) : null
        )
      )
    );
    dom.maintEmpty.hidden = open.length > 0;
    dom.maintCount.textContent = String(open.length);
    const registered = ctx.assets("sos_box").sort((a, b) => (a.id < b.id ? -1 : 1));
    // Devices needing attention: each counted once, whatever is wrong with it.
    const attention = new Set(open.map((m) => m.asset_kind + ":" + m.asset_id));
    dom.boxList.replaceChildren(
      ...registered.map((box) => {
        const state = boxState(box.id);
        if (state === "offline" && box.active) attention.add("sos_box:" + box.id);
        const known = boxes.get(box.id);
        return h(
          "li",
          { class: "item box box-" + state, dataset: { boxId: box.id, online: state } },
          h(
            "div",
            { class: "item-head" },
            h("span", { class: "chip box-state box-" + state, i18n: "box." + state }),
            h("strong", { text: box.id }),
            box.name ? h("span", { text: box.name }) : null,
            known && known.last_heartbeat_at ? time(known.last_heartbeat_at, "short") : null
          )
        );
      })
    );
    dom.boxEmpty.hidden = registered.length > 0;
    dom.deviceCount.textContent = String(attention.size);
    dom.deviceCount.hidden = attention.size === 0;
  }

  function setBox(status) {
    boxes.set(status.box_id, Object.assign({}, boxes.get(status.box_id) || {}, status));
    ctx.refreshAsset("sos_box", status.box_id);
  }

  // --- the plugin -----------------------------------------------------------------------

  (SZ.dashPlugins = SZ.dashPlugins || []).push({
    topics: [
      "sos.response",
      "sos.trail",
      "sos.box_status",
      "incident.evidence_added",
      "incident.escalated",
      "incident.sos_cancelled",
      "unit.changed",
      "unit.location",
      "maintenance.raised",
      "maintenance.cleared",
    ],
    layers: [["units", "layer.units", true]],

    init(context) {
      ctx = context;
      Object.assign(dom, {
        banner: document.getElementById("sos-alarm"),
        count: document.getElementById("sos-alarm-count"),
        list: document.getElementById("sos-alarm-list"),
        unmute: document.getElementById("sos-alarm-unmute"),
        soundButton: document.getElementById("alarm-sound"),
        soundLabel: document.querySelector("#alarm-sound .sound-label"),
        boxList: document.getElementById("box-list"),
        boxEmpty: document.getElementById("box-empty"),
        maintList: document.getElementById("maintenance-list"),
        maintEmpty: document.getElementById("maintenance-empty"),
        maintCount: document.getElementById("maintenance-count"),
        deviceCount: document.getElementById("device-count"),
      });
      dom.soundButton.addEventListener("click", () => {
        const state = sound.state();
        if (state === "on") {
          sound.setWanted(false);
          updateSound();
        } else {
          enableSound();
        }
      });
      dom.unmute.addEventListener("click", enableSound);
      // Sound enabled on an earlier visit: the first gesture on the page unlocks it.
      if (sound.wanted()) {
        sound.context();
        sound.unlock();
        const unlock = () => {
          if (sound.wanted() && !sound.running()) sound.unlock();
        };
        document.addEventListener("pointerdown", unlock, true);
        document.addEventListener("keydown", unlock, true);
      }
      updateSound();

      api("/api/v1/units")
        .then((list) => list.forEach(upsertUnit))
        .catch((err) => console.warn("units not loaded", err));
      api("/api/v1/sos/boxes/status")
        .then((list) => {
          list.forEach(setBox);
          renderDevices();
        })
        .catch((err) => console.warn("box status not loaded", err));
      api("/api/v1/maintenance-alerts")
        .then((list) => {
          list.forEach((m) => maintenance.set(m.id, m));
          renderDevices();
        })
        .catch((err) => console.warn("maintenance alerts not loaded", err));
    },

    onIncident(incident) {
      const id = incident.id;
      const was = alarms.has(id);
      if (isUrgent(incident) && incident.status === "new") alarms.set(id, incident);
      else alarms.delete(id);
      if (was || alarms.has(id)) renderBanner();
      if (!was && alarms.has(id) && !triggers.has(id)) {
        // Box or app? The sos.response event usually says so a moment later; if not
        // (the page opened after the SOS), ask.
        setTimeout(() => {
          if (alarms.has(id) && !triggers.has(id) && responses.get(id) === undefined) loadResponse(id);
        }, 500);
      }
    },

    onEvent(topic, data) {
      if (topic === "sos.response") {
        triggers.set(data.incident_id, { trigger: data.trigger, box_id: data.box_id });
        responses.delete(data.incident_id);
        if (ctx.state.openId === data.incident_id) loadResponse(data.incident_id);
        if (alarms.has(data.incident_id)) renderBanner();
      } else if (topic === "incident.escalated" && data.incident) {
        ctx.markEscalated(data.incident.id);
        if (alarms.has(data.incident.id)) renderBanner();
      } else if (topic === "incident.evidence_added" && data.snapshot) {
        const snapshot = data.snapshot;
        const response = loaded(snapshot.incident_id);
        if (response && !response.snapshots.some((s) => s.id === snapshot.id)) {
          response.snapshots.push(snapshot);
          if (ctx.state.openId === snapshot.incident_id) ctx.redrawDetail();
        }
      } else if (topic === "sos.trail") {
        const response = loaded(data.incident_id);
        if (!response) return;
        if (data.points && data.points > 1) {
          // Several points at once (sent after being offline): fetch them all.
          if (ctx.state.openId === data.incident_id) loadResponse(data.incident_id);
          else responses.delete(data.incident_id);
          return;
        }
        response.trail.push({ lat: data.lat, lon: data.lon, accuracy_m: data.accuracy_m, at: data.at });
        updateTrail(data.incident_id);
      } else if (topic === "incident.sos_cancelled" && data.incident && loaded(data.incident.id)) {
        // The caller (or the box) cancelled: show when.
        if (ctx.state.openId === data.incident.id) loadResponse(data.incident.id);
        else responses.delete(data.incident.id);
      } else if (topic === "sos.box_status") {
        setBox({ box_id: data.box_id, online: Boolean(data.online) });
        renderDevices();
      } else if ((topic === "unit.changed" || topic === "unit.location") && data.unit) {
        upsertUnit(data.unit);
      } else if (topic === "maintenance.raised" && data.maintenance) {
        maintenance.set(data.maintenance.id, data.maintenance);
        renderDevices();
      } else if (topic === "maintenance.cleared" && data.maintenance) {
        maintenance.delete(data.maintenance.id);
        renderDevices();
      } else if (topic === "registry.changed" && data.kind === "sos_box") {
        renderDevices();
      }
    },

    detailBlock(detail) {
      if (!isSosIncident(detail)) return null;
      const response = responses.get(detail.id);
      if (response === "missing") return null;
      if (response === undefined || response === "loading") {
        if (response === undefined) loadResponse(detail.id);
        return {
          node: h(
            "section",
            { class: "detail-block sos-response", dataset: { sosResponse: detail.id } },
            h("h3", { i18n: "sosr.title" }),
            h("p", { class: "muted", i18n: "common.loading" })
          ),
          replacesCameras: true,
          top: true,
        };
      }
      if (response.failed) {
        return {
          node: h(
            "section",
            { class: "detail-block sos-response" },
            h("h3", { i18n: "sosr.title" }),
            h("p", { class: "form-error", text: response.failed })
          ),
          replacesCameras: false,
        };
      }
      return { node: responseBlock(detail, response), replacesCameras: true, top: true };
    },

    onDetail(id) {
      clearOverlay();
      fittedId = null;
      if (id !== null && loaded(id)) drawOverlay(id, true);
      if (id !== null && responses.get(id) && responses.get(id).failed) responses.delete(id);
    },

    decorateAsset(kind, item, marker) {
      if (kind !== "sos_box") return;
      const state = boxState(item.id);
      marker.setIcon(
        SZ.map.icon("sz-sos-marker box-" + state + (item.active ? "" : " inactive"), { sosBoxId: item.id, online: state }, 18)
      );
      marker.unbindTooltip();
      marker.bindTooltip(() => t("marker.sos", { id: item.id }) + (item.name ? " · " + item.name : "") + " · " + t("box." + boxState(item.id)));
    },

    onRegistry() {
      renderDevices();
    },

    onLang() {
      renderBanner();
      renderDevices();
      if (overlayId !== null) drawOverlay(overlayId, false);
    },
  });
})();
