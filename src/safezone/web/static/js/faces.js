/* The face-match review queue: every match from the cameras waits here until an operator
 * confirms or rejects it (nothing is dispatched before). The list reloads when the
 * event stream announces a `faces.review` event. Viewing each evidence image is audited
 * by the server.
 */
(function () {
  "use strict";

  const SZ = window.SZ;
  const { h, tr, api, time } = SZ;
  const t = SZ.t;

  function pct(value) {
    return (value * 100).toFixed(1) + " %";
  }

  function flash(message) {
    const el = document.getElementById("faces-flash");
    el.textContent = message;
    el.hidden = false;
  }

  function item(match) {
    const note = h("input", { name: "note", type: "text", maxlength: "2000" });
    const decide = (decision) => async (event) => {
      const button = event.currentTarget;
      try {
        await SZ.busy(button, () =>
          api("/api/v1/faces/matches/" + match.id + "/decision", {
            method: "POST",
            json: { decision, note: note.value },
          })
        );
        flash(t(decision === "confirm" ? "faces.confirmed" : "faces.rejected", { id: match.id }));
        load();
      } catch (err) {
        flash(err.message);
      }
    };
    const evidence = "/api/v1/faces/matches/" + match.id;
    const enrolled = match.enrolment_photo_id
      ? h("img", {
          class: "faces-enrolled",
          src: "/api/v1/faces/watchlist/" + match.entry_id + "/photos/" + match.enrolment_photo_id,
          alt: t("faces.enrolled_alt"),
          width: "160",
        })
      : null;
    return h(
      "li",
      { class: "faces-item card", dataset: { matchId: String(match.id) } },
      h(
        "div",
        { class: "faces-pair" },
        h("img", {
          class: "faces-crop",
          src: evidence + "/crop.jpg",
          alt: t("faces.crop_alt", { camera: match.camera_id }),
          width: "160",
        }),
        enrolled
      ),
      h(
        "dl",
        { class: "faces-facts" },
        h("dt", { i18n: "faces.camera" }),
        h("dd", { text: match.camera_id }),
        h("dt", { i18n: "faces.person" }),
        h("dd", { text: match.person_name ? match.person_name + " (" + match.person_id + ")" : match.person_id }),
        h("dt", { i18n: "faces.category" }),
        h("dd", { i18n: "faces.cat." + match.category }),
        h("dt", { i18n: "faces.similarity" }),
        h("dd", { text: pct(match.similarity) }),
        h("dt", { i18n: "faces.votes" }),
        h("dd", { text: String(match.votes) }),
        h("dt", { i18n: "faces.seen" }),
        h("dd", {}, time(match.seen_at))
      ),
      h("a", { href: evidence + "/frame.jpg", target: "_blank", rel: "noopener", i18n: "faces.frame_link" }),
      h("div", { class: "field" }, h("label", { i18n: "faces.note" }), note),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "btn btn-primary", "data-decision": "confirm", onclick: decide("confirm"), i18n: "faces.confirm" }),
        h("button", { type: "button", class: "btn", "data-decision": "reject", onclick: decide("reject"), i18n: "faces.reject" })
      )
    );
  }

  function falseTable(rows) {
    const table = document.getElementById("faces-false");
    const head = h(
      "tr",
      {},
      ["faces.camera", "faces.matches", "faces.confirmed_n", "faces.rejected_n", "faces.rate"].map(
        (key) => h("th", {}, tr(key))
      )
    );
    const body = rows.map((r) =>
      h(
        "tr",
        {},
        h("td", { text: r.camera_id }),
        h("td", { text: String(r.matches) }),
        h("td", { text: String(r.confirmed) }),
        h("td", { text: String(r.rejected) }),
        h("td", { text: r.false_match_rate === null ? "–" : pct(r.false_match_rate) })
      )
    );
    table.replaceChildren(h("thead", {}, head), h("tbody", {}, body));
  }

  async function load() {
    try {
      const [pending, report] = await Promise.all([
        api("/api/v1/faces/matches?status=pending"),
        api("/api/v1/faces/false-matches"),
      ]);
      document.getElementById("faces-queue").replaceChildren(...pending.map(item));
      document.getElementById("faces-empty").hidden = pending.length > 0;
      falseTable(report);
    } catch (err) {
      flash(err.message);
    }
  }

  SZ.onReady(() => {
    if (!document.getElementById("sz-faces")) return;
    load();
    const source = new EventSource("/api/v1/events/stream");
    source.addEventListener("faces.review", () => load());
  });
})();
