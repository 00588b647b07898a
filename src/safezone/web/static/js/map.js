/* Leaflet helpers shared by the dashboard, the admin page and the citizen app.
 *
 * Tiles come from the server's settings (data-tile-url). With no tile URL, or when the
 * tile server cannot be reached, the map still draws zones and markers on a plain
 * background.
 */
(function () {
  "use strict";

  const SZ = (window.SZ = window.SZ || {});
  const MUKDAHAN = [16.5453, 104.7236];

  // Tooltips show names people typed (checkpoint and house names, report titles): a
  // string is always shown as text, never parsed as markup (Leaflet would use innerHTML).
  L.Tooltip.prototype._updateContent = function () {
    if (!this._content) return;
    const node = this._contentNode;
    const content = typeof this._content === "function" ? this._content(this._source || this) : this._content;
    if (typeof content === "string") {
      node.textContent = content;
    } else {
      node.replaceChildren(content);
    }
    this.fire("contentupdate");
  };
  const TILE_TIMEOUT_MS = 8000;

  /**
   * A divIcon whose element carries data-* attributes (kept when Leaflet re-creates the
   * element, e.g. after setIcon), so tests and scripts can find markers by id.
   */
  const DataIcon = L.DivIcon.extend({
    createIcon(oldIcon) {
      const el = L.DivIcon.prototype.createIcon.call(this, oldIcon);
      for (const [key, value] of Object.entries(this.options.data || {})) {
        el.dataset[key] = value;
      }
      return el;
    },
  });

  function icon(className, data, size) {
    const px = size || 18;
    return new DataIcon({
      className: "sz-marker " + className,
      html: "",
      iconSize: [px, px],
      iconAnchor: [px / 2, px / 2],
      tooltipAnchor: [px / 2, 0],
      popupAnchor: [0, -px / 2],
      data: data || {},
    });
  }

  /**
   * Make a map in `el`. Options: tileUrl, attribution, onTiles(ok: boolean) called when
   * the background is known to work or not.
   */
  function create(el, options) {
    const opts = options || {};
    const map = L.map(el, { zoomControl: true, attributionControl: true }).setView(MUKDAHAN, 15);
    const report = (ok) => {
      el.classList.toggle("no-tiles", !ok);
      if (opts.onTiles) opts.onTiles(ok);
    };
    if (!opts.tileUrl) {
      report(false);
      return map;
    }
    const tiles = L.tileLayer(opts.tileUrl, {
      attribution: opts.attribution || "",
      maxZoom: 19,
    });
    let loaded = 0;
    let failed = 0;
    tiles.on("tileload", () => {
      loaded += 1;
      if (loaded === 1) report(true);
    });
    tiles.on("tileerror", () => {
      failed += 1;
      if (loaded === 0 && failed === 3) report(false);
    });
    setTimeout(() => {
      if (loaded === 0) report(false);
    }, TILE_TIMEOUT_MS);
    tiles.addTo(map);
    return map;
  }

  function zoneName(zone) {
    return SZ.i18n.lang() === "en" && zone.name_en ? zone.name_en : zone.name;
  }

  /** Safety zones as polygons, each with a tooltip in the current language. */
  function zoneLayer(zones, target) {
    const group = target || L.featureGroup();
    for (const zone of zones) {
      const shape = L.geoJSON(zone.geometry, {
        style: {
          className: "sz-zone" + (zone.active ? "" : " sz-zone-inactive"),
          color: "#0b3d91",
          weight: 2,
          fillColor: "#2f6fd6",
          fillOpacity: zone.active ? 0.08 : 0.02,
          dashArray: zone.active ? null : "4 4",
        },
      });
      shape.bindTooltip(() => zoneName(zone), { sticky: true });
      shape.zoneId = zone.id;
      group.addLayer(shape);
    }
    return group;
  }

  /** Fit the view to `layer` when it has bounds; otherwise keep the current view. */
  function fit(map, layer, maxZoom) {
    const bounds = layer && layer.getBounds ? layer.getBounds() : null;
    if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: maxZoom || 17 });
  }

  /** Great-circle distance in metres. */
  function distance(a, b) {
    const rad = Math.PI / 180;
    const dLat = (b[0] - a[0]) * rad;
    const dLon = (b[1] - a[1]) * rad;
    const s =
      Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(s)));
  }

  /** Initial bearing from a to b, degrees clockwise from north. */
  function bearing(a, b) {
    const rad = Math.PI / 180;
    const y = Math.sin((b[1] - a[1]) * rad) * Math.cos(b[0] * rad);
    const x =
      Math.cos(a[0] * rad) * Math.sin(b[0] * rad) -
      Math.sin(a[0] * rad) * Math.cos(b[0] * rad) * Math.cos((b[1] - a[1]) * rad);
    return (Math.atan2(y, x) / rad + 360) % 360;
  }

  /** Does this camera (bearing_deg, fov_deg, range_m) see the point? */
  function cameraSees(camera, point) {
    const from = [camera.lat, camera.lon];
    const metres = distance(from, point);
    if (metres > camera.range_m) return false;
    if (camera.fov_deg >= 360 || metres < 1) return true;
    const off = Math.abs(((bearing(from, point) - camera.bearing_deg + 540) % 360) - 180);
    return off <= camera.fov_deg / 2;
  }

  /** The point `metres` from `from` towards `bearingDeg` (flat earth: fine under a few km). */
  function offset(from, bearingDeg, metres) {
    const rad = Math.PI / 180;
    const dLat = (metres * Math.cos(bearingDeg * rad)) / 111320;
    const dLon = (metres * Math.sin(bearingDeg * rad)) / (111320 * Math.cos(from[0] * rad));
    return [from[0] + dLat, from[1] + dLon];
  }

  /** A camera's field of view (bearing_deg, fov_deg, range_m) as a wedge; a disc at 360°. */
  function coneLatLngs(camera) {
    const from = [camera.lat, camera.lon];
    const fov = Math.min(360, Math.max(1, Number(camera.fov_deg) || 0));
    const steps = Math.max(4, Math.ceil(fov / 10));
    const start = Number(camera.bearing_deg) - fov / 2;
    const points = fov >= 360 ? [] : [from];
    for (let i = 0; i <= steps; i += 1) points.push(offset(from, start + (fov * i) / steps, Number(camera.range_m)));
    return points;
  }

  /** The city's public safety zones on a map, fitted to them once loaded unless
   * ``viewTaken()`` says the user has already chosen a spot. */
  function publicZones(map, viewTaken) {
    const layer = L.featureGroup().addTo(map);
    SZ.api("/api/v1/zones")
      .then((list) => {
        zoneLayer(list, layer);
        if (!viewTaken || !viewTaken()) fit(map, layer, 16);
      })
      .catch((err) => console.warn("zones not loaded", err));
    return layer;
  }

  SZ.map = {
    create,
    icon,
    zoneLayer,
    zoneName,
    fit,
    publicZones,
    distance,
    bearing,
    cameraSees,
    offset,
    coneLatLngs,
    MUKDAHAN,
  };
})();
