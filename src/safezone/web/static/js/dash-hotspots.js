/* Command-centre dashboard: hotspot and next-shift forecast layers (hotspots.js) for the
 * control room. A plugin of dashboard.js (see the comment at its top); loaded before it.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const CONTROL_ROOM = ["operator", "commander", "admin"];
  SZ.dashPlugins = SZ.dashPlugins || [];
  SZ.dashPlugins.push({
    init(ctx) {
      if (!CONTROL_ROOM.includes(ctx.role)) return;
      // Bottom right: the layer list is top right and the no-tiles note bottom left.
      SZ.hotspots.attach(ctx.map, { initial: "off", position: "bottomright" });
    },
  });
})();
