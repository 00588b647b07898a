"""Helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import os
import re
import socket
import struct
import threading
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


class NetworkGate:
    """A TCP relay in front of the live server that a test can cut, as when a phone loses
    its connection: while shut, new connections are reset and open ones are cut.

    DevTools' offline emulation is set per target, so a service worker that Chromium starts
    or wakes in the middle of a test can reach the network before the emulation covers it;
    the gate holds for every client of the browser at once."""

    def __init__(self, port: int) -> None:
        self._upstream = ("127.0.0.1", port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open = True
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> NetworkGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shut()
        self._listener.close()

    def shut(self) -> None:
        with self._lock:
            self._open = False
            live, self._live = self._live, set()
        for sock in live:
            _reset(sock)

    def reopen(self) -> None:
        with self._lock:
            self._open = True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the gate was closed
            with self._lock:
                if not self._open:
                    _reset(client)
                    continue
                try:
                    upstream = socket.create_connection(self._upstream)
                except OSError:
                    _reset(client)
                    continue
                self._live |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        _reset(sink)


def _reset(sock: socket.socket) -> None:
    """Drop a connection with a TCP reset; the shutdown wakes a pump blocked reading it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


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
