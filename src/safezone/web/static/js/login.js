/* Sign-in: posts the form to /api/v1/auth/session (which sets the session and CSRF
 * cookies), then goes to ?next= or the role's home page. */
(function () {
  "use strict";

  const { api, busy, showErrors, clearErrors, safeNext, t, onReady } = window.SZ;
  const STAFF = ["officer", "operator", "commander", "admin"];

  onReady(() => {
    const form = document.getElementById("login-form");
    const button = form.querySelector("button[type=submit]");
    let lockedUntil = 0;
    let timer = null;

    function countdown() {
      const left = Math.ceil((lockedUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(timer);
        timer = null;
        button.disabled = false;
        button.removeAttribute("title");
        return;
      }
      button.disabled = true;
      button.title = t("login.retry_in", { s: left });
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (Date.now() < lockedUntil) return;
      clearErrors(form);
      const data = new URLSearchParams(new FormData(form));
      try {
        const me = await busy(button, () => api("/api/v1/auth/session", { method: "POST", form: data }));
        const home = STAFF.includes(me.role) ? "/dashboard" : "/app";
        window.location.assign(safeNext(form.dataset.next) || home);
      } catch (err) {
        if (!(err instanceof window.SZ.ApiError)) throw err;
        // Wrong password names the password field; say it under the form for both inputs.
        showErrors(form, { message: err.message, field: null, details: [] });
        if (err.status === 401) form.querySelector("[name=password]").select();
        if (err.status === 429 && err.retryAfter) {
          lockedUntil = Date.now() + err.retryAfter * 1000;
          if (!timer) timer = setInterval(countdown, 1000);
          countdown();
        }
      }
    });
  });
})();
