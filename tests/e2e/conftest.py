"""Fixtures for the browser tests: Debian's Chromium driven by Playwright. The app itself
is served by the ``live_server`` fixture of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.support import CHROMIUM, CHROMIUM_ARGS, NetworkGate, skip_without_browser
from tests.sos.conftest import sos_site  # noqa: F401  (an SOS box, cameras and units)


@pytest.fixture
def browser() -> Iterator[Any]:
    skip_without_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def network(live_server: LiveServer) -> Iterator[NetworkGate]:
    """A link between the browser and the live server that a test can cut."""
    with NetworkGate(live_server.port) as gate:
        yield gate
