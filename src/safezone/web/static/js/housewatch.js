/* House-watch (ฝากบ้าน) in the citizen app: ask the station to watch the house while away,
 * then follow the request: the decision, each patrol visit, the summary, the QR code to
 * fix at the gate, and calling it off.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, api, t } = SZ;
  const POLL_MS = 60000;

  function localDate(offsetDays) {
    const d = new Date(Date.now() + offsetDays * 86400000);
    return d.toLocaleDateString("en-CA", { timeZone: "Asia/Bangkok" });
  }

  SZ.onReady(() => {
    const form = document.getElementById("hw-form");
    if (!form) return;
    const list = document.getElementById("hw-list");
    const none = document.getElementById("hw-none");
    const kind = document.getElementById("hw-contact-kind");
    const value = document.getElementById("hw-contact-value");
    const open = new Set();
    form.starts_on.value = localDate(1);
    form.ends_on.value = localDate(3);
    form.starts_on.min = localDate(0);
    form.ends_on.min = localDate(0);

    kind.addEventListener("change", () => {
      value.disabled = kind.value === "app";
      if (value.disabled) value.value = "";
    });

    document.getElementById("hw-locate").addEventListener("click", () => {
      const status = document.getElementById("hw-locate-status");
      if (!navigator.geolocation) {
        status.textContent = t("form.location_failed");
        return;
      }
      status.textContent = t("form.locating");
      navigator.geolocation.getCurrentPosition(
        (pos) => {
          form.lat.value = pos.coords.latitude.toFixed(6);
          form.lon.value = pos.coords.longitude.toFixed(6);
          status.textContent = t("hw.located");
        },
        () => {
          status.textContent = t("form.location_denied");
        },
        { enableHighAccuracy: true, timeout: 15000 },
      );
    });

    function notices(detail) {
      return h(
        "ul",
        { class: "hw-visits" },
        ...detail.notices
          .slice()
          .reverse()
          .map((n) =>
            h(
              "li",
              { dataset: { notice: n.kind } },
              h("strong", { text: SZ.i18n.lang() === "en" ? n.title_en : n.title_th }),
              " · ",
              SZ.time(n.created_at, "short"),
              h("br"),
              SZ.i18n.lang() === "en" ? n.text_en : n.text_th,
            ),
          ),
      );
    }

    async function showDetail(item, request) {
      const holder = item.querySelector(".hw-detail");
      try {
        const detail = await api("/api/v1/housewatch/requests/" + request.id);
        holder.replaceChildren(
          h("p", null, t("hw.visits", { n: detail.visits.length })),
          notices(detail),
        );
      } catch (err) {
        holder.replaceChildren(h("p", { class: "form-error", text: err.message }));
      }
    }

    function render(requests) {
      none.hidden = requests.length > 0;
      list.replaceChildren(
        ...requests.map((r) => {
          const item = h(
            "li",
            { class: "hw-item", dataset: { request: r.id, status: r.status } },
            h("strong", { text: r.address }),
            h("br"),
            r.starts_on + " – " + r.ends_on + " · ",
            h("span", { class: "badge", i18n: "hw.status." + r.status }),
            r.decision_note ? h("p", { class: "muted small", text: r.decision_note }) : null,
          );
          const actions = h("p", { class: "actions" });
          const toggle = h("button", { type: "button", class: "btn btn-small", i18n: "hw.show" });
          toggle.addEventListener("click", () => {
            if (open.has(r.id)) open.delete(r.id);
            else open.add(r.id);
            refresh();
          });
          actions.append(toggle);
          if (r.status === "approved") {
            actions.append(
              h("a", {
                class: "btn btn-small",
                href: "/api/v1/housewatch/requests/" + r.id + "/qr.svg",
                target: "_blank",
                rel: "noopener",
                i18n: "hw.qr",
              }),
            );
          }
          if (r.status === "pending" || r.status === "approved") {
            const cancel = h("button", { type: "button", class: "btn btn-small btn-ghost", i18n: "hw.cancel" });
            cancel.addEventListener("click", async () => {
              if (!window.confirm(t("hw.cancel_confirm"))) return;
              try {
                await api("/api/v1/housewatch/requests/" + r.id + "/cancel", { method: "POST" });
              } catch (err) {
                window.alert(err.message);
              }
              refresh();
            });
            actions.append(cancel);
          }
          item.append(actions, h("div", { class: "hw-detail" }));
          if (open.has(r.id)) showDetail(item, r);
          return item;
        }),
      );
    }

    async function refresh() {
      try {
        render(await api("/api/v1/housewatch/requests"));
      } catch (err) {
        none.hidden = false;
        none.textContent = err.message;
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      SZ.clearErrors(form);
      const body = {
        address: form.address.value.trim(),
        lat: form.lat.value === "" ? null : Number(form.lat.value),
        lon: form.lon.value === "" ? null : Number(form.lon.value),
        starts_on: form.starts_on.value,
        ends_on: form.ends_on.value,
        contact: { kind: kind.value, value: value.value.trim() },
        note: form.note.value.trim(),
      };
      try {
        const created = await SZ.busy(form.querySelector("[type=submit]"), () =>
          api("/api/v1/housewatch/requests", { method: "POST", json: body }),
        );
        form.address.value = "";
        form.note.value = "";
        open.add(created.id);
        refresh();
      } catch (err) {
        if (err.field === "contact.value") err.field = "contact_value";
        if (err.details) {
          err.details = err.details.map((d) => (d.field === "contact.value" ? Object.assign({}, d, { field: "contact_value" }) : d));
        }
        SZ.showErrors(form, err);
      }
    });

    refresh();
    setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
  });
})();
