/* Tracking page (/app/track and /app/track/{code}): the status of one report and the
 * public updates the police wrote for it. Works offline from the service worker's last
 * saved copy (then marked as such). */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, t, onReady, ApiError } = SZ;
  const CODE_IN_PATH = /^\/app\/track\/([^/]+)\/?$/;

  function codeFromPage(root) {
    const match = CODE_IN_PATH.exec(window.location.pathname);
    const code = match ? decodeURIComponent(match[1]) : root.dataset.code || "";
    return code.trim().toUpperCase();
  }

  function statusLabel(status) {
    if (SZ.i18n.has("rstatus." + status)) return tr("rstatus." + status);
    if (SZ.i18n.has("status." + status)) return tr("status." + status);
    return status;
  }

  onReady(() => {
    const root = document.getElementById("sz-track");
    const form = document.getElementById("track-form");
    const input = document.getElementById("track-code");
    const result = document.getElementById("track-result");
    const problem = document.getElementById("track-error");
    const code = codeFromPage(root);
    if (code) input.value = code;

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const wanted = input.value.trim().toUpperCase();
      if (wanted) window.location.assign("/app/track/" + encodeURIComponent(wanted));
    });
    document.getElementById("track-refresh").addEventListener("click", () => load(code));

    function set(id, ...content) {
      document.getElementById(id).replaceChildren(...content);
    }

    function render(view, offline) {
      document.getElementById("track-offline").hidden = !offline;
      set("track-result-code", view.tracking_code);
      set("track-status", h("span", { class: "chip rstatus-" + view.status }, statusLabel(view.status)));
      set(
        "track-incident",
        view.incident_status
          ? h("span", { class: "chip status-" + view.incident_status }, statusLabel(view.incident_status))
          : tr("track.no_incident", { class: "muted" })
      );
      set("track-kind", tr("kind." + view.kind));
      set("track-category", tr("cat." + view.category));
      set("track-created", time(view.created_at));
      set("track-photos", String(view.photos));
      document.getElementById("track-outside").hidden = !view.outside_zone;
      const updates = view.updates.slice().reverse();
      set(
        "track-updates",
        ...(updates.length
          ? updates.map((u) =>
              h(
                "li",
                {},
                h("div", { class: "timeline-head" }, time(u.ts, "short"), " ", statusLabel(u.status)),
                u.message ? h("div", { class: "timeline-note", text: u.message }) : null
              )
            )
          : [h("li", { class: "muted", i18n: "track.no_updates" })])
      );
      result.hidden = false;
      problem.hidden = true;
    }

    async function load(wanted) {
      if (!wanted) return;
      try {
        const response = await fetch("/api/v1/reports/track/" + encodeURIComponent(wanted), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const body = await response.json().catch(() => null);
        if (!response.ok) throw new ApiError(response.status, body, response.headers);
        render(body, response.headers.get("X-SZ-Offline") === "1");
      } catch (err) {
        result.hidden = true;
        problem.textContent = err instanceof ApiError ? err.message : t("common.network_error");
        problem.hidden = false;
      }
    }

    load(code);
  });
})();
