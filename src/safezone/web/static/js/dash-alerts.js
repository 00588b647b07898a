/* Command-centre dashboard: public alerts (CAP 1.2) for operators, commanders and admins.
 * A plugin of dashboard.js (see the comment at its top); loaded before it.
 *
 * Lists the station's live alerts (GET /api/v1/alerts), issues new ones for one or more
 * safety zones (POST /api/v1/alerts: Thai headline and description required, English
 * optional), sends updates (POST /api/v1/alerts/{id}/update) and cancellations
 * (POST /api/v1/alerts/{id}/cancel), and links each alert's CAP document. The list
 * follows alert.issued / alert.updated / alert.cancelled events.
 *
 * Hooks for tests: #alert-new, form.alert-form (inputs named as the API's fields, plus
 * expires_in in hours), #alert-list [data-alert-id] with [data-alert-update],
 * [data-alert-cancel] and a.cap-link.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api, t, busy, showErrors, clearErrors } = SZ;
  const SEVERITIES = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
  const URGENCIES = ["Immediate", "Expected", "Future", "Past", "Unknown"];
  const CERTAINTIES = ["Observed", "Likely", "Possible", "Unlikely", "Unknown"];
  const EXPIRY_HOURS = [1, 2, 4, 8, 12, 24, 72, 168];
  const DEFAULT_HOURS = 2;
  const TEXTS = [
    ["headline_th", "pa.headline_th", 160, true, false],
    ["headline_en", "pa.headline_en", 160, false, false],
    ["description_th", "pa.description_th", 4000, true, true],
    ["description_en", "pa.description_en", 4000, false, true],
    ["instruction_th", "pa.instruction_th", 2000, false, true],
    ["instruction_en", "pa.instruction_en", 2000, false, true],
  ];

  let ctx = null;
  const dom = {};
  let alerts = [];
  let reloadTimer = null;

  function pick(alert, field) {
    const th = alert[field + "_th"];
    const en = alert[field + "_en"];
    return SZ.i18n.lang() === "en" ? en || th || "" : th || en || "";
  }

  function areaNames(alert) {
    const en = SZ.i18n.lang() === "en";
    return alert.areas.map((a) => (en ? a.name_en || a.name_th : a.name_th || a.name_en)).join(", ");
  }

  function hoursLabel(hours) {
    return hours < 24 ? t("pa.hours", { n: hours }) : t("pa.days", { n: hours / 24 });
  }

  function flash(key) {
    dom.flash.setAttribute("data-i18n", key);
    dom.flash.textContent = t(key);
    dom.flash.hidden = false;
    clearTimeout(dom.flashTimer);
    dom.flashTimer = setTimeout(() => {
      dom.flash.hidden = true;
    }, 6000);
  }

  // --- the list -------------------------------------------------------------------------

  async function load() {
    try {
      alerts = await api("/api/v1/alerts");
      render();
    } catch (err) {
      console.warn("alerts not loaded", err);
    }
  }

  function scheduleLoad() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 150);
  }

  function live() {
    return alerts
      .filter((a) => a.state === "active" || a.state === "pending")
      .sort((a, b) => ctx.stamp(b.sent) - ctx.stamp(a.sent) || b.id - a.id);
  }

  function render() {
    const items = live();
    dom.count.textContent = String(items.length);
    dom.empty.hidden = items.length > 0;
    // Keep an open update/cancel form: re-render only the items without one.
    const open = new Map();
    dom.list.querySelectorAll("li[data-alert-id]").forEach((li) => {
      if (li.querySelector("form")) open.set(Number(li.dataset.alertId), li);
    });
    dom.list.replaceChildren(...items.map((alert) => open.get(alert.id) || alertItem(alert)));
  }

  function alertItem(alert) {
    const holder = h("div", { class: "alert-forms" });
    const update = h("button", { type: "button", class: "btn btn-small", dataset: { alertUpdate: alert.id }, i18n: "pa.update" });
    const cancel = h("button", { type: "button", class: "btn btn-small btn-danger", dataset: { alertCancel: alert.id }, i18n: "pa.cancel" });
    update.addEventListener("click", () => toggle(holder, "update", () => alertForm(alert, holder)));
    cancel.addEventListener("click", () => toggle(holder, "cancel", () => cancelForm(alert, holder)));
    return h(
      "li",
      { class: "item alert-staff sev-" + alert.severity, dataset: { alertId: alert.id } },
      h(
        "div",
        { class: "item-head" },
        h("span", { class: "badge sev-" + alert.severity, i18n: "severity." + alert.severity }),
        alert.state === "pending" ? h("span", { class: "chip", i18n: "pa.state.pending" }) : null,
        alert.status !== "Actual" ? h("span", { class: "chip warn", i18n: "alerts.status." + alert.status }) : null,
        alert.msg_type === "Update" ? h("span", { class: "chip", i18n: "pa.msg.update" }) : null,
        h("span", { class: "item-id", text: "#" + alert.id }),
        time(alert.sent, "short")
      ),
      h("div", { class: "item-title", text: pick(alert, "headline") }),
      h(
        "div",
        { class: "item-meta" },
        areaNames(alert),
        " · ",
        tr("alerts.until"),
        " ",
        time(alert.expires, "short")
      ),
      h(
        "div",
        { class: "actions" },
        update,
        cancel,
        h("a", { class: "cap-link btn btn-small btn-ghost", href: alert.cap_url, target: "_blank", rel: "noopener", i18n: "pa.cap" })
      ),
      holder
    );
  }

  function toggle(holder, kind, make) {
    const current = holder.firstElementChild;
    holder.replaceChildren();
    if (current && current.dataset.kind === kind) return;
    const form = make();
    form.dataset.kind = kind;
    holder.append(form);
    const first = form.querySelector("input:not([type=checkbox]), textarea, select");
    if (first) first.focus();
  }

  // --- issuing and updating -------------------------------------------------------------

  function labelled(labelKey, input, required) {
    return h("label", { class: "field" }, h("span", {}, tr(labelKey), required ? " *" : ""), input);
  }

  function choice(name, values, prefix, selected) {
    return labelled(
      "pa." + name,
      h("select", { name }, values.map((v) => h("option", { value: v, selected: v === selected, i18n: prefix + v })))
    );
  }

  function alertForm(existing, holder) {
    const zones = ctx.assets("zone").filter((z) => z.active || (existing && existing.zone_ids.includes(z.id)));
    const selected = existing ? existing.zone_ids : zones.length === 1 ? [zones[0].id] : [];
    const submit = h("button", { type: "submit", class: "btn btn-primary", "data-busy-label": "form.sending", i18n: existing ? "pa.send_update" : "pa.issue" });
    const form = h(
      "form",
      { class: "form alert-form", novalidate: true, dataset: { mode: existing ? "update" : "issue" } },
      h("h3", { i18n: existing ? "pa.update_title" : "pa.new" }),
      h(
        "fieldset",
        { class: "field zone-picks" },
        h("legend", {}, tr("pa.zones"), " *"),
        zones.length
          ? zones.map((zone) =>
              h(
                "label",
                { class: "check" },
                h("input", { type: "checkbox", name: "zone_ids", value: zone.id, checked: selected.includes(zone.id) }),
                h("span", { text: SZ.map.zoneName(zone) + " (" + zone.id + ")" })
              )
            )
          : h("p", { class: "muted", i18n: "pa.no_zones" })
      ),
      TEXTS.map(([name, key, max, required, long]) =>
        labelled(
          key,
          h(long ? "textarea" : "input", {
            name,
            maxlength: max,
            rows: long ? 3 : null,
            required,
            lang: name.endsWith("_th") ? "th" : "en",
            value: long ? null : existing ? existing[name] || "" : "",
            text: long && existing ? existing[name] || "" : null,
          }),
          required
        )
      ),
      h(
        "div",
        { class: "row row-3" },
        choice("severity", SEVERITIES, "severity.", existing ? existing.severity : "Severe"),
        choice("urgency", URGENCIES, "urgency.", existing ? existing.urgency : "Immediate"),
        choice("certainty", CERTAINTIES, "certainty.", existing ? existing.certainty : "Observed")
      ),
      labelled(
        existing ? "pa.extend" : "pa.expires_in",
        h(
          "select",
          { name: "expires_in" },
          existing ? h("option", { value: "", i18n: "pa.keep_expiry" }) : null,
          EXPIRY_HOURS.map((hours) =>
            h("option", { value: hours, selected: !existing && hours === DEFAULT_HOURS, text: hoursLabel(hours) })
          )
        )
      ),
      h("p", { class: "form-error", role: "alert", hidden: true }),
      h(
        "div",
        { class: "actions" },
        submit,
        h("button", { type: "button", class: "btn btn-ghost", i18n: "common.cancel", onclick: () => form.remove() })
      )
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(form, submit, existing, holder);
    });
    return form;
  }

  function valueOf(form, name) {
    return form.elements[name].value.trim();
  }

  async function send(form, submit, existing, holder) {
    clearErrors(form);
    const zoneIds = Array.from(form.querySelectorAll("input[name=zone_ids]:checked"), (box) => box.value);
    const missing = [];
    if (!zoneIds.length) missing.push({ field: "zone_ids", message: t("pa.zone_required") });
    for (const [name, , , required] of TEXTS) {
      if (required && !valueOf(form, name)) missing.push({ field: name, message: t("pa.required") });
    }
    if (missing.length) {
      showErrors(form, { message: missing[0].message, field: missing[0].field, details: missing });
      return;
    }
    const body = { zone_ids: zoneIds };
    for (const [name] of TEXTS) body[name] = valueOf(form, name) || null;
    for (const name of ["severity", "urgency", "certainty"]) body[name] = form.elements[name].value;
    const hours = parseFloat(form.elements.expires_in.value);
    if (Number.isFinite(hours)) body.expires = new Date(Date.now() + hours * 3600 * 1000).toISOString();
    try {
      await busy(submit, () =>
        existing
          ? api("/api/v1/alerts/" + existing.id + "/update", { method: "POST", json: body })
          : api("/api/v1/alerts", { method: "POST", json: body })
      );
      form.remove();
      if (holder) holder.replaceChildren();
      flash(existing ? "pa.updated" : "pa.issued");
      await load();
    } catch (err) {
      showErrors(form, err);
    }
  }

  // --- cancelling -----------------------------------------------------------------------

  function cancelForm(alert, holder) {
    const submit = h("button", { type: "submit", class: "btn btn-danger", "data-busy-label": "form.sending", i18n: "pa.cancel_yes" });
    const form = h(
      "form",
      { class: "form alert-cancel", novalidate: true },
      h("p", { i18n: "pa.cancel_confirm" }),
      labelled("pa.cancel_note", h("textarea", { name: "note", rows: 2, maxlength: 1000 })),
      h("p", { class: "form-error", role: "alert", hidden: true }),
      h(
        "div",
        { class: "actions" },
        submit,
        h("button", { type: "button", class: "btn btn-ghost", i18n: "common.cancel", onclick: () => holder.replaceChildren() })
      )
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      try {
        await busy(submit, () =>
          api("/api/v1/alerts/" + alert.id + "/cancel", {
            method: "POST",
            json: { note: form.elements.note.value.trim() || null },
          })
        );
        holder.replaceChildren();
        flash("pa.cancelled");
        await load();
      } catch (err) {
        showErrors(form, err);
      }
    });
    return form;
  }

  // --- the plugin -----------------------------------------------------------------------

  (SZ.dashPlugins = SZ.dashPlugins || []).push({
    topics: ["alert.issued", "alert.updated", "alert.cancelled"],

    init(context) {
      ctx = context;
      Object.assign(dom, {
        list: document.getElementById("alert-list"),
        empty: document.getElementById("alert-empty"),
        count: document.getElementById("alert-count"),
        flash: document.getElementById("alert-flash"),
        formHolder: document.getElementById("alert-form-holder"),
        newButton: document.getElementById("alert-new"),
      });
      if (!ctx.canTriage || !dom.list) return;
      dom.newButton.addEventListener("click", () => toggle(dom.formHolder, "issue", () => alertForm(null, dom.formHolder)));
      load();
    },

    onEvent(topic) {
      if (dom.list && topic.startsWith("alert.")) scheduleLoad();
    },

    onLang() {
      if (!dom.list) return;
      render();
      document.querySelectorAll("#pane-alerts select[name=expires_in] option[value]").forEach((option) => {
        const hours = parseFloat(option.value);
        if (Number.isFinite(hours)) option.textContent = hoursLabel(hours);
      });
    },
  });
})();
