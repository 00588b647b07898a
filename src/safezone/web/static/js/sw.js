/* SafeZone citizen app service worker (served as /app/sw.js, scope /app).
 *
 * - The app shell (pages, CSS, JS, icons, Leaflet) is cached at install, so the app
 *   opens offline.
 * - API GETs are network-first; the last good answer for zones and tracking pages is
 *   kept for offline use (marked with the X-SZ-Offline header when served from cache).
 * - Anything that is not a GET (report submissions, photo uploads) is never cached or
 *   replayed by the fetch handler: it goes straight to the network.
 * - The one exception is the SOS: the page writes it (and its location trail) to the
 *   IndexedDB queue of sos-queue.js before sending, and this worker sends what is left
 *   there when Background Sync says the connection is back, even if the page has been
 *   closed. The page itself also retries (on `online`, on load) where Background Sync is
 *   missing. A retry carries the same client_ref, so the server never opens two SOSes.
 */
"use strict";

const VERSION = "__SZ_VERSION__";
importScripts("/static/js/sos-queue.js?v=" + VERSION);
const SHELL = "sz-shell-" + VERSION;
const DATA = "sz-data-" + VERSION;
const SHELL_URLS = [
  "/app",
  "/app/track",
  "/app/manifest.webmanifest",
  "/static/css/app.css",
  "/static/js/i18n.js",
  "/static/js/core.js",
  "/static/js/map.js",
  "/static/js/pwa.js",
  "/static/js/citizen.js",
  "/static/js/sos-queue.js",
  "/static/js/sos.js",
  "/static/js/alerts.js",
  "/static/js/housewatch.js",
  "/static/js/track.js",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/icons/icon.svg",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
];
const CACHED_API = [
  /^\/api\/v1\/zones$/,
  /^\/api\/v1\/reports\/track\/[^/]+$/,
  /^\/api\/v1\/alerts\/active$/,
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(SHELL_URLS))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      // Only this worker's own old caches: the officer app (/officer) keeps its own.
      .then((keys) =>
        Promise.all(
          keys
            .filter((k) => (k.startsWith("sz-shell-") || k.startsWith("sz-data-")) && k !== SHELL && k !== DATA)
            .map((k) => caches.delete(k))
        )
      )
      .then(() => self.clients.claim())
  );
});

function offlineCopy(response) {
  if (!response) return response;
  const headers = new Headers(response.headers);
  headers.set("X-SZ-Offline", "1");
  return response.blob().then(
    (body) => new Response(body, { status: response.status, statusText: response.statusText, headers })
  );
}

async function networkFirst(request, cacheName, keep) {
  try {
    const response = await fetch(request);
    if (keep && response.ok) {
      const cache = await caches.open(cacheName);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (err) {
    const cached = await caches.match(request, { ignoreSearch: false });
    if (cached) return offlineCopy(cached);
    throw err;
  }
}

async function page(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(SHELL);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (err) {
    const url = new URL(request.url);
    const fallback = url.pathname.startsWith("/app/track") ? "/app/track" : "/app";
    const cached = (await caches.match(request)) || (await caches.match(fallback));
    if (cached) return cached;
    throw err;
  }
}

async function staticAsset(request) {
  const cached = await caches.match(request, { ignoreSearch: true });
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
  if (url.pathname.startsWith("/api/")) {
    if (url.pathname.startsWith("/api/v1/events/")) return;
    const keep = CACHED_API.some((re) => re.test(url.pathname));
    event.respondWith(networkFirst(request, DATA, keep));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(page(request));
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/app/manifest.webmanifest") {
    event.respondWith(staticAsset(request));
  }
});

// --- the SOS queue ----------------------------------------------------------------------

async function flushSos() {
  const result = await self.SZSosQueue.flush();
  const clients = await self.clients.matchAll({ includeUncontrolled: true, type: "window" });
  for (const client of clients) client.postMessage({ type: "sz-sos-flushed", pending: result.pending });
  // Throwing makes Background Sync try again later.
  if (result.pending) throw new Error("SOS still waiting for a connection");
}

self.addEventListener("sync", (event) => {
  if (event.tag === self.SZSosQueue.SYNC_TAG) event.waitUntil(flushSos());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "sz-sos-flush") {
    event.waitUntil(flushSos().catch(() => undefined));
  }
});
