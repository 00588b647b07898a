/* Thai / English strings for the pages' scripts.
 *
 * The page embeds static/i18n.json in <script id="sz-i18n">. Elements carrying
 * data-i18n="key" (text), data-i18n-placeholder, data-i18n-title or data-i18n-aria-label
 * are re-translated in place when the language changes, and <time data-ts> elements are
 * re-formatted, so switching language keeps whatever the user has typed or opened.
 */
(function () {
  "use strict";

  const SZ = (window.SZ = window.SZ || {});
  const LANGS = ["th", "en"];
  const COOKIE = "sz_lang";
  const catalog = JSON.parse(document.getElementById("sz-i18n").textContent);
  let lang = LANGS.includes(document.documentElement.lang) ? document.documentElement.lang : "th";

  function fill(text, params) {
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole
    );
  }

  /** The string for `key` in the current language, with {name} placeholders filled. */
  function t(key, params) {
    const text = (catalog[lang] && catalog[lang][key]) || catalog.th[key] || key;
    return fill(text, params);
  }

  /** True if `key` exists (used to fall back to raw values, e.g. unknown timeline actions). */
  function has(key) {
    return Boolean(catalog.th[key]);
  }

  const formatters = {};
  function formatter(kind) {
    const id = lang + ":" + kind;
    if (!formatters[id]) {
      const locale = lang === "th" ? "th-TH" : "en-GB";
      const options =
        kind === "short"
          ? { timeZone: "Asia/Bangkok", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }
          : { timeZone: "Asia/Bangkok", dateStyle: "medium", timeStyle: "short" };
      formatters[id] = new Intl.DateTimeFormat(locale, options);
    }
    return formatters[id];
  }

  /** Parse an API timestamp; a value without a zone is UTC. */
  function parseTime(iso) {
    if (!iso) return null;
    const text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + "Z";
    const date = new Date(text);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function formatTime(iso, kind) {
    const date = parseTime(iso);
    return date ? formatter(kind || "long").format(date) : "";
  }

  function params(el) {
    const raw = el.getAttribute("data-i18n-params");
    if (!raw) return undefined;
    try {
      return JSON.parse(raw);
    } catch (err) {
      return undefined;
    }
  }

  /** Translate every marked element under `root` into the current language. */
  function apply(root) {
    const scope = root || document;
    scope.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.getAttribute("data-i18n"), params(el));
    });
    for (const attr of ["placeholder", "title", "aria-label"]) {
      scope.querySelectorAll("[data-i18n-" + attr + "]").forEach((el) => {
        el.setAttribute(attr, t(el.getAttribute("data-i18n-" + attr)));
      });
    }
    const title = document.querySelector("title[data-i18n-page-title]");
    if (title && scope === document) {
      const key = title.getAttribute("data-i18n-page-title");
      document.title = (key ? t(key) + " · " : "") + t("app.name");
    }
    scope.querySelectorAll("time[data-ts]").forEach((el) => {
      el.textContent = formatTime(el.getAttribute("data-ts"), el.getAttribute("data-format"));
    });
  }

  /** Switch language in place: cookie, <html lang>, every marked element, then tell pages. */
  function setLang(next) {
    if (!LANGS.includes(next) || next === lang) return;
    lang = next;
    document.cookie = COOKIE + "=" + next + "; path=/; max-age=31536000; samesite=lax";
    document.documentElement.lang = next;
    apply(document);
    document.querySelectorAll(".lang-toggle [data-lang]").forEach((a) => {
      if (a.getAttribute("data-lang") === next) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    });
    document.dispatchEvent(new CustomEvent("sz:lang", { detail: { lang: next } }));
  }

  SZ.t = t;
  SZ.i18n = { t, has, apply, setLang, lang: () => lang, formatTime, parseTime };
})();
