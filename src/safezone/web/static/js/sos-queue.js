/* The citizen SOS queue, shared by the app's pages and its service worker.
 *
 * An SOS and its location trail are written to IndexedDB ("sz-sos") before anything is
 * sent, so that nothing is lost when the phone is offline or the page is closed:
 *
 * - store "panic": one record per SOS, keyed by its client_ref:
 *     {client_ref, body, queued_at, state (the server's PanicState, null until sent),
 *      ended, error}
 * - store "trail": location points waiting to be sent: {id, client_ref, point}.
 *
 * flush() sends whatever is waiting: first the SOS itself (POST /api/v1/sos/panic; a
 * retry with the same client_ref returns the same SOS, so sending twice is harmless),
 * then its trail points in batches. Points are taken out of the store in the same
 * transaction that reads them, so the page and the service worker never send the same
 * point twice; a batch that fails for lack of a network is put back.
 *
 * The page calls flush() on every tick, on `online` and on load; the service worker
 * calls it from Background Sync (tag "sz-sos"). Without IndexedDB (some private modes)
 * the queue lives in memory and only the open page can send it.
 */
(function (scope) {
  "use strict";

  const DB_NAME = "sz-sos";
  const DB_VERSION = 1;
  const SYNC_TAG = "sz-sos";
  const MAX_BATCH = 200;
  const PANIC_URL = "/api/v1/sos/panic";

  // --- storage ------------------------------------------------------------------------

  let opening = null;

  function openDb() {
    if (!scope.indexedDB) return Promise.reject(new Error("no IndexedDB"));
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const request = scope.indexedDB.open(DB_NAME, DB_VERSION);
        request.onupgradeneeded = () => {
          const db = request.result;
          if (!db.objectStoreNames.contains("panic")) db.createObjectStore("panic", { keyPath: "client_ref" });
          if (!db.objectStoreNames.contains("trail")) {
            const trail = db.createObjectStore("trail", { keyPath: "id", autoIncrement: true });
            trail.createIndex("client_ref", "client_ref");
          }
        };
        request.onsuccess = () => {
          const db = request.result;
          db.onversionchange = () => {
            db.close();
            opening = null;
          };
          resolve(db);
        };
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new Error("IndexedDB is blocked"));
      });
      opening.catch(() => {
        opening = null;
      });
    }
    return opening;
  }

  /** Run `work(stores, done)` in one transaction; resolves with what done() was given. */
  function transact(names, mode, work) {
    return openDb().then(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = db.transaction(names, mode);
          const stores = {};
          for (const name of names) stores[name] = tx.objectStore(name);
          let result;
          tx.oncomplete = () => resolve(result);
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
          work(stores, (value) => {
            result = value;
          });
        })
    );
  }

  /** The same operations on plain objects, for browsers without IndexedDB. */
  const memory = { panic: new Map(), trail: [], nextId: 1 };

  const idbBackend = {
    putPanic: (record) => transact(["panic"], "readwrite", (s) => s.panic.put(record)),
    getPanic: (ref) =>
      transact(["panic"], "readonly", (s, done) => {
        const request = s.panic.get(ref);
        request.onsuccess = () => done(request.result || null);
      }),
    allPanics: () =>
      transact(["panic"], "readonly", (s, done) => {
        const request = s.panic.getAll();
        request.onsuccess = () => done(request.result || []);
      }),
    addPoints: (ref, points) =>
      transact(["trail"], "readwrite", (s) => {
        for (const point of points) s.trail.add({ client_ref: ref, point });
      }),
    takePoints: (ref, max) =>
      transact(["trail"], "readwrite", (s, done) => {
        const taken = [];
        const request = s.trail.index("client_ref").openCursor(IDBKeyRange.only(ref));
        request.onsuccess = () => {
          const cursor = request.result;
          if (!cursor || taken.length >= max) {
            done(taken);
            return;
          }
          taken.push(cursor.value.point);
          cursor.delete();
          cursor.continue();
        };
      }),
    countPoints: (ref) =>
      transact(["trail"], "readonly", (s, done) => {
        const request = s.trail.index("client_ref").count(IDBKeyRange.only(ref));
        request.onsuccess = () => done(request.result || 0);
      }),
    dropPoints: (ref) =>
      transact(["trail"], "readwrite", (s) => {
        const request = s.trail.index("client_ref").openCursor(IDBKeyRange.only(ref));
        request.onsuccess = () => {
          const cursor = request.result;
          if (cursor) {
            cursor.delete();
            cursor.continue();
          }
        };
      }),
  };

  const memoryBackend = {
    putPanic: (record) => Promise.resolve(void memory.panic.set(record.client_ref, JSON.parse(JSON.stringify(record)))),
    getPanic: (ref) => Promise.resolve(memory.panic.has(ref) ? JSON.parse(JSON.stringify(memory.panic.get(ref))) : null),
    allPanics: () => Promise.resolve(Array.from(memory.panic.values(), (r) => JSON.parse(JSON.stringify(r)))),
    addPoints: (ref, points) => {
      for (const point of points) memory.trail.push({ id: memory.nextId++, client_ref: ref, point });
      return Promise.resolve();
    },
    takePoints: (ref, max) => {
      const taken = memory.trail.filter((e) => e.client_ref === ref).slice(0, max);
      const ids = new Set(taken.map((e) => e.id));
      memory.trail = memory.trail.filter((e) => !ids.has(e.id));
      return Promise.resolve(taken.map((e) => e.point));
    },
    countPoints: (ref) => Promise.resolve(memory.trail.filter((e) => e.client_ref === ref).length),
    dropPoints: (ref) => {
      memory.trail = memory.trail.filter((e) => e.client_ref !== ref);
      return Promise.resolve();
    },
  };

  let backend = null;

  /** IndexedDB when it opens, otherwise memory; decided once. */
  function store() {
    if (!backend) {
      backend = openDb().then(
        () => idbBackend,
        (err) => {
          console.warn("SOS queue kept in memory only:", err);
          return memoryBackend;
        }
      );
    }
    return backend;
  }

  const call = (name, ...args) => store().then((b) => b[name](...args));

  // --- sending ------------------------------------------------------------------------

  async function post(url, body, csrf) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    let response;
    try {
      response = await scope.fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      return { network: true, status: 0, body: null };
    }
    const data = await response.json().catch(() => null);
    return { network: false, status: response.status, ok: response.ok, body: data };
  }

  /** Failures worth retrying later: no network, a timeout, rate limits, server errors. */
  function retryable(result) {
    return result.network || result.status === 408 || result.status === 429 || result.status >= 500;
  }

  function errorOf(result) {
    const error = (result.body && result.body.error) || {};
    return { status: result.status, code: error.code || "http_" + result.status, field: error.field || null, message: error.message || "" };
  }

  async function sendPanic(record) {
    const result = await post(PANIC_URL, record.body, record.csrf);
    if (result.ok) {
      record.state = result.body;
      record.sent_at = new Date().toISOString();
      record.error = null;
    } else if (!retryable(result)) {
      // The server refused the SOS itself (e.g. an impossible position): it never will
      // take it, so the page must tell the person to call 191.
      record.error = errorOf(result);
      record.ended = true;
    } else {
      return false;
    }
    await call("putPanic", record);
    return true;
  }

  async function sendTrail(record) {
    const code = record.state.tracking_code;
    for (;;) {
      const points = await call("takePoints", record.client_ref, MAX_BATCH);
      if (!points.length) return true;
      const url = PANIC_URL + "/" + encodeURIComponent(code) + "/trail";
      const result = await post(url, { points }, record.csrf);
      if (result.ok) {
        record.state = result.body;
        await call("putPanic", record);
        continue;
      }
      if (retryable(result)) {
        await call("addPoints", record.client_ref, points);
        return false;
      }
      const error = errorOf(result);
      if (result.status === 409 && !(error.field || "").startsWith("points")) {
        // The SOS has ended (cancelled, resolved or closed): the trail is closed.
        record.state = Object.assign({}, record.state, { active: false });
        await call("putPanic", record);
        await call("dropPoints", record.client_ref);
        return true;
      }
      // A batch the server cannot take (a point with a wrong clock): drop it, go on.
      console.warn("SOS trail points refused", error);
    }
  }

  /**
   * Send everything waiting. Resolves to {pending}: true when something could not be sent
   * for lack of a connection (Background Sync then retries later).
   */
  async function flush() {
    let pending = false;
    const records = await call("allPanics");
    for (const record of records) {
      if (record.ended) continue;
      if (!record.state) {
        const done = await sendPanic(record);
        if (!done) {
          pending = true;
          continue;
        }
      }
      if (record.state && record.state.active) {
        const done = await sendTrail(record);
        if (!done) pending = true;
      }
    }
    return { pending };
  }

  const api = {
    SYNC_TAG,
    /** Queue a new SOS (nothing is sent yet): body = {lat, lon, accuracy_m, client_ref}. */
    queue(body, csrf) {
      const record = {
        client_ref: body.client_ref,
        body,
        csrf: csrf || "",
        queued_at: new Date().toISOString(),
        state: null,
        ended: false,
        error: null,
      };
      return call("putPanic", record).then(() => record);
    },
    get: (ref) => call("getPanic", ref),
    save: (record) => call("putPanic", record),
    addPoint: (ref, point) => call("addPoints", ref, [point]),
    pendingPoints: (ref) => call("countPoints", ref),
    /** Stop sending anything for this SOS (ended, or dismissed by the person). */
    async end(ref) {
      const record = await call("getPanic", ref);
      if (record) {
        record.ended = true;
        await call("putPanic", record);
      }
      await call("dropPoints", ref);
    },
    flush,
  };

  scope.SZSosQueue = api;
})(self);
