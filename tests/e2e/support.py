"""Helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import INSIDE, PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LIVE_MS = 10_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def skip_without_browser() -> None:
    """Skip the calling test module when Debian's Chromium or Playwright is missing.

    With SAFEZONE_REQUIRE_BROWSER=1 (as CI sets) a missing browser is an error instead,
    so that CI cannot pass by skipping the browser tests.
    """
    missing = None
    if not CHROMIUM.exists():
        missing = f"Debian chromium is not installed at {CHROMIUM}"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing is None:
        return
    if os.environ.get("SAFEZONE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(missing + ", and SAFEZONE_REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(missing, allow_module_level=True)


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def watch_errors(page: Any) -> list[str]:
    """Collect uncaught script errors (a broken script must fail the test)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def sign_in(page: Any, base: str, username: str, *, page_path: str = "/dashboard") -> None:
    """Open a staff page, get sent to /login, sign in there and land back on the page."""
    page.goto(base + page_path)
    expect(page).to_have_url(re.compile(r"/login\?next=%2F" + page_path[1:] + "$"))
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base + page_path) + r"(#.*)?$"))


def api_post(base: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        base + path, headers={"Authorization": f"Bearer {token}"}, json=body, timeout=10
    )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def screenshot(page: Any, name: str) -> None:
    """Only with SAFEZONE_SCREENSHOTS=1: pictures for the README."""
    if os.environ.get("SAFEZONE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name))


def seed_scene(base: str, token_for: Callable[[str], str]) -> None:
    """Two cameras on one pole (one facing the report spot), a box, a checkpoint and two
    open incidents."""
    admin = token_for("admin")
    lat, lon = INSIDE
    api_post(base, admin, "/api/v1/cameras", {
        "id": "CAM-T-1", "pole_id": "POLE-T-1", "name": "ประตูตลาด",
        "lat": lat - 0.0005, "lon": lon, "bearing_deg": 0, "fov_deg": 90, "range_m": 120,
    })  # fmt: skip
    api_post(base, admin, "/api/v1/cameras", {
        "id": "CAM-T-2", "pole_id": "POLE-T-1", "lat": lat - 0.0005, "lon": lon,
        "bearing_deg": 180, "fov_deg": 90, "range_m": 120,
    })  # fmt: skip
    api_post(base, admin, "/api/v1/sos-boxes", {
        "id": "SOS-T-1", "name": "ตู้ท่าเรือ", "lat": lat + 0.002, "lon": lon + 0.001,
    })  # fmt: skip
    api_post(base, admin, "/api/v1/checkpoints", {
        "id": "CP-T-1", "name": "จุดตรวจลานจอดรถ", "lat": lat - 0.002, "lon": lon - 0.001,
    })  # fmt: skip
    commander = token_for("commander")
    first = api_post(base, commander, "/api/v1/incidents", {
        "category": "theft", "priority": "medium", "title": "",
        "description": "กระเป๋าถูกขโมย", "lat": lat + 0.001, "lon": lon - 0.0015,
    })  # fmt: skip
    for status in ("acknowledged", "dispatched"):
        api_post(
            base, commander, f"/api/v1/incidents/{first['id']}/transitions", {"status": status}
        )
    api_post(base, commander, "/api/v1/incidents", {
        "category": "traffic", "priority": "low", "title": "",
        "description": "รถจอดขวางทาง", "lat": lat - 0.001, "lon": lon + 0.0012,
    })  # fmt: skip
