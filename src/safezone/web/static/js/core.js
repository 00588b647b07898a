/* Shared helpers for every page: building DOM safely, calling the JSON API with the
 * session cookie and CSRF token, showing API errors, and the header's controls
 * (language toggle, sign-out).
 */
(function () {
  "use strict";

  const SZ = (window.SZ = window.SZ || {});
  const t = SZ.t;

  /**
   * Create an element. `attrs` may hold: class, text, i18n (a message key, kept in
   * data-i18n so the text follows the language), dataset, on<Event> handlers, and any
   * other attribute. Children are nodes or strings (inserted as text, never as HTML).
   */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = value;
      else if (name === "i18n") {
        el.setAttribute("data-i18n", value);
        el.textContent = t(value);
      } else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (value === true) el.setAttribute(name, "");
      else el.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** A <span> whose text is the translation of `key` (and follows language changes). */
  function tr(key, attrs) {
    return h("span", Object.assign({ i18n: key }, attrs || {}));
  }

  /** A <time> element showing `iso` in Bangkok time in the current language. */
  function time(iso, format) {
    return h("time", {
      datetime: iso,
      "data-ts": iso,
      "data-format": format || "long",
      text: SZ.i18n.formatTime(iso, format),
    });
  }

  function cookie(name) {
    const prefix = name + "=";
    for (const part of document.cookie.split(";")) {
      const item = part.trim();
      if (item.startsWith(prefix)) return decodeURIComponent(item.slice(prefix.length));
    }
    return "";
  }

  /** An error from the API: status, message (for people), field, code, details. */
  class ApiError extends Error {
    constructor(status, body, headers, fallback) {
      const error = (body && body.error) || {};
      super(error.message || fallback || "HTTP " + status);
      this.status = status;
      this.code = error.code || (status === 0 ? "network" : "http_" + status);
      this.field = error.field || null;
      this.details = error.details || [];
      const retry = headers ? parseInt(headers.get("Retry-After") || "", 10) : NaN;
      this.retryAfter = Number.isFinite(retry) ? retry : null;
    }
  }

  /**
   * Call the API. Options: method, json (sent as JSON), form (URLSearchParams or
   * FormData), signal. Unsafe methods carry X-CSRF-Token from the sz_csrf cookie.
   * Resolves to the parsed body (null for 204); rejects with ApiError.
   */
  async function api(path, options) {
    const opts = options || {};
    const method = (opts.method || "GET").toUpperCase();
    const headers = new Headers({ Accept: "application/json" });
    let body;
    if (!["GET", "HEAD"].includes(method)) {
      const csrf = cookie("sz_csrf");
      if (csrf) headers.set("X-CSRF-Token", csrf);
    }
    if (opts.json !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(opts.json);
    } else if (opts.form !== undefined) {
      body = opts.form;
    }
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body,
        credentials: "same-origin",
        signal: opts.signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(0, null, null, t("common.network_error"));
    }
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    let data = null;
    if (type.includes("json")) data = await response.json().catch(() => null);
    else data = await response.text().catch(() => "");
    if (!response.ok) throw new ApiError(response.status, data, response.headers);
    return data;
  }

  /** A redirect target only if it is a path on this site. */
  function safeNext(value) {
    return typeof value === "string" && /^\/(?!\/)/.test(value) && !value.includes("\\")
      ? value
      : "";
  }

  /** Clear the error marks that showErrors() left on a form. */
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((el) => el.remove());
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const general = form.querySelector(".form-error");
    if (general) {
      general.hidden = true;
      general.textContent = "";
    }
  }

  /**
   * Show an ApiError on a form: next to the input named in error.field (and for each of
   * error.details), or in the form's .form-error line when no input matches.
   */
  function showErrors(form, error) {
    clearErrors(form);
    const items = error.details && error.details.length
      ? error.details.map((d) => ({ field: d.field, message: d.message }))
      : [{ field: error.field, message: error.message }];
    const unplaced = [];
    items.forEach((item, index) => {
      const name = item.field ? String(item.field).split(".")[0] : "";
      const input = name ? form.querySelector('[name="' + CSS.escape(name) + '"]') : null;
      if (!input) {
        unplaced.push(index === 0 ? error.message : item.field + ": " + item.message);
        return;
      }
      input.setAttribute("aria-invalid", "true");
      const note = h("p", { class: "field-error", role: "alert", text: item.message });
      const holder = input.closest(".field") || input.parentElement;
      holder.append(note);
      if (index === 0) input.focus();
    });
    if (unplaced.length) {
      const general = form.querySelector(".form-error");
      if (general) {
        general.textContent = unplaced.join(" ");
        general.hidden = false;
      }
    }
  }

  /** Disable a submit button while `work` runs, showing its data-busy-label. */
  async function busy(button, work) {
    const label = button.getAttribute("data-busy-label");
    const saved = Array.from(button.childNodes);
    button.disabled = true;
    if (label) button.replaceChildren(tr(label));
    try {
      return await work();
    } finally {
      button.disabled = false;
      if (label) button.replaceChildren(...saved);
      SZ.i18n.apply(button);
    }
  }

  /** A client-generated id (32 hex chars) for idempotent retries. */
  function randomId() {
    if (window.crypto && typeof crypto.randomUUID === "function") {
      return crypto.randomUUID().replace(/-/g, "");
    }
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  // Header: switch language in place (the link still works without JavaScript).
  onReady(() => {
    document.querySelectorAll(".lang-toggle [data-lang]").forEach((link) => {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        SZ.i18n.setLang(link.getAttribute("data-lang"));
      });
    });
    document.querySelectorAll("[data-logout]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await api("/api/v1/auth/logout", { method: "POST" });
        } catch (err) {
          // A session that has already expired is as good as signed out.
        }
        window.location.assign("/login");
      });
    });
  });

  Object.assign(SZ, { h, tr, time, cookie, api, ApiError, safeNext, showErrors, clearErrors, busy, randomId, onReady });
})();
