"""`safezone simulate sos-boxes`: realistic SOS box traffic for the demo and for tests.

Each simulated box sends heartbeats, now and then a press (and sometimes a cancel soon
after), rarely a test press; a small share of messages (of every kind) are forged (wrong
key) so the refusal path is exercised too. Heartbeats go to the boxes in turn, so each box
sends one every count/rate seconds, as a real box does at its interval (``cadence_problem``
says when that is too slow for the boxes' intervals). Messages are signed exactly as
docs/devices.md says.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from safezone.sos.service import sign


@dataclass(frozen=True)
class SimBox:
    id: str
    secret: str
    heartbeat_interval_s: int = 60


@dataclass
class Mix:
    """Share of each kind of message (the rest are heartbeats)."""

    press: float = 0.01
    cancel_after_press: float = 0.2
    test: float = 0.005
    forged: float = 0.01


@dataclass
class Stats:
    sent: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    def summary(self) -> dict[str, Any]:
        return {"sent": dict(self.sent), "answers": dict(self.answers), "errors": self.errors}


def load_boxes(device_file: Path, count: int) -> list[SimBox]:
    try:
        content = json.loads(device_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(
            f"{device_file}: no device file; run 'safezone demo' first or pass --devices"
        ) from exc
    boxes = [
        SimBox(b["id"], b["secret"], int(b.get("heartbeat_interval_s") or 60))
        for b in content.get("sos_boxes", [])
    ]
    if not boxes:
        raise ValueError(f"{device_file}: lists no SOS boxes")
    if count > len(boxes):
        raise ValueError(f"--count {count}: the device file has only {len(boxes)} boxes")
    return boxes[:count]


def cadence_problem(boxes: list[SimBox], rate: float, mix: Mix | None = None) -> str | None:
    """Why this rate would make the boxes look dead, if it would: with heartbeats in turn
    (the share of messages ``mix`` leaves to them), each box sends one every
    len(boxes) / (rate * share) seconds, which must stay within its interval (SafeZone
    marks a box offline after two missed intervals)."""
    mix = mix or Mix()
    beats_per_s = rate * max(1.0 - mix.forged - mix.press - mix.test, 1e-9)
    every = len(boxes) / beats_per_s
    shortest = min(box.heartbeat_interval_s for box in boxes)
    if every <= shortest:
        return None
    needed = rate * every / shortest
    return (
        f"each box would send a heartbeat only every {every:.0f} s, more than its interval"
        f" of {shortest} s: SafeZone would mark boxes offline; raise --rate to at least"
        f" {needed:.2f} or lower --count"
    )


class SeqClock:
    """Sequence numbers that keep rising across simulator restarts: milliseconds since
    1970 times 1000, plus a counter. Real boxes keep a counter in flash instead."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            value = max(self._last + 1, int(time.time() * 1000) * 1000)
            self._last = value
            return value


def message(box: SimBox, kind: str, seq: int, *, forged: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": kind,
        "seq": seq,
        "ts": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    payload["sig"] = sign(payload, "forged-" + box.secret if forged else box.secret)
    return payload


Sender = Callable[[SimBox, dict[str, Any]], str]


def http_sender(base_url: str) -> Sender:
    client = httpx.Client(base_url=base_url.rstrip("/"), timeout=10.0)

    def send(box: SimBox, payload: dict[str, Any]) -> str:
        response = client.post(f"/api/v1/sos/boxes/{box.id}/events", json=payload)
        if response.status_code < 300:
            return str(response.json()["status"])
        return str(response.json().get("error", {}).get("code", response.status_code))

    return send


def mqtt_sender(url: str) -> Sender:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from safezone.sos.gateway import parse_url

    address = parse_url(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"safezone-sim-{random.randrange(10**8)}",
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()

    def send(box: SimBox, payload: dict[str, Any]) -> str:
        info = client.publish(f"safezone/sos/{box.id}/event", json.dumps(payload), qos=1)
        info.wait_for_publish(10)
        return "published"

    return send


def run(
    boxes: list[SimBox],
    *,
    rate: float,
    duration_s: float | None,
    send: Sender,
    mix: Mix | None = None,
    seed: int | None = None,
    progress: Callable[[Stats, float], None] | None = None,
    stop: threading.Event | None = None,
) -> Stats:
    """Send about ``rate`` messages a second, spread over the boxes, until ``duration_s``
    has passed or ``stop`` is set."""
    mix = mix or Mix()
    rng = random.Random(seed)
    clock = SeqClock()
    stats = Stats()
    stop = stop or threading.Event()
    started = time.monotonic()
    next_report = started + 5
    interval = 1.0 / rate
    due = started
    pending_cancel: list[tuple[float, SimBox]] = []
    beats = 0  # heartbeats go to the boxes in turn
    while not stop.is_set():
        now = time.monotonic()
        if duration_s is not None and now - started >= duration_s:
            break
        if due > now:
            time.sleep(min(due - now, 0.2))
            continue
        due += interval
        if pending_cancel and pending_cancel[0][0] <= now:
            _, box = pending_cancel.pop(0)
            kind, forged = "cancel", False
        else:
            box = rng.choice(boxes)
            roll = rng.random()
            forged = roll < mix.forged
            if forged:  # someone without the key, sending anything
                kind = rng.choice(("press", "heartbeat", "heartbeat", "test", "cancel"))
            elif roll < mix.forged + mix.press:
                kind = "press"
                if rng.random() < mix.cancel_after_press:
                    pending_cancel.append((now + rng.uniform(2, 8), box))
                    pending_cancel.sort(key=lambda item: item[0])
            elif roll < mix.forged + mix.press + mix.test:
                kind = "test"
            else:
                kind = "heartbeat"
                box = boxes[beats % len(boxes)]
                beats += 1
        label = f"forged-{kind}" if forged else kind
        try:
            answer = send(box, message(box, kind, clock.next(), forged=forged))
            stats.sent[label] += 1
            stats.answers[answer] += 1
        except Exception:  # the simulator reports failures instead of stopping
            stats.errors += 1
        if progress is not None and now >= next_report:
            progress(stats, now - started)
            next_report = now + 5
    return stats
