"""The dashboard map draws every camera's view cone; clicking a place lists the cameras
that see it and, once the operator has given a reason, shows their current pictures
(from the simulated cameras), each viewing audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.cameras.simulator import Simulator
from tests.conftest import LiveServer, register_camera
from tests.e2e.support import DESKTOP, LIVE_MS, expect, sign_in, skip_without_browser, watch_errors

skip_without_browser()

pytestmark = pytest.mark.e2e

LAT, LON = 16.5440, 104.7280


def _views(db: Any) -> list[tuple[str, str, str]]:
    with db.reader() as session:
        return [
            (e.actor, e.object_id, e.payload["reason"])
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "camera.live_viewed")
                .order_by(AuditEntry.seq)
            )
        ]


@pytest.fixture
def cameras(db: Any) -> Any:
    with Simulator(2, http_port=0, fps=5) as simulator:
        for camera_id, bearing, number in (("CAM-N", 0.0, 1), ("CAM-E", 90.0, 2)):
            register_camera(
                db,
                camera_id,
                snapshot_url=simulator.snapshot_url(number),
                lat=LAT,
                lon=LON,
                bearing_deg=bearing,
                range_m=80.0,
            )
        yield simulator


def test_cones_and_the_pictures_of_a_clicked_place(
    live_server: LiveServer, browser: Any, db: Any, cameras: Any
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, live_server.url, "operator")
    cones = page.locator("#map path.sz-view-cone")
    expect(cones).to_have_count(2, timeout=LIVE_MS)
    expect(page.locator('#map path.sz-view-cone[data-camera-id="CAM-N"]')).to_have_count(1)

    north = page.locator('#map path.sz-view-cone[data-camera-id="CAM-N"]').bounding_box()
    assert north is not None
    # The middle of the north cone's upper part is inside the north cone only.
    page.mouse.click(north["x"] + north["width"] / 2, north["y"] + north["height"] * 0.3)

    # The cameras are listed; no picture is fetched before the operator gives a reason.
    expect(page.locator("#place-cameras")).to_be_visible(timeout=LIVE_MS)
    items = page.locator("#place-list li")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-camera-id", "CAM-N")
    expect(page.locator("#place-need-reason")).to_be_visible()
    expect(page.locator("#place-list img.place-image:visible")).to_have_count(0)
    assert _views(db) == []

    page.locator("#place-reason").fill("ตรวจสอบพื้นที่ / area check")
    page.locator("#place-reason-form button[type=submit]").click()
    image = page.locator('#place-list li[data-camera-id="CAM-N"] img.place-image')
    expect(image).to_be_visible(timeout=LIVE_MS)
    width = page.evaluate(
        "() => document.querySelector('#place-list img.place-image').naturalWidth"
    )
    assert width == 640  # the simulator's picture
    assert _views(db) == [("user:operator", "CAM-N", "ตรวจสอบพื้นที่ / area check")]

    # With the reason given, another place shows its pictures at once.
    east = page.locator('#map path.sz-view-cone[data-camera-id="CAM-E"]').bounding_box()
    assert east is not None
    page.mouse.click(east["x"] + east["width"] * 0.7, east["y"] + east["height"] / 2)
    expect(page.locator('#place-list li[data-camera-id="CAM-E"] img.place-image')).to_be_visible(
        timeout=LIVE_MS
    )
    expect(page.locator("#place-list li")).to_have_count(1)
    assert [view[1] for view in _views(db)] == ["CAM-N", "CAM-E"]
    assert not errors, errors
    context.close()
