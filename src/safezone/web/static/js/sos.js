/* The citizen app's SOS button (/app).
 *
 * Press and hold the button: a 3-second countdown runs on a full-screen panel; letting go
 * or pressing Cancel stops it and nothing is sent. (A keyboard or screen-reader "click"
 * cannot be held, so it starts the same countdown, cancelled with the Cancel button.)
 * At zero the SOS is written to the queue of sos-queue.js with the phone's position and
 * sent; then a new location point is queued every few seconds while the phone moves and
 * the queue is flushed, until the person cancels (after confirming) or the police resolve
 * the SOS. Offline, the SOS and its points wait in IndexedDB and are sent when the
 * connection returns: by the service worker (Background Sync) or by this page (`online`
 * events, each tick, the next load).
 *
 * The SOS in progress is remembered in localStorage (sz_sos_current), so a reload resumes
 * it. The 191 hotline is always on the panel.
 *
 * Hooks for tests: #sos-screen[data-phase] is one of countdown, locating, sending, queued,
 * sent, ended, failed.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { api, t, onReady } = SZ;
  const Q = window.SZSosQueue;
  const CURRENT = "sz_sos_current";
  const PANIC = "/api/v1/sos/panic/";

  onReady(() => {
    const root = document.getElementById("sz-citizen");
    const button = document.getElementById("sos-button");
    if (!root || !button || !Q) return;
    const HOLD_MS = parseInt(root.dataset.sosHoldMs || "3000", 10);
    const TRAIL_MS = parseInt(root.dataset.sosTrailMs || "5000", 10);
    // With no position this long (or none to be had), the caller may mark it on a map.
    const NOFIX_MS = parseInt(root.dataset.sosNofixMs || "15000", 10);

    const el = (id) => document.getElementById(id);
    const screen = el("sos-screen");
    const countdown = el("sos-countdown");
    const count = el("sos-count");
    const status = el("sos-status");
    const stateLine = el("sos-state");
    const detailLine = el("sos-detail");
    const codeBox = el("sos-code");
    const codeHolder = el("sos-code-box");
    const trailLine = el("sos-trail");
    const accuracyLine = el("sos-accuracy");
    const confirmBox = el("sos-confirm");
    const cancelButton = el("sos-cancel");
    const retryButton = el("sos-retry");
    const closeButton = el("sos-close");
    const trackLink = el("sos-track");
    const problem = el("sos-problem");
    const pickBox = el("sos-pick");
    const pickSend = el("sos-pick-send");

    let ref = null; // client_ref of the SOS in progress
    let watchId = null;
    let fix = null; // latest GeolocationPosition
    let lastQueuedFix = 0; // timestamp of the latest fix queued as a trail point
    let fixWaiters = [];
    let countdownTimer = null;
    let countdownStart = 0;
    let holding = false;
    let loopTimer = null;
    let flushing = null;
    let lastFlushPending = false;
    let previousFocus = null;
    let geoGranted = false;
    let noFixTimer = null;
    let noGeo = false; // the position was refused or cannot be had on this phone
    let pickMap = null;
    let pickMarker = null;

    // --- showing --------------------------------------------------------------------

    function setText(node, key, params) {
      if (!key) {
        node.removeAttribute("data-i18n");
        node.removeAttribute("data-i18n-params");
        node.textContent = "";
        node.hidden = true;
        return;
      }
      node.setAttribute("data-i18n", key);
      if (params) node.setAttribute("data-i18n-params", JSON.stringify(params));
      else node.removeAttribute("data-i18n-params");
      node.textContent = t(key, params);
      node.hidden = false;
    }

    function open() {
      if (screen.hidden) {
        previousFocus = document.activeElement;
        screen.hidden = false;
        document.body.classList.add("sos-open");
      }
    }

    function closeScreen() {
      screen.hidden = true;
      screen.dataset.phase = "idle";
      document.body.classList.remove("sos-open");
      if (previousFocus && previousFocus.focus) previousFocus.focus();
    }

    function setPhase(phase, params) {
      open();
      screen.dataset.phase = phase;
      countdown.hidden = phase !== "countdown";
      status.hidden = phase === "countdown";
      const live = ["sending", "queued", "sent", "locating"].includes(phase);
      cancelButton.hidden = !live;
      if (!live) confirmBox.hidden = true;
      retryButton.hidden = phase !== "failed";
      closeButton.hidden = !["ended", "failed"].includes(phase);
      setText(stateLine, "sos.state." + phase, params);
      if (phase === "countdown") el("sos-countdown-cancel").focus();
    }

    /** Why the server refused, in the caller's language where the app knows the reason
     * (the server's own words, in English, otherwise). */
    function reason(error) {
      const key = "sos.error." + (error.code || "");
      return SZ.i18n.has(key) ? t(key) : error.message || String(error.status);
    }

    function say(key, params) {
      setText(detailLine, key, params);
    }

    // --- position -------------------------------------------------------------------

    function startWatch() {
      if (watchId !== null || !("geolocation" in navigator)) return;
      watchId = navigator.geolocation.watchPosition(
        (position) => {
          const c = position.coords;
          setText(accuracyLine, "sos.accuracy", { m: Math.round(c.accuracy) });
          document.dispatchEvent(
            new CustomEvent("sz:position", { detail: { lat: c.latitude, lon: c.longitude, accuracy: c.accuracy } })
          );
          gotFix(position);
        },
        (error) => {
          if (screen.dataset.phase === "locating" || screen.dataset.phase === "countdown") {
            problem.hidden = false;
            setText(problem, error.code === error.PERMISSION_DENIED ? "sos.location_denied" : "sos.location_waiting");
          }
          // Denied or impossible: no point waiting; a timeout: the map is offered after NOFIX_MS anyway.
          if (error.code !== error.TIMEOUT) {
            noGeo = true;
            offerPick();
          }
        },
        { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 }
      );
    }

    function stopWatch() {
      if (watchId !== null) navigator.geolocation.clearWatch(watchId);
      watchId = null;
    }

    function gotFix(position) {
      fix = position;
      clearTimeout(noFixTimer);
      noFixTimer = null;
      pickBox.hidden = true;
      const waiting = fixWaiters;
      fixWaiters = [];
      waiting.forEach((resolve) => resolve(position));
    }

    function firstFix() {
      if (fix) return Promise.resolve(fix);
      if (noGeo || !("geolocation" in navigator)) offerPick();
      else if (noFixTimer === null) noFixTimer = setTimeout(offerPick, NOFIX_MS);
      return new Promise((resolve) => fixWaiters.push(resolve));
    }

    /** No GPS position: the caller marks where they are on a map (no accuracy is sent;
     * the server tells the operator the place was marked by hand). A GPS fix that comes
     * later still wins, and feeds the live trail. */
    function offerPick() {
      if (fix || screen.dataset.phase !== "locating" || !pickBox.hidden) return;
      problem.hidden = true; // the map's own line says it, and names 191
      pickBox.hidden = false;
      if (!pickMap) {
        pickMap = SZ.map.create(el("sos-pick-map"), {
          tileUrl: root.dataset.tileUrl,
          attribution: root.dataset.tileAttribution,
        });
        // The city's safety zones, to find one's way (and to centre the map on them).
        SZ.map.publicZones(pickMap, () => pickMarker !== null);
        pickMap.on("click", (event) => markAt(event.latlng));
        // Without a pointer: the arrow keys move the map, Enter marks its centre.
        pickMap.getContainer().addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            markAt(pickMap.getCenter());
          }
        });
      }
      pickMap.invalidateSize();
    }

    function resetPick() {
      if (pickMarker) pickMarker.remove();
      pickMarker = null;
      pickSend.disabled = true;
      pickBox.hidden = true;
      noGeo = false;
    }

    function markAt(at) {
      if (!pickMarker) {
        pickMarker = L.marker(at, { icon: SZ.map.icon("sz-pick-marker", {}, 24), draggable: true }).addTo(pickMap);
      } else {
        pickMarker.setLatLng(at);
      }
      pickSend.disabled = false;
    }

    pickSend.addEventListener("click", () => {
      if (!pickMarker || fix) return;
      const at = pickMarker.getLatLng();
      gotFix({ coords: { latitude: at.lat, longitude: at.lng, accuracy: NaN }, timestamp: Date.now(), picked: true });
    });

    // --- countdown ------------------------------------------------------------------

    function startCountdown(hold) {
      if (ref !== null || countdownTimer !== null) return;
      holding = hold;
      // Start finding the position now only if that asks nothing: a permission prompt
      // would interrupt the hold. Otherwise the prompt comes when the countdown ends.
      if (geoGranted) startWatch();
      countdownStart = performance.now();
      problem.hidden = true;
      setPhase("countdown");
      count.textContent = String(Math.ceil(HOLD_MS / 1000));
      if (navigator.vibrate) navigator.vibrate(60);
      countdownTimer = setInterval(() => {
        const left = HOLD_MS - (performance.now() - countdownStart);
        if (left <= 0) {
          clearInterval(countdownTimer);
          countdownTimer = null;
          fire();
          return;
        }
        const shown = String(Math.ceil(left / 1000));
        if (count.textContent !== shown) {
          count.textContent = shown;
          if (navigator.vibrate) navigator.vibrate(60);
        }
      }, 50);
    }

    function cancelCountdown() {
      if (countdownTimer === null) return;
      clearInterval(countdownTimer);
      countdownTimer = null;
      holding = false;
      if (ref === null) stopWatch();
      closeScreen();
    }

    button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      try {
        button.setPointerCapture(event.pointerId);
      } catch (err) {
        // Capture is a nicety: the release is still seen on the page.
      }
      startCountdown(true);
    });
    for (const type of ["pointerup", "pointercancel"]) {
      button.addEventListener(type, () => {
        if (holding) cancelCountdown();
      });
    }
    button.addEventListener("contextmenu", (event) => event.preventDefault());
    button.addEventListener("click", (event) => {
      // detail 0: a keyboard or assistive-technology activation, which cannot be held.
      if (event.detail === 0) startCountdown(false);
    });
    el("sos-countdown-cancel").addEventListener("click", cancelCountdown);

    // --- sending --------------------------------------------------------------------

    function remember(value) {
      try {
        if (value) window.localStorage.setItem(CURRENT, JSON.stringify(value));
        else window.localStorage.removeItem(CURRENT);
      } catch (err) {
        // Private mode: the SOS still goes out, it just does not survive a reload.
      }
    }

    function remembered() {
      try {
        const value = JSON.parse(window.localStorage.getItem(CURRENT) || "null");
        return value && typeof value.ref === "string" ? value : null;
      } catch (err) {
        return null;
      }
    }

    function requestSync() {
      if (!("serviceWorker" in navigator)) return;
      navigator.serviceWorker.ready
        .then((registration) => (registration.sync ? registration.sync.register(Q.SYNC_TAG) : null))
        .catch(() => undefined);
    }

    async function fire() {
      // A place marked by hand was for the SOS before; this one asks the phone again.
      if (fix && fix.picked) fix = null;
      resetPick();
      ref = "sos-" + SZ.randomId();
      remember({ ref, started_at: new Date().toISOString() });
      await locateAndQueue();
    }

    async function locateAndQueue() {
      if (!fix) setPhase("locating");
      startWatch();
      const position = await firstFix();
      const c = position.coords;
      lastQueuedFix = position.timestamp;
      const body = {
        lat: Number(c.latitude.toFixed(7)),
        lon: Number(c.longitude.toFixed(7)),
        accuracy_m: Number.isFinite(c.accuracy) ? Math.min(Math.round(c.accuracy * 10) / 10, 100000) : null,
        client_ref: ref,
        location_source: position.picked ? "map" : "gps",
      };
      problem.hidden = true;
      await Q.queue(body, SZ.cookie("sz_csrf"));
      setPhase("sending");
      requestSync();
      await flushNow();
      await refresh();
      startLoop();
    }

    function flushNow() {
      if (!flushing) {
        flushing = Q.flush()
          .then((result) => {
            lastFlushPending = result.pending;
          })
          .catch((err) => {
            console.warn("SOS queue flush failed", err);
            lastFlushPending = true;
          })
          .finally(() => {
            flushing = null;
          });
      }
      return flushing;
    }

    function startLoop() {
      if (loopTimer === null) loopTimer = setInterval(tick, TRAIL_MS);
    }

    function stopLoop() {
      clearInterval(loopTimer);
      loopTimer = null;
    }

    async function tick() {
      if (ref === null) return;
      const record = await Q.get(ref);
      if (!record || record.ended) {
        await refresh();
        return;
      }
      let queued = false;
      if (fix && !fix.picked && fix.timestamp > lastQueuedFix) {
        const c = fix.coords;
        lastQueuedFix = fix.timestamp;
        await Q.addPoint(ref, {
          lat: Number(c.latitude.toFixed(7)),
          lon: Number(c.longitude.toFixed(7)),
          accuracy_m: Number.isFinite(c.accuracy) ? Math.min(Math.round(c.accuracy * 10) / 10, 100000) : null,
          at: new Date(fix.timestamp).toISOString(),
        });
        queued = true;
      }
      if (record.state && !queued && navigator.onLine !== false) {
        // Nothing new to send: ask whether the police have resolved the SOS.
        try {
          const state = await api(PANIC + encodeURIComponent(record.state.tracking_code));
          const latest = (await Q.get(ref)) || record;
          latest.state = state;
          await Q.save(latest);
        } catch (err) {
          // Offline or the server is busy: try again on the next tick.
        }
      }
      await flushNow();
      await refresh();
    }

    async function refresh() {
      if (ref === null) return;
      const record = await Q.get(ref);
      if (!record) return;
      if (record.error) {
        finish();
        setPhase("failed", { message: reason(record.error) });
        say("sos.call_191_hint");
        return;
      }
      if (record.ended && !record.state) {
        finish();
        setPhase("ended");
        say("sos.ended.cancelled");
        return;
      }
      if (!record.state) {
        const offline = lastFlushPending || navigator.onLine === false;
        setPhase(offline ? "queued" : "sending");
        say(offline ? "sos.queued_hint" : null);
        return;
      }
      const state = record.state;
      codeBox.textContent = state.tracking_code;
      codeHolder.hidden = false;
      trackLink.href = "/app/track/" + encodeURIComponent(state.tracking_code);
      trackLink.hidden = false;
      if (!record.remembered) {
        record.remembered = true;
        await Q.save(record);
        if (SZ.recent) {
          SZ.recent.remember({ code: state.tracking_code, kind: "emergency", category: "sos", at: record.queued_at });
          SZ.recent.render();
        }
      }
      const waiting = await Q.pendingPoints(ref);
      if (waiting > 0 && (lastFlushPending || navigator.onLine === false)) {
        setText(trailLine, "sos.trail_pending", { n: state.trail_points, waiting });
      } else {
        setText(trailLine, "sos.trail", { n: state.trail_points });
      }
      if (!state.active || record.ended) {
        finish();
        setPhase("ended");
        say(state.cancelled_at ? "sos.ended.cancelled" : "sos.ended.resolved");
        return;
      }
      setPhase("sent");
      say(lastFlushPending || navigator.onLine === false ? "sos.sent_offline" : "sos.sent_hint");
    }

    /** Stop sending: the SOS is over (or failed). The screen stays until Close. */
    function finish() {
      stopLoop();
      stopWatch();
      clearTimeout(noFixTimer);
      noFixTimer = null;
      pickBox.hidden = true;
      if (ref !== null) Q.end(ref).catch(() => undefined);
    }

    // --- cancel, retry, close -------------------------------------------------------

    cancelButton.addEventListener("click", () => {
      confirmBox.hidden = false;
      el("sos-cancel-no").focus();
    });
    el("sos-cancel-no").addEventListener("click", () => {
      confirmBox.hidden = true;
      cancelButton.focus();
    });
    el("sos-cancel-yes").addEventListener("click", async (event) => {
      const yes = event.currentTarget;
      if (ref === null) return;
      yes.disabled = true;
      problem.hidden = true;
      try {
        const record = await Q.get(ref);
        if (record && record.state) {
          const state = await api(PANIC + encodeURIComponent(record.state.tracking_code) + "/cancel", { method: "POST" });
          record.state = state;
          await Q.save(record);
        }
        await Q.end(ref);
        confirmBox.hidden = true;
        await refresh();
      } catch (err) {
        problem.hidden = false;
        setText(problem, "sos.cancel_failed", { message: reason(err) });
      } finally {
        yes.disabled = false;
      }
    });

    retryButton.addEventListener("click", () => {
      // A new SOS (the refused one will never be taken): back to the countdown.
      ref = null;
      remember(null);
      closeScreen();
      startCountdown(false);
    });

    closeButton.addEventListener("click", () => {
      ref = null;
      fix = null;
      resetPick();
      remember(null);
      closeScreen();
    });

    // --- connection and service worker ----------------------------------------------

    window.addEventListener("online", async () => {
      if (ref === null) return;
      await flushNow();
      await refresh();
    });
    window.addEventListener("offline", () => {
      if (ref !== null) {
        lastFlushPending = true;
        refresh();
      }
    });
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("message", (event) => {
        if (event.data && event.data.type === "sz-sos-flushed" && ref !== null) refresh();
      });
    }
    document.addEventListener("sz:lang", () => {
      if (ref !== null) refresh();
    });

    // --- resume after a reload ------------------------------------------------------

    async function resume() {
      const saved = remembered();
      if (!saved) {
        // Points of an SOS that ended before the last reload may still wait to be sent.
        flushNow();
        return;
      }
      ref = saved.ref;
      const record = await Q.get(ref).catch(() => null);
      if (!record) {
        // The page was closed before the first position came: find it and send now.
        await locateAndQueue();
        return;
      }
      if (record.ended && !record.error) {
        ref = null;
        remember(null);
        return;
      }
      open();
      startWatch();
      await flushNow();
      await refresh();
      if (!record.ended && !record.error) startLoop();
    }

    if (navigator.permissions && navigator.permissions.query) {
      navigator.permissions
        .query({ name: "geolocation" })
        .then((permission) => {
          geoGranted = permission.state === "granted";
          permission.addEventListener("change", () => {
            geoGranted = permission.state === "granted";
          });
        })
        .catch(() => undefined);
    }

    resume().catch((err) => console.warn("could not resume the SOS", err));
  });
})();
