"""Servers for the integration lanes: the real Mosquitto (and NATS) on this machine.

Tests skip when a server is not reachable, unless SAFEZONE_REQUIRE_SERVICES=1 (CI), where
an unreachable server fails them.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

MQTT_URL = os.environ.get("SAFEZONE_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 1883), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def mqtt_url() -> str:
    if not reachable(MQTT_URL):
        if os.environ.get("SAFEZONE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the MQTT broker at {MQTT_URL} is unreachable")
        pytest.skip(f"no MQTT broker at {MQTT_URL}")
    return MQTT_URL


@pytest.fixture
def gateway_id():
    """A fresh persistent-session id for the gateway, dropped again after the test."""
    client_id = f"sz-test-{uuid.uuid4().hex[:10]}"
    yield client_id
    parsed = urlparse(MQTT_URL)
    cleaner = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
    )
    try:
        cleaner.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        cleaner.disconnect()
    except OSError:
        pass


def publisher(url: str, client_id: str | None = None, **will: object) -> mqtt.Client:
    parsed = urlparse(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id or f"sz-pub-{uuid.uuid4().hex[:8]}",
        clean_session=True,
    )
    if will:
        client.will_set(**will)  # type: ignore[arg-type]
    client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883, keepalive=5)
    client.loop_start()
    return client
