"""Names people typed (a house's address, a checkpoint's name, a report's title) reach map
tooltips: they are shown as text, never parsed as markup."""

from __future__ import annotations

from typing import Any

from tests.conftest import LiveServer
from tests.e2e.support import DESKTOP, LIVE_MS, expect, sign_in, watch_errors

TYPED = '<img src="/nowhere.png" class="injected">Somchai<b>!</b>'


def test_tooltips_show_typed_names_as_text(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, live_server.url, "operator", page_path="/dashboard")
    expect(page.locator("#map .leaflet-pane").first).to_be_attached(timeout=LIVE_MS)
    shown = page.evaluate(
        """(typed) => {
            const box = document.createElement("div");
            document.body.appendChild(box);
            const map = L.map(box).setView([16.54, 104.72], 15);
            const marker = L.marker([16.54, 104.72]).addTo(map);
            const out = [];
            for (const content of [typed, () => typed]) {
                marker.bindTooltip(content, { permanent: true }).openTooltip();
                const node = marker.getTooltip().getElement();
                out.push({ text: node.textContent, images: node.querySelectorAll("img").length });
                marker.unbindTooltip();
            }
            return out;
        }""",
        TYPED,
    )
    assert shown == [{"text": TYPED, "images": 0}, {"text": TYPED, "images": 0}]
    assert page.locator("img.injected").count() == 0
    assert not errors, errors
    context.close()
