"""Browser test of /faces: the operator sees each queued match with its evidence, decides
it, and a new match appears without reloading the page."""

from __future__ import annotations

from typing import Any

import pytest

from safezone.core.db import Database
from safezone.faces.engine import FaceEngine
from tests.conftest import LiveServer
from tests.e2e.support import (
    DESKTOP,
    LIVE_MS,
    api_post,
    expect,
    screenshot,
    sign_in,
    skip_without_browser,
    watch_errors,
)
from tests.faces.test_watchlist import entry_body, queue

skip_without_browser()

pytestmark = pytest.mark.e2e


def test_operator_reviews_face_matches(
    app: Any,
    live_server: LiveServer,
    browser: Any,
    db: Database,
    settings: Any,
    token_for: Any,
) -> None:
    app.state.face_engine = FaceEngine()
    base = live_server.url
    entry = api_post(base, token_for("commander"), "/api/v1/faces/watchlist", entry_body())
    first = queue(db, settings, entry["id"], camera_id="CAM-POLE-3")
    queue(db, settings, entry["id"], camera_id="CAM-POLE-7")

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, base, "operator", page_path="/faces")
    items = page.locator("#faces-queue .faces-item")
    expect(items).to_have_count(2, timeout=LIVE_MS)
    crop = page.locator(f'.faces-item[data-match-id="{first}"] img.faces-crop')
    expect(page.locator(f'.faces-item[data-match-id="{first}"] img.faces-enrolled')).to_be_visible()
    expect(page.locator("#faces-queue")).to_contain_text("Somchai Example")
    expect(crop).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=crop.element_handle(), timeout=LIVE_MS
    )
    screenshot(page, "faces-review.png")

    item = page.locator(f'.faces-item[data-match-id="{first}"]')
    item.locator("input[name=note]").fill("different person: no scar")
    item.locator("[data-decision=reject]").click()
    expect(page.locator("#faces-flash")).to_contain_text(str(first), timeout=LIVE_MS)
    expect(items).to_have_count(1, timeout=LIVE_MS)
    expect(page.locator("#faces-false tbody tr")).to_have_count(2)
    expect(page.locator("#faces-false tbody")).to_contain_text("CAM-POLE-3")

    # A new match while the page is open arrives over the event stream.
    queue(db, settings, entry["id"], camera_id="CAM-POLE-9")
    expect(items).to_have_count(2, timeout=LIVE_MS)
    expect(page.locator("#faces-queue")).to_contain_text("CAM-POLE-9")
    assert errors == []
    context.close()
