"""The MQTT gateway in its own process: what it commits reaches the web process at once,
and a gateway that dies is started again without losing a press."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from safezone.core.bus import Event
from safezone.sos.gateway_process import GatewayProcess
from tests.integration.conftest import publisher
from tests.sos.conftest import BOX_ID, box_message


async def until(predicate, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
def gateway_settings(settings, mqtt_url, gateway_id, sos_site):
    return settings.model_copy(update={"mqtt_url": mqtt_url, "mqtt_client_id": gateway_id})


def test_committed_events_reach_the_web_process_and_a_killed_gateway_comes_back(
    gateway_settings, mqtt_url
):
    received: list[Event] = []

    async def scenario() -> None:
        gateway = GatewayProcess(gateway_settings)
        gateway.start(received.extend)
        try:
            await until(gateway.connected.is_set)
            box = publisher(mqtt_url)
            topic = f"safezone/sos/{BOX_ID}/event"
            box.publish(topic, json.dumps(box_message("press", 1)).encode(), qos=1)
            await until(lambda: any(e.topic == "incident.created" for e in received))
            press = next(e for e in received if e.topic == "incident.created")
            assert press.payload["incident"]["priority"] == "critical"
            assert press.station_id == "MDH"

            first = gateway._process.pid
            os.kill(first, signal.SIGKILL)
            await until(lambda: gateway._process.pid != first and gateway.connected.is_set())
            # The broker kept the press for the gateway's session while it was down.
            received.clear()
            box.publish(topic, json.dumps(box_message("press", 2)).encode(), qos=1)
            await until(lambda: any(e.topic == "incident.created" for e in received))
            box.loop_stop()
            box.disconnect()
        finally:
            gateway.stop()
        assert not gateway._process.is_alive()

    asyncio.run(scenario())


def test_a_gateway_that_keeps_crashing_is_restarted_ever_more_slowly():
    from safezone.sos.gateway_process import restart_delay

    assert [restart_delay(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert restart_delay(10_000) == 30.0
