/* Public alerts in the citizen app (/app).
 *
 * Asks GET /api/v1/alerts/active every 30 s (data-alert-poll-s), and at once when the page
 * comes back to the front, gets focus or goes back online. With the phone's position
 * (when the person has already allowed it, or has just shared it for a report or an SOS)
 * only the alerts for zones containing it come back; without, every active alert.
 * Each alert is shown in the page's language, falling back to the other one.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, api, t, onReady } = SZ;
  const SEVERITY_ORDER = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];

  /** The text in the current language, else the other language's. */
  function pick(alert, field) {
    const th = alert[field + "_th"];
    const en = alert[field + "_en"];
    return SZ.i18n.lang() === "en" ? en || th || "" : th || en || "";
  }

  function areaName(area) {
    return SZ.i18n.lang() === "en" ? area.name_en || area.name_th : area.name_th || area.name_en;
  }

  onReady(() => {
    const root = document.getElementById("sz-citizen");
    const section = document.getElementById("alerts-section");
    const list = document.getElementById("alerts-list");
    if (!root || !section || !list) return;
    const pollS = Math.max(1, parseFloat(root.dataset.alertPollS || "30"));
    let point = null;
    let alerts = [];
    let running = null;

    function render() {
      section.hidden = alerts.length === 0;
      list.replaceChildren(
        ...alerts.map((alert) => {
          const description = pick(alert, "description");
          const instruction = pick(alert, "instruction");
          return h(
            "li",
            { class: "alert-item sev-" + alert.severity, dataset: { alertId: alert.id } },
            h(
              "div",
              { class: "alert-head" },
              h("span", { class: "badge sev-" + alert.severity, i18n: "severity." + alert.severity }),
              alert.status !== "Actual" ? h("span", { class: "chip warn", i18n: "alerts.status." + alert.status }) : null,
              h("span", { class: "chip", i18n: "urgency." + alert.urgency })
            ),
            h("h3", { class: "alert-headline", text: pick(alert, "headline") }),
            description ? h("p", { class: "alert-desc prewrap", text: description }) : null,
            instruction
              ? h("p", { class: "alert-instruction" }, h("strong", { i18n: "alerts.instruction" }), " ", h("span", { class: "prewrap", text: instruction }))
              : null,
            h(
              "p",
              { class: "alert-meta muted small" },
              alert.areas.length ? [tr("alerts.areas"), " ", alert.areas.map(areaName).join(", "), " · "] : null,
              tr("alerts.until"),
              " ",
              time(alert.expires, "short")
            )
          );
        })
      );
    }

    async function poll() {
      if (running) return running;
      const query = point ? "?lat=" + point.lat.toFixed(6) + "&lon=" + point.lon.toFixed(6) : "";
      running = api("/api/v1/alerts/active" + query)
        .then((found) => {
          alerts = found
            .slice()
            .sort(
              (a, b) =>
                SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
                String(b.sent).localeCompare(String(a.sent))
            );
          render();
        })
        .catch((err) => {
          // Offline: keep showing what was last seen.
          console.warn("alerts not loaded", err);
        })
        .finally(() => {
          running = null;
        });
      return running;
    }

    function setPoint(lat, lon) {
      const first = point === null;
      const moved = point && SZ.map ? SZ.map.distance([point.lat, point.lon], [lat, lon]) > 100 : false;
      point = { lat, lon };
      if (first || moved) poll();
    }

    document.addEventListener("sz:position", (event) => setPoint(event.detail.lat, event.detail.lon));
    document.addEventListener("sz:lang", render);
    window.addEventListener("focus", () => poll());
    window.addEventListener("online", () => poll());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") poll();
    });
    setInterval(poll, pollS * 1000);

    // Use the position only if the person has already allowed it: no prompt on opening.
    const fallback = () => {
      if (point === null) poll();
    };
    if (navigator.permissions && navigator.permissions.query && "geolocation" in navigator) {
      navigator.permissions
        .query({ name: "geolocation" })
        .then((permission) => {
          if (permission.state !== "granted") {
            fallback();
            return;
          }
          navigator.geolocation.getCurrentPosition(
            (position) => setPoint(position.coords.latitude, position.coords.longitude),
            fallback,
            { enableHighAccuracy: false, timeout: 10000, maximumAge: 120000 }
          );
        })
        .catch(fallback);
    } else {
      fallback();
    }
  });
})();
