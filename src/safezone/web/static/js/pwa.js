/* Citizen app shell: registers the service worker (offline app shell) and keeps the
 * tracking codes of recent reports on this device (localStorage). */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, time, onReady } = SZ;
  const KEY = "sz_codes";
  const KEEP = 10;

  function list() {
    try {
      const items = JSON.parse(window.localStorage.getItem(KEY) || "[]");
      return Array.isArray(items) ? items.filter((i) => i && typeof i.code === "string") : [];
    } catch (err) {
      return [];
    }
  }

  /** Remember a report made here: {code, kind, category, at}. Newest first. */
  function remember(entry) {
    const items = [entry].concat(list().filter((i) => i.code !== entry.code)).slice(0, KEEP);
    try {
      window.localStorage.setItem(KEY, JSON.stringify(items));
    } catch (err) {
      // Private mode or a full store: the code is still on screen.
    }
  }

  /** Fill <ul id="recent-codes"> with links to each remembered report. */
  function render() {
    const holder = document.getElementById("recent-codes");
    const none = document.getElementById("recent-none");
    if (!holder) return;
    const items = list();
    holder.replaceChildren(
      ...items.map((item) =>
        h(
          "li",
          {},
          h("a", { href: "/app/track/" + encodeURIComponent(item.code), class: "code-link" }, item.code),
          " ",
          item.kind ? tr("kind." + item.kind, { class: "muted" }) : null,
          item.category ? [" · ", tr("cat." + item.category, { class: "muted" })] : null,
          item.at ? [" · ", time(item.at, "short")] : null
        )
      )
    );
    if (none) none.hidden = items.length > 0;
  }

  onReady(() => {
    render();
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch((err) => {
        console.warn("service worker not registered", err);
      });
    }
  });

  SZ.recent = { list, remember, render };
})();
