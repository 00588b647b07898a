/* Citizen report form (/app).
 *
 * The report carries a client_ref made once per draft, so a retry after a lost answer
 * returns the first report instead of making a second one. Photos are uploaded after
 * the report exists, with its tracking code. The tracking code is shown large and kept
 * in localStorage (SZ.recent).
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, api, t, onReady, busy, showErrors, clearErrors } = SZ;

  onReady(() => {
    const root = document.getElementById("sz-citizen");
    const form = document.getElementById("report-form");
    const reportSection = document.getElementById("report-section");
    const doneSection = document.getElementById("done-section");
    const locateStatus = document.getElementById("locate-status");
    const submit = form.querySelector("button[type=submit]");
    const fields = form.elements;
    let clientRef = SZ.randomId();
    let marker = null;

    // --- the small map: public safety zones, tap to choose the spot -------------------
    const map = SZ.map.create(document.getElementById("citizen-map"), {
      tileUrl: root.dataset.tileUrl,
      attribution: root.dataset.tileAttribution,
    });
    SZ.map.publicZones(map, () => marker !== null);
    map.on("click", (event) => setLocation(event.latlng.lat, event.latlng.lng, null, false));

    function say(key, params) {
      locateStatus.setAttribute("data-i18n", key);
      if (params) locateStatus.setAttribute("data-i18n-params", JSON.stringify(params));
      else locateStatus.removeAttribute("data-i18n-params");
      locateStatus.textContent = key ? t(key, params) : "";
    }

    function showMarker(lat, lon) {
      if (!marker) {
        marker = L.marker([lat, lon], {
          icon: SZ.map.icon("sz-pick-marker", {}, 24),
          draggable: true,
        }).addTo(map);
        marker.on("dragend", () => {
          const at = marker.getLatLng();
          setLocation(at.lat, at.lng, null, false);
        });
      } else {
        marker.setLatLng([lat, lon]);
      }
    }

    /** Set the report's position; a hand-picked spot has no GPS accuracy. */
    function setLocation(lat, lon, accuracy, recenter) {
      fields.lat.value = lat.toFixed(6);
      fields.lon.value = lon.toFixed(6);
      fields.accuracy_m.value = accuracy === null || accuracy === undefined ? "" : String(Math.round(accuracy));
      if (accuracy === null || accuracy === undefined) say("");
      showMarker(lat, lon);
      if (recenter) map.setView([lat, lon], Math.max(map.getZoom(), 17));
    }

    for (const name of ["lat", "lon"]) {
      fields[name].addEventListener("change", () => {
        const lat = parseFloat(fields.lat.value);
        const lon = parseFloat(fields.lon.value);
        fields.accuracy_m.value = "";
        if (Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
          showMarker(lat, lon);
          map.setView([lat, lon], Math.max(map.getZoom(), 16));
        }
      });
    }

    document.getElementById("locate-btn").addEventListener("click", () => {
      if (!("geolocation" in navigator)) {
        say("form.location_failed");
        return;
      }
      say("form.locating");
      navigator.geolocation.getCurrentPosition(
        (position) => {
          const c = position.coords;
          setLocation(c.latitude, c.longitude, c.accuracy, true);
          say("form.located", { m: Math.round(c.accuracy) });
          // Other parts of the page (alerts for this area) use the position too.
          document.dispatchEvent(
            new CustomEvent("sz:position", { detail: { lat: c.latitude, lon: c.longitude, accuracy: c.accuracy } })
          );
        },
        (error) => say(error.code === error.PERMISSION_DENIED ? "form.location_denied" : "form.location_failed"),
        { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 }
      );
    });

    // --- kind-dependent parts ---------------------------------------------------------
    function kind() {
      const checked = form.querySelector("input[name=kind]:checked");
      return checked ? checked.value : "incident";
    }

    function onKind() {
      const current = kind();
      document.getElementById("emergency-note").hidden = current !== "emergency";
      document.getElementById("anonymous-field").hidden = current !== "tip";
      form.dataset.kind = current;
    }
    form.querySelectorAll("input[name=kind]").forEach((radio) => radio.addEventListener("change", onKind));
    onKind();

    // --- sending ----------------------------------------------------------------------
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const lat = parseFloat(fields.lat.value);
      const lon = parseFloat(fields.lon.value);
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) {
        showErrors(form, { message: t("form.location_required"), field: "lat", details: [] });
        return;
      }
      const body = {
        kind: kind(),
        category: fields.category.value,
        description: fields.description.value,
        lat,
        lon,
        client_ref: clientRef,
      };
      const accuracy = parseFloat(fields.accuracy_m.value);
      if (Number.isFinite(accuracy)) body.accuracy_m = accuracy;
      if (body.kind === "tip" && fields.anonymous.checked) body.anonymous = true;
      const photos = Array.from(fields.photos.files || []);
      try {
        const created = await busy(submit, () => api("/api/v1/reports", { method: "POST", json: body }));
        done(created, body, photos);
      } catch (err) {
        showErrors(form, err);
        if (err.status === 0) {
          const general = form.querySelector(".form-error");
          general.textContent = err.message + " " + t("form.kept");
          general.hidden = false;
        }
      }
    });

    async function uploadPhotos(code, photos) {
      const list = document.getElementById("done-photos");
      list.replaceChildren();
      if (!photos.length) return;
      const progress = h("li", { class: "muted", i18n: "done.photos_uploading" });
      list.append(progress);
      let uploaded = 0;
      for (const file of photos) {
        const data = new FormData();
        data.append("file", file, file.name);
        try {
          await api("/api/v1/reports/track/" + encodeURIComponent(code) + "/photos", { method: "POST", form: data });
          uploaded += 1;
        } catch (err) {
          list.append(h("li", { class: "form-error", text: t("done.photo_failed", { name: file.name, message: err.message }) }));
        }
      }
      progress.setAttribute("data-i18n", "done.photos_ok");
      progress.setAttribute("data-i18n-params", JSON.stringify({ n: uploaded }));
      progress.textContent = t("done.photos_ok", { n: uploaded });
      progress.className = uploaded ? "ok" : "muted";
    }

    function done(created, body, photos) {
      const code = created.tracking_code;
      SZ.recent.remember({ code, kind: body.kind, category: body.category, at: new Date().toISOString() });
      SZ.recent.render();
      document.getElementById("done-code").textContent = code;
      document.getElementById("done-track").href = "/app/track/" + encodeURIComponent(code);
      document.getElementById("done-outside").hidden = !created.outside_zone;
      reportSection.hidden = true;
      doneSection.hidden = false;
      doneSection.scrollIntoView({ block: "start" });
      doneSection.querySelector("h1").focus({ preventScroll: true });
      uploadPhotos(code, photos);
      // The next report is a new draft with its own client_ref.
      clientRef = SZ.randomId();
      form.reset();
      onKind();
      say("");
      if (marker) {
        marker.remove();
        marker = null;
      }
    }

    document.getElementById("new-report").addEventListener("click", () => {
      doneSection.hidden = true;
      reportSection.hidden = false;
      document.getElementById("done-photos").replaceChildren();
      fields.description.focus();
    });

    document.getElementById("copy-code").addEventListener("click", async (event) => {
      const button = event.currentTarget;
      const code = document.getElementById("done-code").textContent;
      try {
        await navigator.clipboard.writeText(code);
        button.replaceChildren(tr("common.copied"));
      } catch (err) {
        window.getSelection().selectAllChildren(document.getElementById("done-code"));
      }
    });
  });
})();
