/* Dashboard plugin: every camera's view cone on the map, and "who sees this place".
 *
 * Each active camera's field of view (bearing_deg, fov_deg, range_m) is drawn as a cone
 * (path.sz-view-cone[data-camera-id]) in its own layer. Clicking a place on the map asks
 * the server which cameras cover it (GET /api/v1/cameras?lat=&lon=), nearest first, and
 * lists them in #place-cameras; for the control room each item shows the camera's current
 * picture (GET /api/v1/cameras/{id}/snapshot?reason=...). Every viewing is audited with
 * its reason, so no picture is fetched before the viewer has given one.
 *
 * Hooks for tests: #place-list li[data-camera-id] img.place-image (src set once loaded),
 * marker path.sz-place-marker.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, t, api } = SZ;
  let ctx = null;
  let dom = {};
  let place = null; // {lat, lon, cameras}
  let marker = null;
  const objectUrls = [];

  function drawCones() {
    const layer = ctx.layers.cones;
    if (!layer) return;
    layer.clearLayers();
    for (const camera of ctx.assets("camera")) {
      if (!camera.active) continue;
      const cone = L.polygon(SZ.map.coneLatLngs(camera), {
        className: "sz-view-cone",
        color: "#1f6feb",
        weight: 1,
        fillOpacity: 0.12,
      });
      cone.bindTooltip(() => t("marker.camera", { id: camera.id }));
      cone.on("add", () => {
        const el = cone.getElement();
        if (el) el.dataset.cameraId = camera.id;
      });
      layer.addLayer(cone);
    }
  }

  function reason() {
    return dom.reason ? dom.reason.value.trim() : "";
  }

  function releaseImages() {
    while (objectUrls.length) URL.revokeObjectURL(objectUrls.pop());
  }

  function loadImage(camera, img, status) {
    const url =
      "/api/v1/cameras/" + encodeURIComponent(camera.id) + "/snapshot?reason=" + encodeURIComponent(reason());
    status.textContent = t("place.loading");
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then((response) => {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.blob();
      })
      .then((blob) => {
        const objectUrl = URL.createObjectURL(blob);
        objectUrls.push(objectUrl);
        img.src = objectUrl;
        img.hidden = false;
        status.textContent = "";
      })
      .catch(() => {
        status.textContent = t("place.failed");
      });
  }

  function render(showImages) {
    releaseImages();
    dom.list.replaceChildren();
    if (!place) return;
    dom.count.textContent = String(place.cameras.length);
    dom.empty.hidden = place.cameras.length > 0;
    for (const camera of place.cameras) {
      const img = h("img", { class: "place-image", alt: t("marker.camera", { id: camera.id }), hidden: true });
      const status = h("span", { class: "muted small" });
      dom.list.append(
        h(
          "li",
          { dataset: { cameraId: camera.id } },
          h("strong", { text: t("place.camera", { id: camera.id, m: Math.round(camera.distance_m) }) }),
          camera.name ? h("span", { class: "muted", text: camera.name }) : null,
          img,
          status
        )
      );
      if (showImages) loadImage(camera, img, status);
    }
  }

  async function showPlace(lat, lon) {
    const query = "?lat=" + lat.toFixed(6) + "&lon=" + lon.toFixed(6);
    const cameras = await api("/api/v1/cameras" + query);
    place = { lat, lon, cameras };
    if (marker) marker.remove();
    marker = L.circleMarker([lat, lon], { radius: 7, className: "sz-place-marker", weight: 3 }).addTo(ctx.map);
    dom.panel.hidden = false;
    const canView = ctx.canTriage && cameras.length > 0;
    const ready = canView && reason().length >= 3;
    if (dom.needReason) dom.needReason.hidden = !canView || ready;
    render(ready);
    if (canView && !ready && dom.reason) dom.reason.focus();
  }

  function close() {
    releaseImages();
    place = null;
    if (marker) marker.remove();
    marker = null;
    dom.panel.hidden = true;
  }

  SZ.dashPlugins = SZ.dashPlugins || [];
  SZ.dashPlugins.push({
    topics: ["registry.changed"],
    layers: [["cones", "layer.cones", true]],
    init(context) {
      ctx = context;
      dom = {
        panel: document.getElementById("place-cameras"),
        list: document.getElementById("place-list"),
        empty: document.getElementById("place-empty"),
        count: document.getElementById("place-count"),
        form: document.getElementById("place-reason-form"),
        reason: document.getElementById("place-reason"),
        needReason: document.getElementById("place-need-reason"),
      };
      document.getElementById("place-close").addEventListener("click", close);
      if (dom.form) {
        dom.form.addEventListener("submit", (event) => {
          event.preventDefault();
          const ready = reason().length >= 3;
          dom.needReason.hidden = ready;
          if (ready && place) render(true);
        });
      }
      ctx.map.on("click", (event) => {
        showPlace(event.latlng.lat, event.latlng.lng).catch((err) => console.warn("cameras at place", err));
      });
    },
    onRegistry: drawCones,
    onEvent(topic) {
      // The dashboard updates its registry first; redraw from it afterwards.
      if (topic === "registry.changed") setTimeout(drawCones, 0);
    },
  });
})();
