/* The officer app (/officer): shift, checkpoint scans, assignments, live location.
 *
 * - Shift: GET /api/v1/patrol/shifts?running=true, POST /patrol/shifts/start|end.
 * - Scan: the camera (officer-scan.js) or the typed code; the GPS fix and its accuracy
 *   are taken at the scan, and the check-in is POSTed with the phone's device id (kept in
 *   localStorage, entered once) to /api/v1/patrol/checkins. The verdict and its reasons
 *   are shown. A scan that cannot be sent waits in the offline queue (officer-queue.js)
 *   with its original scanned_at and is sent when the connection is back.
 * - Assignments: the unit's open dispatch assignments (GET /api/v1/dispatch/assignments),
 *   with acknowledge / en route / on scene / done buttons. The officer's own event stream
 *   (GET /api/v1/officer/events/stream, the session cookie as every call) says at once
 *   when one of them is assigned, changes or is cancelled: the list reloads then and the
 *   phone vibrates for a new one. The poll stays as the fallback. While the phone is
 *   offline the stream is closed (no reconnect attempts) and opened again on `online`.
 * - House-watch tasks on the route: the station's houses under watch today
 *   (GET /api/v1/housewatch/active), nearest to the phone first, with their address, dates
 *   and the house's code (HW-<id>): the officer checks in there with the normal scan.
 * - Live location: while on shift, the officer's unit position goes to
 *   POST /api/v1/units/{id}/location at most every data-location-every-s seconds (the
 *   server throttles as well).
 *
 * Hooks for tests: #shift-start/#shift-end, #shift-state[data-state], #manual-form,
 * #scan-result[data-status] with li[data-reason], #queue-count, #queue-list li,
 * #checkin-list li[data-checkin-id][data-status], #assignment-list li[data-assignment-id]
 * with button[data-step], #housewatch-list li[data-watch-id][data-checkpoint-id],
 * #device-form, #net-state[data-state][data-push] (push: off, connecting, live, retrying).
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api, t, onReady, busy, showErrors, clearErrors } = SZ;
  const DEVICE_KEY = "sz_officer_device";
  const DEVICE_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{3,127}$/;
  const FIX_FRESH_MS = 15000;
  const FIX_TIMEOUT_MS = 20000;
  const LOCATION_STALE_MS = 120000;
  const NEXT_STEPS = {
    assigned: ["acknowledged"],
    acknowledged: ["en_route", "on_scene"],
    en_route: ["on_scene"],
    on_scene: ["resolved"],
  };
  const PRIORITY_ORDER = ["critical", "high", "medium", "low"];
  const STREAM_URL = "/api/v1/officer/events/stream";
  const ASSIGNMENT_TOPICS = ["dispatch.assigned", "dispatch.step", "dispatch.cancelled", "dispatch.ack_overdue", "dispatch.crew_changed"];
  const STREAM_RETRY_MS = 2000;
  const STREAM_MAX_RETRY_MS = 60000;

  const state = {
    userId: 0,
    shift: undefined,
    unit: null,
    devices: null,
    fix: null,
    watchId: null,
    lastLocationAt: 0,
    locationEveryMs: 15000,
    incidents: new Map(),
    watches: null,
    source: null,
    push: "off",
    lastEventId: "",
    streamRetryMs: STREAM_RETRY_MS,
    streamTimer: null,
    loadingAssignments: null,
    nextAssignments: null,
  };
  let dom = {};

  onReady(init);

  function init() {
    const root = document.getElementById("sz-officer");
    state.userId = Number(root.dataset.userId);
    state.locationEveryMs = Number(root.dataset.locationEveryS || 15) * 1000;
    const ids = [
      "net-state", "net-label", "queue-badge", "shift-state", "shift-start", "shift-end",
      "shift-error", "unit-state", "gps-state", "scan-camera", "scan-view", "scan-video",
      "scan-stop", "scan-camera-error", "manual-box", "manual-form", "manual-code",
      "scan-result", "queue-section", "queue-count", "queue-list", "queue-sync",
      "assignment-list", "assignment-empty", "assignment-count", "assignment-error",
      "checkin-list", "checkin-empty", "device-form", "device-id", "device-state",
      "housewatch-list", "housewatch-empty", "housewatch-count",
    ];
    for (const id of ids) dom[id.replace(/-(\w)/g, (m, c) => c.toUpperCase())] = document.getElementById(id);

    dom.deviceId.value = storedDevice();
    dom.deviceForm.addEventListener("submit", saveDevice);
    dom.shiftStart.addEventListener("click", () => changeShift("start", dom.shiftStart));
    dom.shiftEnd.addEventListener("click", () => changeShift("end", dom.shiftEnd));
    dom.scanCamera.addEventListener("click", openCamera);
    dom.scanStop.addEventListener("click", closeCamera);
    dom.manualForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = dom.manualForm.querySelector("button[type=submit]");
      busy(button, () => submitScan(dom.manualCode.value, dom.manualForm));
    });
    dom.queueSync.addEventListener("click", () => busy(dom.queueSync, flushQueue));
    window.addEventListener("online", () => {
      renderNet();
      flushQueue();
      refresh();
      connectStream();
    });
    window.addEventListener("offline", () => {
      closeStream();
      renderNet();
    });
    document.addEventListener("sz:lang", () => {
      renderShift();
      renderGps();
      renderDevice();
      renderWatches();
    });

    renderNet();
    renderQueue();
    renderDevice();
    renderGps();
    if (!navigator.onLine) setText(dom.shiftState, "off.shift.offline");
    refresh().then(flushQueue);
    connectStream();
    setInterval(() => {
      refresh();
      flushQueue();
    }, Number(root.dataset.pollS || 20) * 1000);

    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/officer/sw.js", { scope: "/officer" }).catch((err) => {
        console.warn("service worker not registered", err);
      });
    }
  }

  /** Reload everything from the server (each part on its own: one failure hides nothing). */
  function refresh() {
    if (!navigator.onLine) return Promise.resolve();
    return Promise.all([loadShift(), loadUnit(), loadDevices(), loadAssignments(), loadCheckins(), loadWatches()]);
  }

  function setText(el, key, params) {
    el.setAttribute("data-i18n", key);
    if (params) el.setAttribute("data-i18n-params", JSON.stringify(params));
    else el.removeAttribute("data-i18n-params");
    el.textContent = t(key, params);
  }

  /** A translated span with {name} parameters that follows language changes. */
  function trp(key, params) {
    return h("span", { "data-i18n": key, "data-i18n-params": JSON.stringify(params), text: t(key, params) });
  }

  function showProblem(el, err) {
    el.textContent = err && err.message ? err.message : t("common.network_error");
    el.hidden = false;
  }

  // --- connection and queue --------------------------------------------------------------

  function renderNet() {
    const online = navigator.onLine;
    dom.netState.dataset.state = online ? "online" : "offline";
    dom.netState.dataset.push = state.push;
    setText(dom.netLabel, !online ? "off.net.offline" : state.push === "live" ? "off.net.live" : "off.net.online");
  }

  // --- the assignment stream ------------------------------------------------------------

  function setPush(value) {
    state.push = value;
    renderNet();
  }

  function closeStream() {
    clearTimeout(state.streamTimer);
    if (state.source) state.source.close();
    state.source = null;
    setPush("off");
  }

  /** Open the officer's event stream unless it is open, the phone is offline or the
   * browser has no EventSource (the poll alone then). */
  function connectStream() {
    clearTimeout(state.streamTimer);
    if (!window.EventSource || !navigator.onLine) return;
    if (state.source && state.source.readyState !== EventSource.CLOSED) return;
    const url = STREAM_URL + (state.lastEventId ? "?after=" + encodeURIComponent(state.lastEventId) : "");
    const source = new EventSource(url);
    state.source = source;
    setPush("connecting");
    source.onopen = () => {
      state.streamRetryMs = STREAM_RETRY_MS;
      setPush("live");
      // Without a position the stream starts now: what came before it is in the list.
      if (!state.lastEventId) loadAssignments();
    };
    source.onerror = () => {
      if (state.source !== source) return;
      if (!navigator.onLine) {
        closeStream(); // reopened by the "online" event
        return;
      }
      if (source.readyState === EventSource.CLOSED) recoverStream(source);
      else setPush("retrying"); // the browser reconnects by itself, with Last-Event-ID
    };
    for (const topic of ASSIGNMENT_TOPICS) {
      source.addEventListener(topic, (event) => {
        if (event.lastEventId) state.lastEventId = event.lastEventId;
        onAssignmentEvent(topic, event.data);
      });
    }
  }

  /** The browser gave up on the stream (an HTTP error): stop if signed out, else retry later. */
  async function recoverStream(source) {
    source.close();
    state.source = null;
    setPush("retrying");
    try {
      await api("/api/v1/auth/me");
    } catch (err) {
      if (err.status === 401) {
        closeStream();
        showSignIn();
        return;
      }
    }
    state.streamTimer = setTimeout(connectStream, state.streamRetryMs);
    state.streamRetryMs = Math.min(state.streamRetryMs * 2, STREAM_MAX_RETRY_MS);
  }

  function onAssignmentEvent(topic, raw) {
    let data;
    try {
      data = JSON.parse(raw);
    } catch (err) {
      console.warn("bad event", topic, err);
      return;
    }
    const assignment = data.assignment || {};
    // A crew change reaches both officers (ADR 0018): only the one taking over is buzzed.
    const newForMe =
      (topic === "dispatch.assigned" || topic === "dispatch.crew_changed") &&
      assignment.status === "assigned" &&
      assignment.officer_user_id === state.userId;
    if (newForMe && navigator.vibrate) navigator.vibrate([300, 150, 300]);
    loadAssignments();
    if (topic !== "dispatch.step" && topic !== "dispatch.ack_overdue") loadUnit();
  }

  function codeCheckpoint(code) {
    const parts = String(code || "").split(":");
    return parts.length >= 3 && parts[0] === "SZ1" ? parts[2] : "?";
  }

  function renderQueue() {
    const items = SZ.officerQueue.list(state.userId);
    dom.queueSection.hidden = items.length === 0;
    dom.queueCount.textContent = String(items.length);
    dom.queueBadge.textContent = String(items.length);
    dom.queueBadge.hidden = items.length === 0;
    dom.queueList.replaceChildren(
      ...items.map((item) =>
        h(
          "li",
          { class: "item", dataset: { queueId: item.id } },
          h("div", { class: "item-head" }, h("strong", { text: codeCheckpoint(item.body.qr) }), time(item.body.scanned_at, "short")),
          h("div", { class: "item-meta" }, tr("off.queue.waiting"), " · ", trp("off.gps.accuracy", { m: Math.round(item.body.accuracy_m) }))
        )
      )
    );
  }

  async function flushQueue() {
    if (!SZ.officerQueue.list(state.userId).length || !navigator.onLine) return;
    let last = null;
    const summary = await SZ.officerQueue.flush(state.userId, (outcome) => {
      last = outcome;
    });
    renderQueue();
    if (last) {
      if (last.result) {
        const original = await earlierCopy(last.item.body, last.result);
        showResult(original || last.result, { synced: true, scannedAt: last.item.body.scanned_at, duplicate: Boolean(original) });
      } else {
        showFailure(last.error);
      }
    }
    if (summary.stoppedBy && summary.stoppedBy.status === 401) showSignIn();
    if (summary.sent || summary.failed) loadCheckins();
  }

  /**
   * A queued scan whose first send did reach the server (only the answer was lost) comes
   * back from the retry as a replay of itself. The earlier copy (same code, place and
   * scan time) is the real verdict: find it in my check-ins.
   */
  async function earlierCopy(body, result) {
    if (result.status !== "rejected" || result.reasons.join() !== "replay" || !result.checkpoint_id) return null;
    let rows;
    try {
      rows = await api("/api/v1/patrol/checkins?limit=50&checkpoint_id=" + encodeURIComponent(result.checkpoint_id));
    } catch (err) {
      return null;
    }
    const at = SZ.i18n.parseTime(body.scanned_at).getTime();
    const same = (row) =>
      row.id !== result.id &&
      row.status !== "rejected" &&
      row.device_id === body.device_id &&
      row.lat === body.lat &&
      row.lon === body.lon &&
      Math.abs(SZ.i18n.parseTime(row.scanned_at).getTime() - at) < 1;
    const row = rows.find(same);
    return row ? { id: row.id, status: row.status, reasons: row.reasons, checkpoint_id: row.checkpoint_id, mode: row.mode, distance_m: row.distance_m } : null;
  }

  function showSignIn() {
    dom.scanResult.hidden = false;
    dom.scanResult.dataset.status = "error";
    dom.scanResult.replaceChildren(
      h("p", { class: "form-error", role: "alert" }, tr("off.signed_out"), " ", h("a", { href: "/login?next=%2Fofficer", i18n: "nav.login" }))
    );
  }

  // --- shift and unit -------------------------------------------------------------------

  async function loadShift() {
    try {
      const rows = await api("/api/v1/patrol/shifts?running=true&limit=1");
      state.shift = rows.length ? rows[0] : null;
      dom.shiftError.hidden = true;
    } catch (err) {
      if (err.status === 401) showSignIn();
      return;
    }
    renderShift();
  }

  function renderShift() {
    const shift = state.shift;
    if (shift === undefined) return;
    dom.shiftState.dataset.state = shift ? "on" : "off";
    dom.shiftState.replaceChildren(
      h(
        "span",
        {},
        shift ? h("span", { class: "chip ok", i18n: "off.shift.on" }) : h("span", { class: "chip", i18n: "off.shift.off" }),
        shift ? [" ", tr("off.shift.since"), " ", time(shift.started_at, "short")] : null
      )
    );
    dom.shiftStart.hidden = Boolean(shift);
    dom.shiftEnd.hidden = !shift;
    if (shift) startWatch();
    else stopWatch();
  }

  async function changeShift(action, button) {
    dom.shiftError.hidden = true;
    try {
      const shift = await busy(button, () => api("/api/v1/patrol/shifts/" + action, { method: "POST" }));
      state.shift = action === "start" ? shift : null;
      renderShift();
    } catch (err) {
      if (!(err instanceof SZ.ApiError)) throw err;
      showProblem(dom.shiftError, err);
      loadShift();
    }
  }

  async function loadUnit() {
    try {
      const units = await api("/api/v1/units");
      state.unit = units.find((u) => u.officer_user_id === state.userId) || null;
    } catch (err) {
      return;
    }
    renderUnit();
    // A phone standing still may not report a new fix for a while: send the last one.
    sendLocation();
  }

  function renderUnit() {
    const unit = state.unit;
    if (!unit) {
      dom.unitState.replaceChildren(tr("off.unit.none"));
      return;
    }
    dom.unitState.replaceChildren(
      h(
        "span",
        {},
        tr("off.unit.label"), " ",
      h("strong", { text: unit.callsign }), " · ",
      tr("unit.kind." + unit.kind), " · ",
      tr("unit.status." + unit.status),
        state.lastLocationAt ? [" · ", tr("off.unit.location_sent"), " ", time(new Date(state.lastLocationAt).toISOString(), "short")] : null
      )
    );
  }

  // --- GPS and live location ------------------------------------------------------------

  function fixOf(position) {
    return {
      lat: position.coords.latitude,
      lon: position.coords.longitude,
      accuracy_m: Math.min(10000, Math.max(0, Math.round((position.coords.accuracy || 0) * 10) / 10)),
      at: Date.now(),
    };
  }

  function startWatch() {
    if (state.watchId !== null || !navigator.geolocation) return;
    state.watchId = navigator.geolocation.watchPosition(
      (position) => {
        const first = !state.fix;
        state.fix = fixOf(position);
        renderGps();
        sendLocation();
        if (first) renderWatches();
      },
      (err) => {
        state.fixError = err.code === 1 ? "denied" : "unavailable";
        renderGps();
      },
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 60000 }
    );
  }

  function stopWatch() {
    if (state.watchId === null) return;
    navigator.geolocation.clearWatch(state.watchId);
    state.watchId = null;
  }

  function renderGps() {
    const fix = state.fix;
    if (fix) {
      dom.gpsState.dataset.state = "fix";
      setText(dom.gpsState, "off.gps.fix", { m: Math.round(fix.accuracy_m) });
    } else if (state.fixError) {
      dom.gpsState.dataset.state = state.fixError;
      setText(dom.gpsState, state.fixError === "denied" ? "off.gps.denied" : "off.gps.unavailable");
    } else {
      dom.gpsState.dataset.state = "none";
      setText(dom.gpsState, "off.gps.none");
    }
  }

  async function sendLocation() {
    const unit = state.unit;
    const fix = state.fix;
    if (!state.shift || !unit || !fix || !navigator.onLine) return;
    if (Date.now() - fix.at > LOCATION_STALE_MS) return;
    if (Date.now() - state.lastLocationAt < state.locationEveryMs) return;
    state.lastLocationAt = Date.now();
    try {
      await api("/api/v1/units/" + encodeURIComponent(unit.id) + "/location", {
        method: "POST",
        json: { lat: fix.lat, lon: fix.lon, accuracy_m: fix.accuracy_m },
      });
      renderUnit();
    } catch (err) {
      // A lost position is replaced by the next one; nothing to queue.
      console.warn("location not sent", err);
    }
  }

  /** A GPS fix for a scan: the watched one if fresh, otherwise a new one. */
  function currentFix() {
    if (state.fix && Date.now() - state.fix.at < FIX_FRESH_MS) return Promise.resolve(state.fix);
    if (!navigator.geolocation) return Promise.reject(Object.assign(new Error("no gps"), { code: 2 }));
    return new Promise((resolve, reject) => {
      navigator.geolocation.getCurrentPosition(
        (position) => {
          state.fix = fixOf(position);
          state.fixError = null;
          renderGps();
          resolve(state.fix);
        },
        (err) => {
          state.fixError = err.code === 1 ? "denied" : "unavailable";
          renderGps();
          reject(err);
        },
        { enableHighAccuracy: true, maximumAge: 10000, timeout: FIX_TIMEOUT_MS }
      );
    });
  }

  // --- the phone's device id ------------------------------------------------------------

  function storedDevice() {
    try {
      return window.localStorage.getItem(DEVICE_KEY) || "";
    } catch (err) {
      return "";
    }
  }

  function saveDevice(event) {
    event.preventDefault();
    clearErrors(dom.deviceForm);
    const value = dom.deviceId.value.trim();
    if (!DEVICE_RE.test(value)) {
      showErrors(dom.deviceForm, { message: t("off.device.invalid"), field: "device_id", details: [] });
      return;
    }
    try {
      window.localStorage.setItem(DEVICE_KEY, value);
    } catch (err) {
      showErrors(dom.deviceForm, { message: t("off.device.not_saved"), field: "device_id", details: [] });
      return;
    }
    dom.deviceId.value = value;
    renderDevice();
  }

  async function loadDevices() {
    try {
      state.devices = await api("/api/v1/patrol/devices");
    } catch (err) {
      return;
    }
    renderDevice();
  }

  function renderDevice() {
    const id = storedDevice();
    let key = "off.device.unset";
    let status = "unset";
    if (id && state.devices) {
      const registered = state.devices.some((d) => d.device_id === id && !d.revoked_at);
      key = registered ? "off.device.registered" : "off.device.unregistered";
      status = registered ? "registered" : "unregistered";
    } else if (id) {
      key = "off.device.saved";
      status = "saved";
    }
    dom.deviceState.dataset.state = status;
    setText(dom.deviceState, key, { id });
  }

  // --- scanning -------------------------------------------------------------------------

  async function openCamera() {
    dom.scanCameraError.hidden = true;
    dom.scanView.hidden = false;
    dom.scanCamera.hidden = true;
    try {
      await SZ.scanner.start(dom.scanVideo, (code) => {
        closeCamera();
        submitScan(code, null);
      });
    } catch (err) {
      closeCamera();
      setText(dom.scanCameraError, "off.camera." + (err.code || "failed"));
      dom.scanCameraError.hidden = false;
      dom.manualBox.open = true;
    }
  }

  function closeCamera() {
    SZ.scanner.stop();
    dom.scanVideo.srcObject = null;
    dom.scanView.hidden = true;
    dom.scanCamera.hidden = false;
  }

  /** Judge one scan: take the fix, send it (or queue it), show the verdict. */
  async function submitScan(raw, form) {
    const qr = String(raw || "").trim();
    const scannedAt = new Date().toISOString();
    if (form) clearErrors(form);
    if (!qr) {
      if (form) showErrors(form, { message: t("off.scan.empty"), field: "qr", details: [] });
      return;
    }
    const deviceId = storedDevice();
    if (!deviceId) {
      showMessage("off.device.needed");
      dom.deviceId.focus();
      return;
    }
    let fix;
    try {
      fix = await currentFix();
    } catch (err) {
      showMessage(err.code === 1 ? "off.gps.denied" : "off.gps.unavailable");
      return;
    }
    const body = { qr, lat: fix.lat, lon: fix.lon, accuracy_m: fix.accuracy_m, scanned_at: scannedAt, device_id: deviceId };
    if (!navigator.onLine) {
      queue(body, "network");
      if (form) form.reset();
      return;
    }
    try {
      const result = await api("/api/v1/patrol/checkins", { method: "POST", json: body });
      showResult(result, {});
      if (form) form.reset();
      loadCheckins();
    } catch (err) {
      if (!(err instanceof SZ.ApiError)) throw err;
      if (SZ.officerQueue.retryable(err)) {
        queue(body, err.code);
        if (form) form.reset();
        if (err.status === 401) showSignIn();
      } else if (form) {
        showErrors(form, err);
      } else {
        showFailure(err);
      }
    }
  }

  function queue(body, reason) {
    try {
      SZ.officerQueue.add(state.userId, body, reason);
    } catch (err) {
      showMessage("off.queue.full");
      return;
    }
    renderQueue();
    showMessage("off.queue.saved");
    dom.scanResult.dataset.status = "queued";
  }

  function showMessage(key) {
    dom.scanResult.hidden = false;
    dom.scanResult.dataset.status = "message";
    dom.scanResult.replaceChildren(h("p", { class: "scan-message", i18n: key }));
  }

  function showFailure(err) {
    dom.scanResult.hidden = false;
    dom.scanResult.dataset.status = "error";
    dom.scanResult.replaceChildren(h("p", { class: "form-error", role: "alert", text: err.message }));
  }

  function reasonList(reasons) {
    if (!reasons.length) return null;
    return h(
      "ul",
      { class: "reasons" },
      reasons.map((reason) =>
        h("li", { dataset: { reason } }, SZ.i18n.has("off.reason." + reason) ? tr("off.reason." + reason) : reason)
      )
    );
  }

  function showResult(result, extra) {
    dom.scanResult.hidden = false;
    dom.scanResult.dataset.status = result.status;
    dom.scanResult.replaceChildren(
      h(
        "p",
        { class: "verdict verdict-" + result.status },
        h("span", { class: "verdict-mark", "aria-hidden": "true", text: result.status === "accepted" ? "✓" : result.status === "flagged" ? "!" : "✗" }),
        " ",
        tr("off.status." + result.status)
      ),
      h(
        "p",
        { class: "muted small" },
        result.checkpoint_id ? h("strong", { text: result.checkpoint_id }) : null,
        result.distance_m !== null && result.distance_m !== undefined ? [" · ", trp("off.distance", { m: Math.round(result.distance_m) })] : null,
        extra.synced ? [" · ", tr("off.queue.synced"), " ", time(extra.scannedAt, "short")] : null
      ),
      extra.duplicate ? h("p", { class: "small", dataset: { duplicate: "1" }, i18n: "off.queue.duplicate" }) : "",
      reasonList(result.reasons || []) || ""
    );
  }

  // --- my check-ins ---------------------------------------------------------------------

  async function loadCheckins() {
    let rows;
    try {
      rows = await api("/api/v1/patrol/checkins?limit=10");
    } catch (err) {
      return;
    }
    dom.checkinEmpty.hidden = rows.length > 0;
    dom.checkinList.replaceChildren(
      ...rows.map((row) =>
        h(
          "li",
          { class: "item checkin-item status-" + row.status, dataset: { checkinId: row.id, status: row.status } },
          h(
            "div",
            { class: "item-head" },
            h("span", { class: "chip verdict-" + row.status, i18n: "off.status." + row.status }),
            h("strong", { text: row.checkpoint_id || "?" }),
            time(row.scanned_at, "short")
          ),
          reasonList(row.reasons)
        )
      )
    );
  }

  // --- assignments ----------------------------------------------------------------------

  async function incident(id) {
    if (!state.incidents.has(id)) {
      try {
        state.incidents.set(id, await api("/api/v1/incidents/" + id));
      } catch (err) {
        return null;
      }
    }
    return state.incidents.get(id);
  }

  /** Reload the list. A call during a load makes one more load after it (never two at
   * once, so an older answer cannot overwrite a newer one) and resolves after that one. */
  function loadAssignments() {
    if (state.nextAssignments) return state.nextAssignments;
    if (state.loadingAssignments) {
      const again = () => {
        state.nextAssignments = null;
        return loadAssignments();
      };
      state.nextAssignments = state.loadingAssignments.then(again, again);
      return state.nextAssignments;
    }
    state.loadingAssignments = fetchAssignments().finally(() => {
      state.loadingAssignments = null;
    });
    return state.loadingAssignments;
  }

  async function fetchAssignments() {
    let rows;
    try {
      rows = await api("/api/v1/dispatch/assignments?active=true");
    } catch (err) {
      return;
    }
    state.incidents.clear();
    const details = await Promise.all(rows.map((row) => incident(row.incident_id)));
    const items = rows.map((row, i) => ({ row, incident: details[i] }));
    items.sort((a, b) => rank(a) - rank(b) || b.row.id - a.row.id);
    dom.assignmentCount.textContent = String(rows.length);
    dom.assignmentEmpty.hidden = rows.length > 0;
    dom.assignmentList.replaceChildren(...items.map(assignmentItem));
  }

  function rank(entry) {
    const waiting = entry.row.status === "assigned" ? 0 : 10;
    const priority = entry.incident ? PRIORITY_ORDER.indexOf(entry.incident.priority) : 5;
    return waiting + priority;
  }

  function assignmentItem(entry) {
    const { row, incident: inc } = entry;
    const title = inc ? (inc.title ? h("span", { text: inc.title }) : tr("cat." + inc.category)) : h("span", { text: "#" + row.incident_id });
    const buttons = (NEXT_STEPS[row.status] || []).map((step) => {
      const button = h("button", {
        type: "button",
        class: "btn " + (step === "acknowledged" ? "btn-primary btn-large" : ""),
        dataset: { step },
        "data-busy-label": "off.working",
        i18n: "off.step." + step,
      });
      button.addEventListener("click", () => reportStep(row, step, button));
      return button;
    });
    return h(
      "li",
      { class: "item assignment status-" + row.status, dataset: { assignmentId: row.id, status: row.status } },
      h(
        "div",
        { class: "item-head" },
        inc ? h("span", { class: "badge prio-" + inc.priority, i18n: "priority." + inc.priority }) : null,
        h("span", { class: "chip", i18n: "off.asg.status." + row.status }),
        h("span", { class: "item-id", text: "#" + row.incident_id }),
        time(row.assigned_at, "short")
      ),
      h("div", { class: "item-title" }, title),
      inc && inc.description ? h("div", { class: "item-desc", text: inc.description }) : null,
      h(
        "div",
        { class: "item-meta" },
        row.status === "assigned" ? [tr("off.asg.ack_by"), " ", time(row.ack_due_at, "short")] : null,
        row.note ? [" ", h("span", { text: row.note })] : null
      ),
      h(
        "p",
        { class: "actions" },
        buttons,
        inc ? h("a", { class: "btn btn-ghost", href: "geo:" + inc.lat + "," + inc.lon, i18n: "off.asg.navigate" }) : null
      )
    );
  }

  async function reportStep(row, step, button) {
    dom.assignmentError.hidden = true;
    const path = "/api/v1/dispatch/assignments/" + row.id + (step === "acknowledged" ? "/acknowledge" : "/steps");
    try {
      await busy(button, () => api(path, { method: "POST", json: step === "acknowledged" ? undefined : { status: step } }));
    } catch (err) {
      if (!(err instanceof SZ.ApiError)) throw err;
      showProblem(dom.assignmentError, err);
    }
    await Promise.all([loadAssignments(), loadUnit()]);
  }

  // --- house-watch tasks ----------------------------------------------------------------

  async function loadWatches() {
    try {
      state.watches = await api("/api/v1/housewatch/active");
    } catch (err) {
      return;
    }
    renderWatches();
  }

  function metresTo(watch) {
    const fix = state.fix;
    if (!fix) return null;
    const rad = Math.PI / 180;
    const dLat = (watch.lat - fix.lat) * rad;
    const dLon = (watch.lon - fix.lon) * rad;
    const a = Math.sin(dLat / 2) ** 2 + Math.cos(fix.lat * rad) * Math.cos(watch.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * 6371000 * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function dateText(iso) {
    // A calendar date (no time of day): shown as it is, in the current language.
    const [y, m, d] = iso.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(SZ.i18n.lang() === "th" ? "th-TH" : "en-GB", {
      day: "numeric",
      month: "short",
      year: "numeric",
      timeZone: "UTC",
    });
  }

  function renderWatches() {
    const rows = state.watches;
    if (!rows) return;
    const items = rows.map((watch) => ({ watch, metres: metresTo(watch) }));
    items.sort((a, b) => (a.metres === null || b.metres === null ? a.watch.id - b.watch.id : a.metres - b.metres));
    dom.housewatchCount.textContent = String(rows.length);
    dom.housewatchEmpty.hidden = rows.length > 0;
    dom.housewatchList.replaceChildren(
      ...items.map(({ watch, metres }) => {
        const code = watch.checkpoint_id || "HW-" + watch.id;
        return h(
          "li",
          { class: "item housewatch-task", dataset: { watchId: watch.id, checkpointId: code } },
          h(
            "div",
            { class: "item-head" },
            h("span", { class: "chip", text: code }),
            h("strong", { class: "watch-address", text: watch.address }),
            metres !== null ? h("span", { class: "muted" }, trp("off.hw.distance", { m: Math.round(metres) })) : null
          ),
          h("div", { class: "item-meta watch-dates" }, trp("off.hw.dates", { from: dateText(watch.starts_on), to: dateText(watch.ends_on) })),
          watch.note ? h("div", { class: "item-desc" }, tr("off.hw.note"), ": ", h("span", { text: watch.note })) : null,
          h("div", { class: "item-meta" }, trp("off.hw.scan_hint", { code })),
          h("p", { class: "actions" }, h("a", { class: "btn btn-ghost", href: "geo:" + watch.lat + "," + watch.lon, i18n: "off.asg.navigate" }))
        );
      })
    );
  }
})();
