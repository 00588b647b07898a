/* Administration: the station's registry (zones, cameras, SOS boxes, checkpoints),
 * users, and GeoJSON import/export. One table and one form per kind; every change goes
 * through the JSON API, and API errors are shown next to the field they name.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api, t, onReady, busy, showErrors, clearErrors } = SZ;

  const ROLES = ["citizen", "officer", "operator", "commander", "admin"];
  const OWNERS = ["police", "municipality", "private"];
  const MARKER_CLASS = { camera: "sz-camera-marker", sos_box: "sz-sos-marker", checkpoint: "sz-checkpoint-marker" };
  const POINT = [
    { name: "lat", type: "number", step: "any", required: true },
    { name: "lon", type: "number", step: "any", required: true },
  ];

  /* Field types: text, number, textarea, json, checkbox, select, password. createOnly:
   * set when creating, read-only afterwards. omitEmpty: an empty value is left out. */
  const TABS = {
    zones: {
      kind: "zone",
      path: "/api/v1/zones",
      columns: ["id", "name", "name_en", "active"],
      fields: [
        { name: "id", createOnly: true, required: true },
        { name: "name", label: "field.name_th", required: true },
        { name: "name_en" },
        { name: "description", type: "textarea" },
        { name: "geometry", type: "json", required: true, hint: "admin.geometry_hint" },
        { name: "active", type: "checkbox", default: true },
      ],
    },
    cameras: {
      kind: "camera",
      path: "/api/v1/cameras",
      columns: ["id", "pole_id", "name", "lat", "lon", "bearing_deg", "owner", "active"],
      fields: [
        { name: "id", createOnly: true, required: true },
        { name: "pole_id", required: true },
        { name: "name" },
        ...POINT,
        { name: "bearing_deg", type: "number", step: "any", required: true, default: 0 },
        { name: "fov_deg", type: "number", step: "any", required: true, default: 90 },
        { name: "range_m", type: "number", step: "any", required: true, default: 50 },
        { name: "stream_url" },
        { name: "snapshot_url" },
        { name: "owner", type: "select", options: OWNERS, optionKey: "owner.", default: "police" },
        { name: "sharing_agreement" },
        { name: "active", type: "checkbox", default: true },
      ],
    },
    sos_boxes: {
      kind: "sos_box",
      path: "/api/v1/sos-boxes",
      columns: ["id", "name", "lat", "lon", "heartbeat_interval_s", "active"],
      fields: [
        { name: "id", createOnly: true, required: true },
        { name: "name" },
        ...POINT,
        { name: "heartbeat_interval_s", type: "number", step: "1", default: 60 },
        { name: "secret", type: "password", omitEmpty: true, hint: "admin.secret_hint" },
        { name: "active", type: "checkbox", default: true },
      ],
    },
    checkpoints: {
      kind: "checkpoint",
      path: "/api/v1/checkpoints",
      columns: ["id", "name", "lat", "lon", "radius_m", "active"],
      fields: [
        { name: "id", createOnly: true, required: true },
        { name: "name" },
        ...POINT,
        { name: "radius_m", type: "number", step: "any", default: 30 },
        { name: "active", type: "checkbox", default: true },
      ],
    },
    users: {
      kind: "user",
      path: "/api/v1/users",
      key: "username",
      createOnlyForm: true,
      columns: ["username", "display_name", "role", "active", "created_at"],
      fields: [
        { name: "username", required: true },
        { name: "display_name" },
        { name: "password", type: "password", required: true },
        { name: "role", type: "select", options: ROLES, optionKey: "role.", default: "officer" },
      ],
    },
  };

  const state = { tab: "zones", items: [], editing: null, map: null, mapLayer: null, pick: null };
  let dom = {};

  onReady(init);

  function init() {
    const root = document.getElementById("sz-admin");
    dom = {
      root,
      tabs: Array.from(document.querySelectorAll("[data-tab]")),
      panel: document.getElementById("admin-panel"),
      geojson: document.getElementById("geojson-panel"),
      table: document.getElementById("admin-table"),
      tableTitle: document.getElementById("table-title"),
      tableCount: document.getElementById("table-count"),
      form: document.getElementById("admin-form"),
      flash: document.getElementById("admin-flash"),
      secret: document.getElementById("admin-secret"),
      mapEl: document.getElementById("admin-map"),
      mapHint: document.getElementById("admin-map-hint"),
      importForm: document.getElementById("import-form"),
    };
    dom.tabs.forEach((button) => button.addEventListener("click", () => selectTab(button.dataset.tab)));
    dom.form.addEventListener("submit", save);
    dom.importForm.addEventListener("submit", importFile);
    dom.secret.querySelector("[data-copy-secret]").addEventListener("click", copySecret);
    dom.secret.querySelector("[data-dismiss-secret]").addEventListener("click", () => {
      dom.secret.hidden = true;
      dom.secret.querySelector(".secret-value").textContent = "";
    });
    window.addEventListener("hashchange", () => selectTab(tabFromHash()));
    document.addEventListener("sz:lang", () => {
      renderTable();
      drawMap();
    });

    state.map = SZ.map.create(dom.mapEl, {
      tileUrl: root.dataset.tileUrl,
      attribution: root.dataset.tileAttribution,
    });
    state.map.on("click", pickPoint);
    selectTab(tabFromHash());
  }

  function tabFromHash() {
    const name = window.location.hash.replace(/^#/, "");
    return TABS[name] || name === "geojson" ? name : "zones";
  }

  function selectTab(name) {
    state.tab = name;
    if (window.location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    dom.tabs.forEach((button) => button.setAttribute("aria-selected", String(button.dataset.tab === name)));
    const registry = name !== "geojson";
    dom.panel.hidden = !registry;
    dom.geojson.hidden = registry;
    if (!registry) return;
    const hasMap = name !== "users";
    dom.mapEl.hidden = !hasMap;
    dom.mapHint.hidden = !hasMap || name === "zones";
    dom.tableTitle.setAttribute("data-i18n", "admin.tab." + name);
    dom.tableTitle.textContent = t("admin.tab." + name);
    renderForm(null);
    load();
    if (hasMap) setTimeout(() => state.map.invalidateSize(), 0);
  }

  function flash(message, isError) {
    dom.flash.textContent = message;
    dom.flash.classList.toggle("error", Boolean(isError));
    dom.flash.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => {
      dom.flash.hidden = true;
    }, isError ? 10000 : 5000);
  }

  function keyOf(item) {
    const spec = TABS[state.tab];
    return item[spec.key || "id"];
  }

  async function load() {
    const tab = state.tab;
    dom.tableCount.textContent = t("common.loading");
    try {
      const items = await api(TABS[tab].path);
      if (state.tab !== tab) return;
      state.items = items;
    } catch (err) {
      if (state.tab !== tab) return;
      state.items = [];
      flash(err.message, true);
    }
    renderTable();
    drawMap();
  }

  // --- table --------------------------------------------------------------------------

  function cell(column, item) {
    const value = item[column];
    if (typeof value === "boolean") return h("span", { class: value ? "yes" : "no", i18n: value ? "common.active" : "common.inactive" });
    if (column === "created_at") return time(value, "short");
    if (column === "role") return tr("role." + value);
    if (column === "owner") return tr("owner." + value);
    if (typeof value === "number") return String(Math.round(value * 1e6) / 1e6);
    return value === null || value === undefined ? "" : String(value);
  }

  function renderTable() {
    const spec = TABS[state.tab];
    if (!spec) return;
    const head = h(
      "tr",
      {},
      spec.columns.map((c) => h("th", { scope: "col", i18n: "field." + c })),
      h("th", { scope: "col", i18n: "admin.actions" })
    );
    const rows = state.items.map((item) => {
      const key = keyOf(item);
      const actions = h("td", { class: "actions" });
      if (state.tab === "users") {
        actions.append(
          h("button", {
            type: "button",
            class: "btn btn-small" + (item.active ? " btn-danger" : ""),
            i18n: item.active ? "admin.deactivate" : "admin.activate",
            onclick: () => setActive(item, !item.active),
          })
        );
      } else {
        actions.append(
          h("button", { type: "button", class: "btn btn-small", i18n: "common.edit", onclick: () => renderForm(item) }),
          h("button", { type: "button", class: "btn btn-small btn-danger", i18n: "common.delete", onclick: () => remove(item) })
        );
      }
      return h(
        "tr",
        { dataset: { key: String(key) }, class: state.editing && keyOf(state.editing) === key ? "selected" : "" },
        spec.columns.map((c) => h("td", {}, cell(c, item))),
        actions
      );
    });
    dom.table.replaceChildren(h("thead", {}, head), h("tbody", {}, rows));
    dom.tableCount.textContent = t("admin.count", { n: state.items.length });
    if (!state.items.length) {
      dom.table.append(h("tbody", {}, h("tr", {}, h("td", { colspan: spec.columns.length + 1, class: "muted", i18n: "admin.empty" }))));
    }
  }

  // --- form ---------------------------------------------------------------------------

  function fieldInput(field, value, editing) {
    const id = "field-" + field.name;
    const locked = editing && field.createOnly;
    if (field.type === "textarea" || field.type === "json") {
      const area = h("textarea", {
        id,
        name: field.name,
        rows: field.type === "json" ? 8 : 3,
        class: field.type === "json" ? "mono" : null,
        spellcheck: field.type === "json" ? "false" : null,
      });
      area.value = value === undefined || value === null ? "" : field.type === "json" ? JSON.stringify(value, null, 1) : value;
      return area;
    }
    if (field.type === "select") {
      return h(
        "select",
        { id, name: field.name, disabled: locked },
        field.options.map((o) => h("option", { value: o, selected: o === value, i18n: field.optionKey + o }))
      );
    }
    return h("input", {
      id,
      name: field.name,
      type: field.type || "text",
      step: field.step,
      value: value === undefined || value === null ? null : value,
      readonly: locked,
      required: field.required && !locked,
      autocomplete: field.type === "password" ? "new-password" : "off",
    });
  }

  function renderForm(item) {
    const spec = TABS[state.tab];
    if (!spec) return;
    const editing = Boolean(item) && !spec.createOnlyForm;
    state.editing = editing ? item : null;
    clearPick();
    const title = editing
      ? h("h2", { "data-i18n": "admin.editing", "data-i18n-params": JSON.stringify({ id: keyOf(item) }), text: t("admin.editing", { id: keyOf(item) }) })
      : h("h2", { i18n: "admin.creating" });
    const fields = spec.fields.map((field) => {
      const value = editing ? item[field.name] : field.default;
      if (field.type === "checkbox") {
        return h(
          "div",
          { class: "field" },
          h("label", { class: "check" }, h("input", { type: "checkbox", name: field.name, checked: value !== false }), tr(field.label || "field." + field.name))
        );
      }
      return h(
        "div",
        { class: "field" },
        h("label", { for: "field-" + field.name, i18n: field.label || "field." + field.name }),
        fieldInput(field, value, editing),
        field.hint ? h("p", { class: "muted small", i18n: field.hint }) : null
      );
    });
    dom.form.replaceChildren(
      title,
      ...fields,
      h("p", { class: "form-error", role: "alert", hidden: true }),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "btn btn-primary", i18n: "common.save" }),
        editing ? h("button", { type: "button", class: "btn btn-ghost", i18n: "common.cancel", onclick: () => renderForm(null) }) : null
      )
    );
    dom.table.querySelectorAll("tbody tr").forEach((row) => {
      row.classList.toggle("selected", editing && row.dataset.key === String(keyOf(item)));
    });
    if (editing && item.lat !== undefined) showPick([item.lat, item.lon]);
  }

  /** The JSON body for the form; throws an error-shaped object for bad local input. */
  function payload(spec, editing) {
    const data = {};
    for (const field of spec.fields) {
      if (editing && field.createOnly) continue;
      const input = dom.form.elements[field.name];
      if (field.type === "checkbox") {
        data[field.name] = input.checked;
        continue;
      }
      const raw = input.value.trim();
      if (raw === "" && (field.omitEmpty || field.type === "number" || field.type === "json")) continue;
      if (field.type === "number") {
        const number = Number(raw);
        if (!Number.isFinite(number)) throw { message: field.name + ": " + raw, field: field.name, details: [] };
        data[field.name] = number;
      } else if (field.type === "json") {
        try {
          data[field.name] = JSON.parse(raw);
        } catch (err) {
          throw { message: t("admin.geometry_invalid"), field: field.name, details: [] };
        }
      } else {
        data[field.name] = field.type === "password" ? input.value : raw;
      }
    }
    return data;
  }

  async function save(event) {
    event.preventDefault();
    const spec = TABS[state.tab];
    const editing = state.editing;
    clearErrors(dom.form);
    let data;
    try {
      data = payload(spec, editing);
    } catch (problem) {
      showErrors(dom.form, problem);
      return;
    }
    const url = editing ? spec.path + "/" + encodeURIComponent(keyOf(editing)) : spec.path;
    const button = dom.form.querySelector("button[type=submit]");
    try {
      const saved = await busy(button, () => api(url, { method: editing ? "PATCH" : "POST", json: data }));
      if (saved && saved.secret) showSecret(saved.id, saved.secret);
      const id = saved ? keyOf(saved) : "";
      flash(state.tab === "users" && !editing ? t("admin.user_created", { id }) : t("admin.saved", { id }));
      renderForm(null);
      await load();
    } catch (err) {
      showErrors(dom.form, err);
    }
  }

  async function remove(item) {
    const id = keyOf(item);
    if (!window.confirm(t("admin.confirm_delete", { id }))) return;
    try {
      await api(TABS[state.tab].path + "/" + encodeURIComponent(id), { method: "DELETE" });
      flash(t("admin.deleted", { id }));
      if (state.editing && keyOf(state.editing) === id) renderForm(null);
      await load();
    } catch (err) {
      flash(err.message, true);
    }
  }

  async function setActive(user, active) {
    try {
      await api("/api/v1/users/" + user.id, { method: "PATCH", json: { active } });
      flash(t("admin.saved", { id: user.username }));
      await load();
    } catch (err) {
      flash(err.message, true);
    }
  }

  // --- SOS box secret, shown once ----------------------------------------------------

  function showSecret(id, secret) {
    const title = dom.secret.querySelector(".secret-title");
    title.setAttribute("data-i18n", "admin.secret_once");
    title.setAttribute("data-i18n-params", JSON.stringify({ id }));
    title.textContent = t("admin.secret_once", { id });
    dom.secret.querySelector(".secret-value").textContent = secret;
    dom.secret.hidden = false;
  }

  async function copySecret(event) {
    const value = dom.secret.querySelector(".secret-value").textContent;
    try {
      await navigator.clipboard.writeText(value);
      event.target.textContent = t("common.copied");
    } catch (err) {
      const range = document.createRange();
      range.selectNodeContents(dom.secret.querySelector(".secret-value"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  }

  // --- map ----------------------------------------------------------------------------

  function drawMap() {
    if (!state.map || state.tab === "users" || state.tab === "geojson") return;
    if (state.mapLayer) state.mapLayer.remove();
    const spec = TABS[state.tab];
    let layer;
    if (spec.kind === "zone") {
      layer = SZ.map.zoneLayer(state.items);
    } else {
      layer = L.featureGroup(
        state.items.map((item) => {
          const marker = L.marker([item.lat, item.lon], {
            icon: SZ.map.icon(MARKER_CLASS[spec.kind] + (item.active ? "" : " inactive"), { id: item.id }, 14),
          });
          marker.bindTooltip(item.id + (item.name ? " · " + item.name : ""));
          marker.on("click", () => renderForm(item));
          return marker;
        })
      );
    }
    state.mapLayer = layer.addTo(state.map);
    if (layer.getLayers().length) SZ.map.fit(state.map, layer);
  }

  function clearPick() {
    if (state.pick) {
      state.pick.remove();
      state.pick = null;
    }
  }

  function showPick(latlng) {
    clearPick();
    state.pick = L.marker(latlng, { icon: SZ.map.icon("sz-pick-marker", {}, 22), interactive: false }).addTo(state.map);
  }

  function pickPoint(event) {
    const lat = dom.form.elements.lat;
    const lon = dom.form.elements.lon;
    if (!lat || !lon) return;
    lat.value = event.latlng.lat.toFixed(6);
    lon.value = event.latlng.lng.toFixed(6);
    showPick(event.latlng);
  }

  // --- GeoJSON import -----------------------------------------------------------------

  async function importFile(event) {
    event.preventDefault();
    const form = dom.importForm;
    const ok = form.querySelector(".form-ok");
    ok.hidden = true;
    clearErrors(form);
    const file = form.elements.file.files[0];
    if (!file) {
      showErrors(form, { message: t("admin.import_no_file"), field: "file", details: [] });
      return;
    }
    let collection;
    try {
      collection = JSON.parse(await file.text());
    } catch (err) {
      showErrors(form, { message: t("admin.import_bad_json"), field: "file", details: [] });
      return;
    }
    const button = form.querySelector("button[type=submit]");
    try {
      const result = await busy(button, () => api("/api/v1/registry/import", { method: "POST", json: collection }));
      const sum = (counts) => Object.values(counts || {}).reduce((a, b) => a + b, 0);
      ok.textContent = t("admin.import_done", { created: sum(result.created), updated: sum(result.updated) });
      ok.hidden = false;
    } catch (err) {
      showErrors(form, { message: err.message, field: null, details: [] });
    }
  }
})();
