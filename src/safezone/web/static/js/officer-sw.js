/* SafeZone officer app service worker (served as /officer/sw.js, scope /officer).
 *
 * Separate from the citizen app's worker (/app/sw.js, scope /app): each controls only its
 * own pages, and each keeps its own caches (sz-officer-*), so neither deletes the other's.
 *
 * - The app shell (the /officer page, CSS, JS, jsQR, icons) is cached, so the app opens
 *   without a connection and scans can be queued. The page is cached only as the signed-in
 *   officer got it (never a redirect to the sign-in page).
 * - API calls are never cached or replayed here: check-ins taken offline wait in the page's
 *   own queue (officer-queue.js) and keep their scan time.
 */
"use strict";

const VERSION = "__SZ_VERSION__";
const SHELL = "sz-officer-shell-" + VERSION;
const PAGE = "/officer";
const ASSETS = [
  "/officer/manifest.webmanifest",
  "/static/css/app.css",
  "/static/js/i18n.js",
  "/static/js/core.js",
  "/static/js/officer-queue.js",
  "/static/js/officer-scan.js",
  "/static/js/officer.js",
  "/static/vendor/jsqr/jsQR.js",
  "/static/icons/icon.svg",
  "/static/icons/icon-192.png",
];

async function cachePage(cache) {
  const response = await fetch(PAGE, { credentials: "same-origin", cache: "no-store" });
  if (response.ok && !response.redirected) await cache.put(PAGE, response);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => Promise.all([cache.addAll(ASSETS), cachePage(cache).catch(() => undefined)]))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k.startsWith("sz-officer-") && k !== SHELL).map((k) => caches.delete(k)))
      )
      .then(() => self.clients.claim())
  );
});

async function page(request) {
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) {
      const cache = await caches.open(SHELL);
      await cache.put(PAGE, response.clone());
    }
    return response;
  } catch (err) {
    const cached = await caches.match(PAGE, { cacheName: SHELL });
    if (cached) return cached;
    throw err;
  }
}

async function staticAsset(request) {
  const cached = await caches.match(request, { ignoreSearch: true, cacheName: SHELL });
  const refresh = fetch(request)
    .then(async (response) => {
      if (response.ok) {
        const cache = await caches.open(SHELL);
        await cache.put(request, response.clone());
      }
      return response;
    })
    .catch(() => cached);
  return cached || refresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") {
    if (url.pathname === PAGE || url.pathname === PAGE + "/") event.respondWith(page(request));
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/officer/manifest.webmanifest") {
    event.respondWith(staticAsset(request));
  }
});
