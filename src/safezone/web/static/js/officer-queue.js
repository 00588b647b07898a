/* The officer app's offline queue of checkpoint scans (localStorage "sz_officer_queue").
 *
 * A scan that cannot be sent (no connection, the server unreachable or failing, the
 * session expired) is kept here exactly as it was taken: the code, the GPS fix and its
 * accuracy, the device id and the original scanned_at. flush() sends the waiting scans
 * in the order they were taken; the server judges them by their own scanned_at (a scan
 * delivered hours later is flagged late_sync; see ADR 0011), so the queue never changes
 * a scan's time.
 *
 * What each send does to a queued scan:
 * - an answer (accepted, flagged or rejected): taken out, the verdict reported;
 * - no connection, a 5xx, 401 (sign in again) or 429: kept, and flush() stops there;
 * - any other 4xx (the scan itself is malformed and never will be accepted): taken out
 *   and reported as failed, with the server's message.
 *
 * Each scan is kept with the officer who took it (`owner`, the user id) and is only ever
 * sent in that officer's session: on a shared phone, officer B signing in never sends
 * officer A's scans as B's.
 *
 * Only one tab sends at a time (Web Locks where present), so a scan is not sent twice
 * by two open tabs (the second copy would be judged a replay).
 */
(function () {
  "use strict";

  const SZ = (window.SZ = window.SZ || {});
  const KEY = "sz_officer_queue";
  const LOCK = "sz-officer-queue";
  const CHECKIN_URL = "/api/v1/patrol/checkins";
  const KEEP_MAX = 500;
  let memory = [];
  let storageWorks = true;

  function read() {
    if (!storageWorks) return memory.slice();
    try {
      const items = JSON.parse(window.localStorage.getItem(KEY) || "[]");
      return Array.isArray(items) ? items.filter((i) => i && i.id && i.body) : [];
    } catch (err) {
      storageWorks = false;
      return memory.slice();
    }
  }

  function write(items) {
    memory = items.slice();
    if (!storageWorks) return;
    try {
      window.localStorage.setItem(KEY, JSON.stringify(items));
    } catch (err) {
      // Private mode or a full store: the queue lives in this page only.
      storageWorks = false;
    }
  }

  /** `owner`'s scans waiting to be sent, oldest first:
   * [{id, owner, body, queued_at, last_error}]. */
  function list(owner) {
    return read().filter((i) => i.owner === owner);
  }

  /** Keep `owner`'s scan to send later. `body` is the check-in exactly as it would be sent. */
  function add(owner, body, reason) {
    const items = read();
    if (items.length >= KEEP_MAX) throw new Error("the offline queue is full");
    const item = { id: SZ.randomId(), owner, body, queued_at: new Date().toISOString(), last_error: reason || null };
    items.push(item);
    write(items);
    return item;
  }

  function remove(id) {
    write(read().filter((i) => i.id !== id));
  }

  function note(id, error) {
    write(read().map((i) => (i.id === id ? Object.assign({}, i, { last_error: error }) : i)));
  }

  /** True when this failure means "try again later" rather than "this scan is bad". */
  function retryable(err) {
    return err.status === 0 || err.status === 401 || err.status === 429 || err.status >= 500;
  }

  async function sendAll(owner, onResult) {
    const summary = { sent: 0, failed: 0, pending: 0, stoppedBy: null };
    for (const item of list(owner)) {
      try {
        const result = await SZ.api(CHECKIN_URL, { method: "POST", json: item.body });
        remove(item.id);
        summary.sent += 1;
        onResult({ item, result, error: null });
      } catch (err) {
        if (!(err instanceof SZ.ApiError)) throw err;
        if (retryable(err)) {
          note(item.id, err.code);
          summary.stoppedBy = err;
          break;
        }
        remove(item.id);
        summary.failed += 1;
        onResult({ item, result: null, error: err });
      }
    }
    summary.pending = list(owner).length;
    return summary;
  }

  let running = null;

  /** Send `owner`'s waiting scans (the signed-in officer's). `onResult({item, result,
   * error})` is called for each scan that leaves the queue. Resolves to {sent, failed,
   * pending, stoppedBy}. */
  function flush(owner, onResult) {
    const report = onResult || (() => undefined);
    if (running) return running;
    const work = () => sendAll(owner, report);
    running = (navigator.locks && navigator.locks.request ? navigator.locks.request(LOCK, work) : work()).finally(() => {
      running = null;
    });
    return running;
  }

  SZ.officerQueue = { list, add, remove, flush, retryable, KEY };
})();
