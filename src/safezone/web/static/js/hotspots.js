/* Hotspot and forecast layers for a Leaflet map (the dashboard and the commander page).
 *
 * A control on the map switches between: off, incident counts, KDE, Getis-Ord Gi*
 * hot/cold spots (GET /api/v1/analytics/hotspots, last 90 days) and the next-shift
 * forecast (GET /api/v1/analytics/forecast?shift=next), with a legend for the layer shown.
 *
 * Hooks for tests: .sz-hotspot-control (data-layer = the layer shown, data-state =
 * loading/ready/error), its radios input[name=sz-hotspot][value=...], the legend
 * .sz-hotspot-legend and the drawn cells path.sz-hotspot-cell.
 */
(function () {
  "use strict";

  const SZ = (window.SZ = window.SZ || {});
  const { h, tr, t, api } = SZ;
  const MODES = ["off", "counts", "kde", "gi", "forecast"];
  const SCALE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  const PURPLE = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"];
  const HOT = [
    [2.58, "#b2182b", "hot.hot99"],
    [1.96, "#ef8a62", "hot.hot95"],
  ];
  const COLD = [
    [-2.58, "#2166ac", "hot.cold99"],
    [-1.96, "#67a9cf", "hot.cold95"],
  ];

  function fmt(value, digits) {
    return Number(value).toLocaleString(SZ.i18n.lang() === "th" ? "th-TH" : "en-GB", {
      maximumFractionDigits: digits,
    });
  }

  function classOf(value, max) {
    if (!(max > 0)) return 0;
    return Math.min(SCALE.length - 1, Math.floor((value / max) * SCALE.length));
  }

  function giColour(z) {
    for (const [limit, colour] of HOT) if (z >= limit) return colour;
    for (const [limit, colour] of COLD) if (z <= limit) return colour;
    return null;
  }

  /** Attach the switcher to `map`; options.initial picks the first layer shown. */
  function attach(map, options) {
    const opts = options || {};
    const cache = {};
    const group = L.featureGroup().addTo(map);
    let mode = MODES.includes(opts.initial) ? opts.initial : "off";
    let root = null;
    let legend = null;
    let note = null;

    const Control = L.Control.extend({
      options: { position: opts.position || "bottomleft" },
      onAdd() {
        root = h("div", {
          class: "leaflet-bar sz-hotspot-control",
          dataset: { layer: mode, state: "ready" },
        });
        const title = h("strong", { i18n: "hot.title" });
        const choices = h("div", { class: "sz-hotspot-choices", role: "radiogroup" });
        for (const value of MODES) {
          const input = h("input", {
            type: "radio",
            name: "sz-hotspot",
            value,
            checked: value === mode,
            onchange: () => show(value),
          });
          choices.append(h("label", {}, input, " ", tr("hot." + value)));
        }
        legend = h("div", { class: "sz-hotspot-legend", "aria-live": "polite" });
        note = h("p", { class: "sz-hotspot-note muted small" });
        root.append(title, choices, legend, note);
        L.DomEvent.disableClickPropagation(root);
        L.DomEvent.disableScrollPropagation(root);
        return root;
      },
    });
    new Control().addTo(map);
    document.addEventListener("sz:lang", () => renderLegend());

    async function load(which) {
      if (cache[which]) return cache[which];
      const path =
        which === "forecast"
          ? "/api/v1/analytics/forecast?shift=next&top=150"
          : "/api/v1/analytics/hotspots";
      cache[which] = await api(path);
      return cache[which];
    }

    async function show(value) {
      mode = value;
      root.dataset.layer = value;
      group.clearLayers();
      legend.replaceChildren();
      note.textContent = "";
      if (value === "off") return;
      root.dataset.state = "loading";
      note.textContent = t("hot.loading");
      let data;
      try {
        data = await load(value === "forecast" ? "forecast" : "hotspots");
      } catch (err) {
        root.dataset.state = "error";
        note.textContent = t("hot.error", { message: err.message });
        return;
      }
      if (mode !== value) return; // switched again while loading
      draw(value, data);
      root.dataset.state = "ready";
      renderLegend();
    }

    function styleFor(value, props, max) {
      if (value === "gi") {
        const colour = giColour(props.gi_star);
        return colour ? { color: colour, fillColor: colour, weight: 0.5, fillOpacity: 0.55 } : null;
      }
      if (value === "forecast") {
        const colour = PURPLE[classOf(props.risk, max)];
        return { color: "#3f007d", fillColor: colour, weight: 0.6, fillOpacity: 0.6 };
      }
      const key = value === "counts" ? "count" : "kde";
      if (!(props[key] > 0)) return null;
      const colour = SCALE[classOf(props[key], max)];
      return { color: colour, fillColor: colour, weight: 0.4, fillOpacity: 0.55 };
    }

    function tooltip(value, props) {
      if (value === "forecast") {
        return t("hot.risk_tip", {
          rank: props.rank,
          risk: fmt(props.risk * 100, 1),
          expected: fmt(props.expected, 2),
        });
      }
      return t("hot.cell_tip", {
        count: props.count,
        kde: fmt(props.kde, 2),
        gi: fmt(props.gi_star, 2),
      });
    }

    function draw(value, data) {
      const key = { counts: "count", kde: "kde", gi: "gi_star", forecast: "risk" }[value];
      const max = Math.max(0, ...data.features.map((f) => f.properties[key] || 0));
      root.dataset.max = String(max);
      for (const feature of data.features) {
        const style = styleFor(value, feature.properties, max);
        if (!style) continue;
        const layer = L.geoJSON(feature, {
          style: () => Object.assign({ className: "sz-hotspot-cell" }, style),
        });
        layer.bindTooltip(() => tooltip(value, feature.properties), { sticky: true });
        group.addLayer(layer);
      }
      group.bringToBack();
    }

    function swatch(colour, label) {
      return h("li", {}, h("span", { class: "sz-swatch", style: "background:" + colour }), " ", label);
    }

    function renderLegend() {
      if (!legend || mode === "off") return;
      const data = cache[mode === "forecast" ? "forecast" : "hotspots"];
      if (!data) return;
      legend.replaceChildren();
      const list = h("ul", { class: "sz-legend-list" });
      const max = Number(root.dataset.max || 0);
      if (mode === "gi") {
        for (const [, colour, key] of HOT.concat(COLD)) list.append(swatch(colour, t(key)));
      } else if (mode === "forecast") {
        PURPLE.forEach((colour, i) => {
          const low = ((max * i) / PURPLE.length) * 100;
          const high = ((max * (i + 1)) / PURPLE.length) * 100;
          list.append(swatch(colour, t("hot.risk_range", { low: fmt(low, 2), high: fmt(high, 2) })));
        });
      } else {
        SCALE.forEach((colour, i) => {
          const low = (max * i) / SCALE.length;
          const high = (max * (i + 1)) / SCALE.length;
          const digits = mode === "counts" ? 0 : 2;
          list.append(swatch(colour, fmt(low, digits) + " – " + fmt(high, digits)));
        });
      }
      const props = data.properties || {};
      let caption;
      if (mode === "forecast") {
        const shift = props.shift || {};
        caption = t("hot.forecast_for", {
          shift: (shift.start_time || "") + "–" + (shift.end_time || ""),
          date: shift.date || "",
        });
      } else {
        caption = t("hot.window", { events: props.events || 0, cell: props.cell_m || "" });
      }
      legend.append(h("p", { class: "small", text: caption }), list);
      if (!data.features.length) legend.append(h("p", { class: "muted small", text: t("hot.empty") }));
      note.textContent = "";
    }

    if (mode !== "off") show(mode);
    return { show, group };
  }

  SZ.hotspots = { attach, MODES };
})();
