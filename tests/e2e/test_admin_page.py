"""Browser test of /admin: registry CRUD, the SOS secret shown once, errors next to the
field the API names, users, and GeoJSON import/export."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.support import DESKTOP, LIVE_MS, expect, sign_in, skip_without_browser, watch_errors

skip_without_browser()

pytestmark = pytest.mark.e2e


def row(page: Any, key: str) -> Any:
    return page.locator(f'#admin-table tbody tr[data-key="{key}"]')


def field_error(page: Any, name: str) -> Any:
    return page.locator(f"#admin-form .field:has(#field-{name}) .field-error")


def test_admin_manages_the_registry_and_users(live_server: LiveServer, browser: Any) -> None:
    base = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = watch_errors(page)
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "admin", page_path="/admin")
    expect(page.locator("#tab-zones")).to_have_attribute("aria-selected", "true")
    expect(row(page, "ZONE-MARKET")).to_be_visible()
    expect(page.locator("#admin-map path.sz-zone")).to_have_count(1)

    # A new SOS box: the position comes from a click on the map, the secret is shown once.
    page.click("#tab-sos_boxes")
    expect(page).to_have_url(re.compile(r"/admin#sos_boxes$"))
    page.fill("#field-id", "SOS-NEW")
    page.fill("#field-name", "ตู้หน้าวัด")
    page.click("#admin-map", position={"x": 150, "y": 120})
    expect(page.locator("#field-lat")).to_have_value(re.compile(r"^\d+\.\d{6}$"))
    expect(page.locator("#field-lon")).to_have_value(re.compile(r"^\d+\.\d{6}$"))
    page.click("#admin-form button[type=submit]")
    secret = page.locator("#admin-secret .secret-value")
    expect(secret).to_have_text(re.compile(r"^\S{16,}$"), timeout=LIVE_MS)
    expect(page.locator("#admin-secret .secret-title")).to_contain_text("SOS-NEW")
    expect(row(page, "SOS-NEW")).to_be_visible()
    expect(page.locator('#admin-map .sz-sos-marker[data-id="SOS-NEW"]')).to_be_visible()
    boxes = page.request.get(f"{base}/api/v1/sos-boxes").json()
    assert [b["id"] for b in boxes] == ["SOS-NEW"]
    assert "secret" not in boxes[0]
    page.click("[data-dismiss-secret]")
    expect(page.locator("#admin-secret")).to_be_hidden()
    expect(secret).to_have_text("")

    # The API's error appears next to the field it names; nothing is created.
    page.click("#tab-cameras")
    page.fill("#field-id", "CAM-X")
    page.fill("#field-pole_id", "POLE-X")
    page.fill("#field-lat", "95")
    page.fill("#field-lon", "104.728")
    page.click("#admin-form button[type=submit]")
    expect(field_error(page, "lat")).to_be_visible()
    expect(page.locator("#field-lat")).to_have_attribute("aria-invalid", "true")
    expect(row(page, "CAM-X")).to_have_count(0)
    page.fill("#field-lat", "16.544")
    page.click("#admin-form button[type=submit]")
    expect(row(page, "CAM-X")).to_be_visible()
    expect(page.locator("#admin-flash")).to_contain_text("CAM-X")
    expect(field_error(page, "lat")).to_have_count(0)

    # A duplicate id is refused with the message on the id field.
    page.fill("#field-id", "CAM-X")
    page.fill("#field-pole_id", "POLE-X")
    page.fill("#field-lat", "16.544")
    page.fill("#field-lon", "104.728")
    page.click("#admin-form button[type=submit]")
    expect(field_error(page, "id")).to_contain_text("already exists")

    # Edit, then delete.
    row(page, "CAM-X").get_by_role("button", name="แก้ไข").click()
    expect(page.locator("#field-id")).to_have_attribute("readonly", "")
    page.fill("#field-name", "กล้องทดสอบ")
    page.click("#admin-form button[type=submit]")
    expect(row(page, "CAM-X")).to_contain_text("กล้องทดสอบ")
    row(page, "CAM-X").get_by_role("button", name="ลบ").click()
    expect(row(page, "CAM-X")).to_have_count(0)
    assert page.request.get(f"{base}/api/v1/cameras").json() == []

    # Users: create one, refuse a taken name, deactivate.
    page.click("#tab-users")
    page.fill("#field-username", "patrol7")
    page.fill("#field-display_name", "ส.ต.ต. ทดสอบ")
    page.fill("#field-password", "long-enough-password")
    page.select_option("#field-role", "officer")
    page.click("#admin-form button[type=submit]")
    expect(row(page, "patrol7")).to_contain_text("เจ้าหน้าที่สายตรวจ")
    page.fill("#field-username", "patrol7")
    page.fill("#field-password", "long-enough-password")
    page.click("#admin-form button[type=submit]")
    expect(field_error(page, "username")).to_contain_text("taken")
    row(page, "patrol7").get_by_role("button", name="ระงับ").click()
    expect(row(page, "patrol7").get_by_role("button", name="เปิดใช้")).to_be_visible()
    users = {u["username"]: u for u in page.request.get(f"{base}/api/v1/users").json()}
    assert users["patrol7"]["active"] is False

    # GeoJSON: import a checkpoint from a file, then export it.
    page.click("#tab-geojson")
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [104.7281, 16.5441]},
                "properties": {"kind": "checkpoint", "id": "CP-IMP", "name": "นำเข้า"},
            }
        ],
    }
    page.set_input_files(
        "#import-file",
        files=[
            {
                "name": "registry.geojson",
                "mimeType": "application/geo+json",
                "buffer": json.dumps(collection).encode(),
            }
        ],
    )
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-form .form-ok")).to_contain_text("1")
    page.set_input_files(
        "#import-file",
        files=[{"name": "bad.geojson", "mimeType": "application/json", "buffer": b"{nope"}],
    )
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-form .field-error")).to_be_visible()
    href = page.locator("#export-link").get_attribute("href")
    exported = page.request.get(base + href).json()
    ids = {f["properties"]["id"] for f in exported["features"]}
    assert {"ZONE-MARKET", "SOS-NEW", "CP-IMP"} <= ids

    page.click("#tab-checkpoints")
    expect(row(page, "CP-IMP")).to_be_visible()
    assert not errors, errors
    context.close()
