/* The station's house-watch desk: requests of the station on a map and in a table; the
 * control room approves a request onto the patrol plans, or declines it with a reason.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, api, t } = SZ;
  const POLL_MS = 30000;

  SZ.onReady(() => {
    const root = document.getElementById("sz-hwdesk");
    if (!root) return;
    const status = document.getElementById("hwdesk-status");
    const table = document.getElementById("hwdesk-table");
    const none = document.getElementById("hwdesk-none");
    const problem = document.getElementById("hwdesk-error");
    const form = document.getElementById("hwdesk-approve");
    const map = SZ.map.create(document.getElementById("hwdesk-map"), {
      tileUrl: root.dataset.tileUrl,
      attribution: root.dataset.tileAttribution,
    });
    const layer = L.featureGroup().addTo(map);
    let chosen = null;

    function fail(err) {
      problem.textContent = err.message;
      problem.hidden = false;
    }

    async function loadPlans() {
      const plans = await api("/api/v1/patrol/plans?active=true");
      document.getElementById("hwdesk-plans").replaceChildren(
        ...plans.map((p) =>
          h("label", { class: "check" }, h("input", { type: "checkbox", name: "plan", value: p.id, checked: true }), " ", p.name),
        ),
      );
    }

    function choose(request) {
      chosen = request;
      SZ.clearErrors(form);
      form.hidden = false;
      document.getElementById("hwdesk-approve-title").textContent = "#" + request.id + " · " + request.address;
      form.querySelector('[data-action="approve"]').hidden = request.status !== "pending";
      form.querySelector('[data-action="decline"]').hidden = request.status !== "pending";
      map.setView([request.lat, request.lon], 17);
    }

    function render(requests) {
      none.hidden = requests.length > 0;
      layer.clearLayers();
      const head = h("tr", null, ...["hwdesk.col.request", "hwdesk.col.dates", "hwdesk.col.contact", "hwdesk.col.status", ""].map((key) => h("th", key ? { i18n: key } : null)));
      const rows = requests.map((r) => {
        layer.addLayer(
          L.marker([r.lat, r.lon], {
            icon: SZ.map.icon("hw-" + r.status, { request: r.id, status: r.status }, 20),
            title: r.address,
          }).on("click", () => choose(r)),
        );
        const open = h("button", { type: "button", class: "btn btn-small", i18n: r.status === "pending" ? "hwdesk.decide" : "hwdesk.view" });
        open.addEventListener("click", () => choose(r));
        return h(
          "tr",
          { dataset: { request: r.id, status: r.status } },
          h("td", null, "#" + r.id + " ", r.address, r.note ? h("p", { class: "muted small", text: r.note }) : null),
          h("td", { text: r.starts_on + " – " + r.ends_on }),
          h("td", null, h("span", { i18n: "hw.contact." + r.contact_kind }), r.contact_value ? " " + r.contact_value : ""),
          h("td", { i18n: "hw.status." + r.status }),
          h(
            "td",
            null,
            open,
            r.status === "approved"
              ? h("a", { class: "btn btn-small", href: "/api/v1/housewatch/requests/" + r.id + "/qr.svg", target: "_blank", rel: "noopener", i18n: "hw.qr" })
              : null,
          ),
        );
      });
      table.replaceChildren(h("thead", null, head), h("tbody", null, ...rows));
      SZ.map.fit(map, layer);
    }

    async function refresh() {
      problem.hidden = true;
      try {
        render(await api("/api/v1/housewatch/requests?status=" + encodeURIComponent(status.value)));
      } catch (err) {
        fail(err);
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!chosen) return;
      const body = {
        plan_ids: Array.from(form.querySelectorAll("input[name=plan]:checked"), (el) => Number(el.value)),
        target_visits: Number(form.target_visits.value),
        radius_m: Number(form.radius_m.value),
        note: form.note.value.trim(),
      };
      try {
        await SZ.busy(form.querySelector('[data-action="approve"]'), () =>
          api("/api/v1/housewatch/requests/" + chosen.id + "/approve", { method: "POST", json: body }),
        );
        form.hidden = true;
        refresh();
      } catch (err) {
        SZ.showErrors(form, err);
      }
    });

    form.querySelector('[data-action="decline"]').addEventListener("click", async () => {
      if (!chosen) return;
      const note = form.note.value.trim();
      try {
        await api("/api/v1/housewatch/requests/" + chosen.id + "/decline", { method: "POST", json: { note } });
        form.hidden = true;
        refresh();
      } catch (err) {
        SZ.showErrors(form, err);
      }
    });

    form.querySelector('[data-action="close"]').addEventListener("click", () => {
      form.hidden = true;
    });

    status.addEventListener("change", refresh);
    loadPlans().catch(fail);
    refresh();
    setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
  });
})();
