"""The dashboard map's background: tiles from the configured server when it answers;
when it cannot be reached, zones and markers are still drawn on a plain background with
a note saying so."""

from __future__ import annotations

from typing import Any

import pytest

from safezone.config import Settings
from tests.conftest import LiveServer
from tests.e2e.support import DESKTOP, LIVE_MS, expect, sign_in, skip_without_browser, watch_errors

skip_without_browser()

pytestmark = pytest.mark.e2e

# Port 9 (discard) on loopback: nothing listens, so every tile fails at once.
DEAD_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
# Any same-origin image works as a tile.
LOCAL_TILES = "/static/icons/icon-192.png?z={z}&x={x}&y={y}"


def open_dashboard(live_server: LiveServer, browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, live_server.url, "commander")
    expect(page.locator("#map path.sz-zone")).to_have_count(1)
    return context, page, errors


class TestUnreachableTileServer:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"tile_url": DEAD_TILES, "tile_attribution": "Dead"})

    def test_zones_are_drawn_on_a_plain_background(
        self, live_server: LiveServer, browser: Any
    ) -> None:
        context, page, errors = open_dashboard(live_server, browser)
        expect(page.locator("#sz-dashboard")).to_have_attribute("data-tile-url", DEAD_TILES)
        expect(page.locator("#tile-note")).to_be_visible(timeout=LIVE_MS)
        expect(page.locator("#map.no-tiles")).to_be_visible()
        # The view is fitted to the zone: its outline is on screen.
        zone = page.locator("#map path.sz-zone").bounding_box()
        frame = page.locator("#map").bounding_box()
        assert zone and frame
        assert zone["width"] > 100 and zone["height"] > 100
        assert frame["x"] <= zone["x"] <= zone["x"] + zone["width"] <= frame["x"] + frame["width"]
        assert frame["y"] <= zone["y"] <= zone["y"] + zone["height"] <= frame["y"] + frame["height"]
        expect(page.locator(".leaflet-control-attribution")).to_contain_text("Dead")
        assert not errors, errors
        context.close()


class TestWorkingTileServer:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"tile_url": LOCAL_TILES, "tile_attribution": "Local"})

    def test_tiles_are_shown_and_no_note(self, live_server: LiveServer, browser: Any) -> None:
        context, page, errors = open_dashboard(live_server, browser)
        expect(page.locator("#map img.leaflet-tile-loaded").first).to_be_visible(timeout=LIVE_MS)
        expect(page.locator("#tile-note")).to_be_hidden()
        expect(page.locator("#map.no-tiles")).to_have_count(0)
        assert not errors, errors
        context.close()
