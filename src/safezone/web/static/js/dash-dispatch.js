/* Command-centre dashboard: dispatch. A plugin of dashboard.js (see the comment at its
 * top); loaded after dash-sos.js, whose siren it shares (SZ.alarmSound).
 *
 * - In an open incident's detail (control room only): the units sent to it with their
 *   state and times, and the available units ranked by estimated travel time
 *   (GET /api/v1/dispatch/incidents/{id}/suggestions), each with an Assign button
 *   (POST /api/v1/dispatch/assignments). Active assignments can be stood down.
 * - The "Units sent" panel: every open assignment at the station, its state kept live
 *   from the dispatch.assigned / dispatch.step / dispatch.cancelled / dispatch.crew_changed
 *   events (a new crew took the unit over: the alarm waits for its fresh deadline).
 * - The overdue alarm: a dispatch.ack_overdue event (a unit did not acknowledge in time)
 *   raises a flashing banner above the map, with the SOS siren when sound is enabled. It
 *   stays until the officer acknowledges after all, the operator records a radio reply,
 *   reassigns (stands the unit down and picks another) or dismisses it. Dismissals are
 *   remembered in this browser (localStorage); a reload shows the others again.
 *
 * Hooks for tests: #dispatch-alarm[data-sound] with li[data-assignment-id] and buttons
 * [data-overdue-radio|data-overdue-reassign|data-overdue-dismiss]; .dispatch-panel
 * [data-dispatch-incident] with li[data-suggest-unit-id] (rank order) and their
 * button[data-assign-unit], li[data-assignment-id][data-status]; #dispatch-list
 * li[data-assignment-id][data-status].
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api, t } = SZ;
  const ACTIVE = ["assigned", "acknowledged", "en_route", "on_scene"];
  const CLOSED_INCIDENT = ["resolved", "closed"];
  const DISMISSED_KEY = "sz_dispatch_dismissed";
  const SOUND_KEY = "dispatch";
  const SUGGEST_LIMIT = 5;
  const LOCATION_REFRESH_MS = 10000;

  let ctx = null;
  const dom = {};
  const assignments = new Map(); // assignment id -> assignment
  const units = new Map(); // unit id -> unit (callsigns, kinds)
  const suggestions = new Map(); // incident id -> list | "loading" | {failed}
  const overdue = new Map(); // assignment id -> {assignment, late_by_s}
  const errors = new Map(); // incident id -> last error message of an action
  let lastLocationRefresh = 0;

  // --- helpers ------------------------------------------------------------------------

  function callsign(unitId) {
    const unit = units.get(unitId);
    return unit ? unit.callsign : unitId;
  }

  function unitKind(unitId) {
    const unit = units.get(unitId);
    return unit ? unit.kind : null;
  }

  function etaText(distanceM, etaS) {
    if (distanceM === null || distanceM === undefined || etaS === null || etaS === undefined) return "";
    return t("sosr.unit_eta", { m: Math.round(distanceM), min: Math.max(1, Math.round(etaS / 60)) });
  }

  function paramSpan(key, params) {
    return h("span", { "data-i18n": key, "data-i18n-params": JSON.stringify(params), text: t(key, params) });
  }

  function dismissed() {
    try {
      const list = JSON.parse(window.localStorage.getItem(DISMISSED_KEY) || "[]");
      return new Set(Array.isArray(list) ? list : []);
    } catch (err) {
      return new Set();
    }
  }

  function remember(id) {
    const ids = dismissed();
    ids.add(id);
    try {
      // Only the latest ones matter: an old assignment is never overdue again.
      window.localStorage.setItem(DISMISSED_KEY, JSON.stringify(Array.from(ids).slice(-200)));
    } catch (err) {
      // Not remembered past this page.
    }
  }

  function byIncident(incidentId) {
    return Array.from(assignments.values())
      .filter((a) => a.incident_id === incidentId)
      .sort((a, b) => ctx.stamp(b.assigned_at) - ctx.stamp(a.assigned_at) || b.id - a.id);
  }

  /** Units that let this incident's assignment lapse: flagged in the suggestions. */
  function lapsedUnits(incidentId) {
    return new Set(byIncident(incidentId).filter((a) => a.ack_overdue_at && a.status !== "acknowledged").map((a) => a.unit_id));
  }

  // --- state changes ------------------------------------------------------------------

  function setAssignment(a) {
    assignments.set(a.id, a);
    // Handed to a new crew, a late assignment waits again (ADR 0018): no alarm until then.
    if (a.status !== "assigned" || !a.ack_overdue_at) dropOverdue(a.id);
  }

  function raiseOverdue(a, lateBy) {
    if (a.status !== "assigned" || dismissed().has(a.id)) return;
    overdue.set(a.id, { assignment: a, late_by_s: lateBy });
    renderAlarm();
  }

  function dropOverdue(id) {
    if (overdue.delete(id)) renderAlarm();
  }

  // --- the overdue alarm --------------------------------------------------------------

  function alarmItem(entry) {
    const a = entry.assignment;
    const radio = h("button", {
      type: "button",
      class: "btn btn-small btn-alarm-ack",
      dataset: { overdueRadio: a.id },
      i18n: "dsp.alarm.radio",
    });
    radio.addEventListener("click", () => recordRadio(a, radio));
    const reassign = h("button", {
      type: "button",
      class: "btn btn-small btn-ghost",
      dataset: { overdueReassign: a.id },
      i18n: "dsp.alarm.reassign",
    });
    reassign.addEventListener("click", () => reassignFrom(a, reassign));
    return h(
      "li",
      { class: "sos-alarm-item dispatch-alarm-item", dataset: { assignmentId: a.id, incidentId: a.incident_id, unitId: a.unit_id } },
      h("span", { class: "item-id", text: "#" + a.incident_id }),
      h("strong", { class: "sos-alarm-what" }, paramSpan("dsp.alarm.what", { unit: callsign(a.unit_id) })),
      h("span", { class: "sos-alarm-time" }, tr("dsp.assigned_at"), " ", time(a.assigned_at, "short"), " · ", tr("dsp.alarm.due"), " ", time(a.ack_due_at, "short")),
      h(
        "span",
        { class: "sos-alarm-actions" },
        h("button", {
          type: "button",
          class: "btn btn-small btn-ghost",
          dataset: { overdueOpen: a.id },
          i18n: "alarm.open",
          onclick: () => ctx.openDetail(a.incident_id),
        }),
        reassign,
        radio,
        h("button", {
          type: "button",
          class: "btn btn-small btn-ghost",
          dataset: { overdueDismiss: a.id },
          i18n: "dsp.alarm.dismiss",
          onclick: () => {
            remember(a.id);
            dropOverdue(a.id);
          },
        })
      )
    );
  }

  function renderAlarm() {
    if (!dom.alarm) return;
    const items = Array.from(overdue.values()).sort((x, y) => x.assignment.id - y.assignment.id);
    dom.alarm.hidden = items.length === 0;
    dom.alarmCount.textContent = String(items.length);
    document.body.classList.toggle("dispatch-alarming", items.length > 0);
    dom.alarmList.replaceChildren(...items.map(alarmItem));
    if (SZ.alarmSound) SZ.alarmSound.ring(SOUND_KEY, items.length > 0);
    renderAlarmSound();
  }

  function renderAlarmSound() {
    if (!dom.alarm) return;
    const state = SZ.alarmSound ? SZ.alarmSound.state() : "off";
    const ringing = overdue.size > 0;
    dom.alarm.dataset.sound = !ringing ? "idle" : state === "on" ? "playing" : state;
    dom.alarmUnmute.hidden = !ringing || state === "on" || !SZ.alarmSound;
  }

  async function recordRadio(a, button) {
    button.disabled = true;
    try {
      setAssignment(await api("/api/v1/dispatch/assignments/" + a.id + "/acknowledge", { method: "POST" }));
      refreshViews(a.incident_id);
    } catch (err) {
      button.disabled = false;
      await reloadAssignment(a.id);
      if (overdue.has(a.id)) window.alert(err.message);
    }
  }

  /** Stand the silent unit down and open the incident to pick another one. */
  async function reassignFrom(a, button) {
    if (button) button.disabled = true;
    try {
      setAssignment(
        await api("/api/v1/dispatch/assignments/" + a.id + "/cancel", {
          method: "POST",
          json: { note: t("dsp.reassign_note") },
        })
      );
      dropOverdue(a.id);
    } catch (err) {
      if (button) button.disabled = false;
      await reloadAssignment(a.id);
      if (overdue.has(a.id)) {
        window.alert(err.message);
        return;
      }
    }
    suggestions.delete(a.incident_id);
    if (ctx.state.openId === a.incident_id) refreshViews(a.incident_id);
    else ctx.openDetail(a.incident_id);
  }

  async function reloadAssignment(id) {
    try {
      setAssignment(await api("/api/v1/dispatch/assignments/" + id));
    } catch (err) {
      console.warn("assignment not reloaded", id, err);
    }
    renderList();
  }

  // --- the units-sent panel -----------------------------------------------------------

  function statusChip(a) {
    return h("span", { class: "chip dispatch-status dstatus-" + a.status, i18n: "off.asg.status." + a.status });
  }

  function renderList() {
    if (!dom.list) return;
    const open = Array.from(assignments.values())
      .filter((a) => ACTIVE.includes(a.status))
      .sort((a, b) => ctx.stamp(b.assigned_at) - ctx.stamp(a.assigned_at) || b.id - a.id);
    dom.list.replaceChildren(
      ...open.map((a) =>
        h(
          "li",
          {
            class: "item dispatch-item dstatus-" + a.status + (overdue.has(a.id) ? " overdue" : ""),
            dataset: { assignmentId: a.id, status: a.status, incidentId: a.incident_id },
            onclick: () => ctx.openDetail(a.incident_id),
          },
          h(
            "div",
            { class: "item-head" },
            statusChip(a),
            h("strong", { text: callsign(a.unit_id) }),
            h("span", { class: "item-id", text: "→ #" + a.incident_id }),
            time(a.assigned_at, "short")
          ),
          a.ack_overdue_at && a.status === "assigned" ? h("div", { class: "item-meta warn-text", i18n: "dsp.not_acknowledged" }) : null
        )
      )
    );
    dom.listEmpty.hidden = open.length > 0;
    dom.listCount.textContent = String(open.length);
  }

  // --- the dispatch block in the incident's detail ------------------------------------

  async function loadSuggestions(incidentId) {
    suggestions.set(incidentId, "loading");
    try {
      const list = await api("/api/v1/dispatch/incidents/" + incidentId + "/suggestions?limit=" + SUGGEST_LIMIT);
      suggestions.set(incidentId, list);
    } catch (err) {
      suggestions.set(incidentId, { failed: err.message });
    }
    redrawBlock(incidentId);
  }

  async function loadIncidentAssignments(incidentId) {
    try {
      const rows = await api("/api/v1/dispatch/assignments?incident_id=" + incidentId + "&limit=50");
      rows.forEach(setAssignment);
    } catch (err) {
      console.warn("assignments not loaded", incidentId, err);
    }
    redrawBlock(incidentId);
  }

  async function assign(incidentId, unitId, button) {
    errors.delete(incidentId);
    button.disabled = true;
    try {
      const a = await api("/api/v1/dispatch/assignments", {
        method: "POST",
        json: { incident_id: incidentId, unit_id: unitId, note: "" },
      });
      setAssignment(a);
      renderList();
    } catch (err) {
      errors.set(incidentId, err.message);
    }
    // The unit is no longer available (or someone else took it): rank again.
    loadSuggestions(incidentId);
    // Assigning moves the incident on (dispatched).
    try {
      ctx.showDetail(await api("/api/v1/incidents/" + incidentId));
    } catch (err) {
      console.warn("incident not reloaded", incidentId, err);
    }
  }

  async function standDown(a, button) {
    const note = window.prompt(t("dsp.cancel_prompt"), t("dsp.cancel_default"));
    if (note === null) return;
    button.disabled = true;
    errors.delete(a.incident_id);
    try {
      setAssignment(
        await api("/api/v1/dispatch/assignments/" + a.id + "/cancel", {
          method: "POST",
          json: { note: note.trim() || t("dsp.cancel_default") },
        })
      );
    } catch (err) {
      errors.set(a.incident_id, err.message);
      await reloadAssignment(a.id);
    }
    suggestions.delete(a.incident_id);
    refreshViews(a.incident_id);
  }

  function stepTimes(a) {
    const steps = [
      ["dsp.assigned_at", a.assigned_at],
      ["off.asg.status.acknowledged", a.acknowledged_at],
      ["off.asg.status.en_route", a.en_route_at],
      ["off.asg.status.on_scene", a.on_scene_at],
      ["off.asg.status.resolved", a.resolved_at],
      ["off.asg.status.cancelled", a.cancelled_at],
    ].filter((step) => step[1]);
    return h(
      "ul",
      { class: "plain dispatch-steps" },
      steps.map(([key, at]) => h("li", { dataset: { step: key.split(".").pop() } }, tr(key), " ", time(at, "short")))
    );
  }

  function assignmentRow(a) {
    const active = ACTIVE.includes(a.status);
    const late = a.ack_overdue_at && a.status === "assigned";
    let cancel = null;
    if (active) {
      cancel = h("button", { type: "button", class: "btn btn-small btn-ghost", dataset: { cancelAssignment: a.id }, i18n: "dsp.stand_down" });
      cancel.addEventListener("click", () => standDown(a, cancel));
    }
    return h(
      "li",
      { class: "dispatch-assignment dstatus-" + a.status + (late ? " overdue" : ""), dataset: { assignmentId: a.id, status: a.status, unitId: a.unit_id } },
      h(
        "div",
        { class: "item-head" },
        statusChip(a),
        h("strong", { text: callsign(a.unit_id) }),
        a.eta_s !== null ? h("span", { class: "muted", text: etaText(a.distance_m, a.eta_s) }) : null,
        cancel
      ),
      late ? h("p", { class: "notice warn-text", i18n: "dsp.not_acknowledged" }) : null,
      a.status === "assigned" && !late ? h("p", { class: "muted small" }, tr("off.asg.ack_by"), " ", time(a.ack_due_at, "short")) : null,
      stepTimes(a),
      a.acknowledged_by ? h("p", { class: "muted small" }, tr("dsp.acknowledged_by"), " ", h("span", { text: a.acknowledged_by.replace(/^user:/, "") })) : null
    );
  }

  function suggestionRow(incidentId, unit, index, lapsed) {
    const button = h("button", {
      type: "button",
      class: "btn btn-small btn-primary",
      dataset: { assignUnit: unit.unit_id },
      i18n: "dsp.assign",
    });
    button.addEventListener("click", () => assign(incidentId, unit.unit_id, button));
    return h(
      "li",
      { class: "dispatch-suggestion", dataset: { suggestUnitId: unit.unit_id, rank: index + 1 } },
      h("span", { class: "rank", text: String(index + 1) }),
      h(
        "span",
        { class: "suggestion-what" },
        h("strong", { text: unit.callsign }),
        " ",
        h("span", { class: "chip", i18n: "unit.kind." + unit.kind }),
        " ",
        h("span", { class: "muted", text: etaText(unit.distance_m, unit.eta_s) }),
        unit.route === "road" ? [" ", h("span", { class: "chip", i18n: "dsp.by_road" })] : null,
        lapsed ? [" ", h("span", { class: "chip warn", i18n: "dsp.lapsed" })] : null
      ),
      button
    );
  }

  function suggestionsNode(incidentId) {
    const got = suggestions.get(incidentId);
    if (got === undefined || got === "loading") return h("p", { class: "muted", i18n: "common.loading" });
    if (!Array.isArray(got)) return h("p", { class: "form-error", text: got.failed });
    if (!got.length) return h("p", { class: "muted", dataset: { noUnits: "" }, i18n: "dsp.no_units" });
    const lapsed = lapsedUnits(incidentId);
    return h("ol", { class: "plain dispatch-suggestions" }, got.map((unit, i) => suggestionRow(incidentId, unit, i, lapsed.has(unit.unit_id))));
  }

  function block(detail) {
    const list = byIncident(detail.id);
    const open = !CLOSED_INCIDENT.includes(detail.status);
    const error = errors.get(detail.id);
    return h(
      "section",
      { class: "detail-block dispatch-panel", dataset: { dispatchIncident: detail.id } },
      h("h3", { i18n: "dsp.title" }),
      error ? h("p", { class: "form-error", role: "alert", text: error }) : null,
      list.length
        ? h("ul", { class: "plain dispatch-assignments" }, list.map(assignmentRow))
        : h("p", { class: "muted", i18n: "dsp.none_sent" }),
      open ? [h("h4", { i18n: "dsp.suggested" }), h("p", { class: "muted small", i18n: "dsp.suggested_hint" }), suggestionsNode(detail.id)] : null
    );
  }

  /** Replace the dispatch block of the open incident in place (the rest stays). */
  function redrawBlock(incidentId) {
    if (ctx.state.openId !== incidentId || !ctx.state.detail || ctx.state.detail.id !== incidentId) return;
    const holder = ctx.dom.detail.querySelector("[data-dispatch-incident]");
    if (holder) holder.replaceWith(block(ctx.state.detail));
  }

  function refreshViews(incidentId) {
    renderList();
    if (ctx.state.openId === incidentId) {
      if (!suggestions.has(incidentId)) loadSuggestions(incidentId);
      redrawBlock(incidentId);
    }
  }

  // --- the plugin ---------------------------------------------------------------------

  (SZ.dashPlugins = SZ.dashPlugins || []).push({
    topics: ["dispatch.assigned", "dispatch.step", "dispatch.cancelled", "dispatch.ack_overdue", "dispatch.crew_changed", "unit.changed", "unit.location"],

    init(context) {
      ctx = context;
      if (!ctx.canTriage) return;
      Object.assign(dom, {
        alarm: document.getElementById("dispatch-alarm"),
        alarmCount: document.getElementById("dispatch-alarm-count"),
        alarmList: document.getElementById("dispatch-alarm-list"),
        alarmUnmute: document.getElementById("dispatch-alarm-unmute"),
        list: document.getElementById("dispatch-list"),
        listEmpty: document.getElementById("dispatch-empty"),
        listCount: document.getElementById("dispatch-count"),
      });
      if (SZ.alarmSound) {
        SZ.alarmSound.onChange(renderAlarmSound);
        dom.alarmUnmute.addEventListener("click", () => SZ.alarmSound.enable());
      }
      api("/api/v1/units")
        .then((list) => {
          list.forEach((unit) => units.set(unit.id, unit));
          renderList();
          renderAlarm();
        })
        .catch((err) => console.warn("units not loaded", err));
      api("/api/v1/dispatch/assignments?active=true&limit=500")
        .then((rows) => {
          rows.forEach(setAssignment);
          // Overdue before this page opened: still waiting, still alarming.
          for (const a of rows) if (a.status === "assigned" && a.ack_overdue_at) raiseOverdue(a, null);
          renderList();
          if (ctx.state.openId !== null) redrawBlock(ctx.state.openId);
        })
        .catch((err) => console.warn("assignments not loaded", err));
    },

    onEvent(topic, data) {
      if (!ctx.canTriage) return;
      if ((topic === "unit.changed" || topic === "unit.location") && data.unit) {
        units.set(data.unit.id, data.unit);
        const open = ctx.state.openId;
        if (open === null || !suggestions.has(open)) return;
        // Availability changed: rank again. A position changed: rank again, not too often.
        if (topic === "unit.changed" || Date.now() - lastLocationRefresh > LOCATION_REFRESH_MS) {
          lastLocationRefresh = Date.now();
          loadSuggestions(open);
        }
        return;
      }
      if (!topic.startsWith("dispatch.") || !data.assignment) return;
      const a = data.assignment;
      setAssignment(a);
      if (topic === "dispatch.ack_overdue") raiseOverdue(a, data.late_by_s);
      else if (a.status !== "assigned") dropOverdue(a.id);
      if (topic !== "dispatch.step" || data.to === "resolved") suggestions.delete(a.incident_id);
      renderList();
      if (ctx.state.openId === a.incident_id) refreshViews(a.incident_id);
    },

    detailBlock(detail) {
      if (!ctx.canTriage) return null;
      if (!suggestions.has(detail.id) && !CLOSED_INCIDENT.includes(detail.status)) loadSuggestions(detail.id);
      return { node: block(detail), replacesCameras: false, top: true };
    },

    onDetail(id) {
      if (!ctx.canTriage || id === null) return;
      errors.delete(id);
      suggestions.delete(id);
      loadIncidentAssignments(id);
    },

    onLang() {
      renderAlarm();
      renderList();
      if (ctx.state.openId !== null) redrawBlock(ctx.state.openId);
    },
  });
})();
