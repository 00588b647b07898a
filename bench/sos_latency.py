"""SOS latency under load: MQTT publish of a box press -> an operator's SSE client.

Starts `safezone demo` (SQLite) with the MQTT gateway on the local Mosquitto, keeps a
background load of B events/s (box heartbeats over MQTT, unit GPS pings and citizen
reports over HTTP), presses SOS boxes and times each press until the operator's event
stream delivers its `sos.response`. In the same run it times the floor: the broker's own
publish -> subscribe latency through the same Mosquitto, at the same moments.

Prints one JSON line. Usage:
    python bench/sos_latency.py [--background 500] [--presses 200] [--mqtt-url URL]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from safezone.sos.simulator import SeqClock, SimBox, message

PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def niceness(text: str) -> int:
    """A niceness a process may give itself: 0 to 19 (lowering it needs privileges)."""
    value = int(text)
    if not 0 <= value <= 19:
        raise argparse.ArgumentTypeError(f"{value}: must be between 0 and 19")
    return value


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def mqtt_client(url: str, name: str) -> mqtt.Client:
    parsed = urlparse(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{name}-{random.randrange(10**8)}",
    )
    client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883, keepalive=30)
    return client


class Server:
    def __init__(self, data_dir: Path, mqtt_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "SAFEZONE_DEMO_PASSWORD": PASSWORD,
            "SAFEZONE_MQTT_URL": mqtt_url,
            "SAFEZONE_MQTT_CLIENT_ID": f"bench-gw-{random.randrange(10**8)}",
            "SAFEZONE_TILE_URL": "",
        }
        self.log = (data_dir / "server.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "safezone.cli",
                "--data-dir",
                str(data_dir),
                "demo",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the demo server exited; see " + self.log.name)
            try:
                health = httpx.get(self.url + "/api/v1/health", timeout=1).json()
                if health["checks"].get("mqtt") == "ok":
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise SystemExit("the demo server did not become healthy")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class OperatorScreen(threading.Thread):
    """An operator's event stream: records when each box's sos.response arrives."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.received: dict[str, list[float]] = defaultdict(list)
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client,
            client.stream("GET", self.url + "/api/v1/events/stream", headers=headers) as response,
        ):
            self.ready.set()
            event, data = "", ""
            for line in response.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and event == "sos.response" and data:
                    arrived = time.perf_counter()
                    box_id = json.loads(data).get("box_id")
                    if box_id:
                        self.received[box_id].append(arrived)
                    event, data = "", ""
                elif line == "":
                    event, data = "", ""


class BackgroundLoad:
    """B events/s: 80% box heartbeats over MQTT, 10% unit GPS pings, 10% reports."""

    def __init__(
        self,
        eps: float,
        server: Server,
        boxes: list[SimBox],
        mqtt_url: str,
        operator_token: str,
        units: list[str],
        zone_point: tuple[float, float],
    ):
        self.eps = eps
        self.server = server
        self.boxes = boxes
        self.mqtt = mqtt_client(mqtt_url, "bench-load")
        self.mqtt.loop_start()
        self.clock = SeqClock()
        self.token = operator_token
        self.units = units
        self.point = zone_point
        self.stop = threading.Event()
        self.sent: dict[str, int] = defaultdict(int)
        self.http_errors = 0
        self.started = 0.0
        self.threads = [threading.Thread(target=self._mqtt_loop, daemon=True)] + [
            threading.Thread(target=self._http_loop, args=(i,), daemon=True) for i in range(2)
        ]

    def start(self) -> None:
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()

    def achieved_eps(self) -> float:
        return sum(self.sent.values()) / max(time.perf_counter() - self.started, 1e-9)

    def _paced(self, rate: float, action: Any) -> None:
        interval = 1.0 / rate
        due = time.perf_counter()
        while not self.stop.is_set():
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            due += interval
            action()

    def _mqtt_loop(self) -> None:
        rng = random.Random(1)

        def beat() -> None:
            box = rng.choice(self.boxes)
            payload = message(box, "heartbeat", self.clock.next())
            self.mqtt.publish(f"safezone/sos/{box.id}/event", json.dumps(payload), qos=1)
            self.sent["heartbeat"] += 1

        self._paced(self.eps * 0.8, beat)

    def _http_loop(self, index: int) -> None:
        rng = random.Random(100 + index)
        client = httpx.Client(base_url=self.server.url, timeout=10.0)
        auth = {"Authorization": f"Bearer {self.token}"}

        def one() -> None:
            try:
                if rng.random() < 0.5:
                    unit = rng.choice(self.units)
                    r = client.post(
                        f"/api/v1/units/{unit}/location",
                        headers=auth,
                        json={
                            "lat": self.point[0] + rng.uniform(-0.002, 0.002),
                            "lon": self.point[1] + rng.uniform(-0.002, 0.002),
                            "accuracy_m": 8,
                        },
                    )
                    self.sent["unit_ping"] += 1
                else:
                    r = client.post(
                        "/api/v1/reports",
                        json={
                            "kind": "incident",
                            "category": "suspicious",
                            "description": "bench: suspicious person near the pier",
                            "lat": self.point[0] + rng.uniform(-0.001, 0.001),
                            "lon": self.point[1] + rng.uniform(-0.001, 0.001),
                        },
                    )
                    self.sent["report"] += 1
                if r.status_code >= 300:
                    self.http_errors += 1
            except httpx.HTTPError:
                self.http_errors += 1

        self._paced(self.eps * 0.1, one)  # two threads: 20% of the load together

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.mqtt.loop_stop()
        self.mqtt.disconnect()


def _load_process(conn: Connection, kwargs: dict[str, Any]) -> None:
    """The background load in a process of its own, until told to stop."""
    niceness = kwargs.pop("niceness", 0)
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    server = Server.__new__(Server)
    server.url = kwargs.pop("server_url")
    boxes = [SimBox(box_id, secret) for box_id, secret in kwargs.pop("boxes")]
    load = BackgroundLoad(server=server, boxes=boxes, **kwargs)
    load.start()
    conn.recv()  # stop
    eps = load.achieved_eps()
    load.close()
    conn.send({"eps": eps, "http_errors": load.http_errors})


class LoadProcess:
    """BackgroundLoad run by another process, so that the clients that measure (the
    presser, the broker floor and the operator's screen) do not wait for the load
    generator's threads to hand over the interpreter lock: in a station the load comes
    from other machines. For the same reason it runs at a lower CPU priority
    (``niceness``): on the benchmark's own cores it then takes the time the server leaves
    idle, instead of competing with the server for it; the load it reached is reported."""

    def __init__(
        self, server: Server, boxes: list[SimBox], *, niceness: int = 0, **kwargs: Any
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        kwargs.update(
            server_url=server.url, boxes=[(b.id, b.secret) for b in boxes], niceness=niceness
        )
        self.process = ctx.Process(target=_load_process, args=(child, kwargs), daemon=True)
        self.http_errors = 0
        self._eps = 0.0

    def start(self) -> None:
        self.process.start()

    def achieved_eps(self) -> float:
        return self._eps

    def close(self) -> None:
        self.conn.send("stop")
        result = self.conn.recv()
        self._eps, self.http_errors = result["eps"], result["http_errors"]
        self.process.join(timeout=10)


class BrokerFloor:
    """Publish -> subscribe through the same broker, QoS 1, no SafeZone in the path."""

    def __init__(self, mqtt_url: str) -> None:
        self.latencies: list[float] = []
        self.sent_at: dict[int, float] = {}
        self.subscribed = threading.Event()
        self.sub = mqtt_client(mqtt_url, "bench-floor-sub")
        self.sub.on_message = self._on_message
        self.sub.on_subscribe = lambda *a: self.subscribed.set()
        self.sub.subscribe("safezone-bench/floor", qos=1)
        self.sub.loop_start()
        self.pub = mqtt_client(mqtt_url, "bench-floor-pub")
        self.pub.loop_start()
        self.subscribed.wait(5)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        arrived = time.perf_counter()
        sent = self.sent_at.pop(int(msg.payload), None)
        if sent is not None:
            self.latencies.append(arrived - sent)

    def ping(self, n: int) -> None:
        self.sent_at[n] = time.perf_counter()
        self.pub.publish("safezone-bench/floor", str(n).encode(), qos=1)

    def close(self) -> None:
        for client in (self.sub, self.pub):
            client.loop_stop()
            client.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=float, default=500.0, help="events/s")
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.15, help="seconds between presses")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load first")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument(
        "--same-process-load",
        action="store_true",
        help="generate the background load in this process (the measuring clients then "
        "share its interpreter lock; the figures before 2026-11-27 were taken so)",
    )
    parser.add_argument(
        "--load-nice",
        type=niceness,
        default=19,
        help="CPU niceness of the load process (0: the same priority as the server; the "
        "figures before 2026-11-27's fourth session were taken so)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sz-bench-") as tmp:
        data_dir = Path(tmp)
        print("starting the demo server...", file=sys.stderr)
        server = Server(data_dir, args.mqtt_url)
        try:
            devices = json.loads((data_dir / "demo-devices.json").read_text())
            boxes = [SimBox(b["id"], b["secret"]) for b in devices["sos_boxes"]]
            point = (devices["sos_boxes"][0]["lat"], devices["sos_boxes"][0]["lon"])
            token = httpx.post(
                server.url + "/api/v1/auth/token",
                data={"username": "operator", "password": PASSWORD},
            ).json()
            operator_token = token["access_token"]
            units = [
                u["id"]
                for u in httpx.get(
                    server.url + "/api/v1/units",
                    headers={"Authorization": f"Bearer {operator_token}"},
                ).json()
            ]
            screen = OperatorScreen(server.url, operator_token)
            screen.start()
            screen.ready.wait(10)
            load_kwargs: dict[str, Any] = {
                "eps": args.background,
                "mqtt_url": args.mqtt_url,
                "operator_token": operator_token,
                "units": units,
                "zone_point": point,
            }
            load: BackgroundLoad | LoadProcess
            if args.same_process_load:
                load = BackgroundLoad(server=server, boxes=boxes, **load_kwargs)
            else:
                load = LoadProcess(server, boxes, niceness=args.load_nice, **load_kwargs)
            floor = BrokerFloor(args.mqtt_url)
            load.start()
            time.sleep(args.warmup)

            presser = mqtt_client(args.mqtt_url, "bench-presser")
            presser.loop_start()
            clock = SeqClock()
            pressed: dict[str, list[float]] = defaultdict(list)
            print(
                f"pressing {args.presses} times under {args.background:.0f} events/s...",
                file=sys.stderr,
            )
            for n in range(args.presses):
                box = boxes[n % len(boxes)]
                payload = json.dumps(message(box, "press", clock.next()))
                pressed[box.id].append(time.perf_counter())
                presser.publish(f"safezone/sos/{box.id}/event", payload, qos=1)
                floor.ping(n)
                time.sleep(args.interval)
            deadline = time.monotonic() + 15
            while (
                time.monotonic() < deadline
                and sum(min(len(screen.received[b]), len(t)) for b, t in pressed.items())
                < args.presses
            ):
                time.sleep(0.1)
            time.sleep(1.0)
            load.close()
            background_eps = load.achieved_eps()
            floor.close()
            presser.loop_stop()
            presser.disconnect()
            screen.stop.set()
        finally:
            server.stop()

    latencies, lost, duplicated = [], 0, 0
    for box_id, sent_times in pressed.items():
        got = screen.received.get(box_id, [])
        for sent, arrived in zip(sent_times, got, strict=False):
            latencies.append(arrived - sent)
        lost += max(0, len(sent_times) - len(got))
        duplicated += max(0, len(got) - len(sent_times))
    sos_p99 = percentile(latencies, 99) * 1000
    broker_p99 = percentile(floor.latencies, 99) * 1000
    result = {
        "background_eps": round(background_eps, 1),
        "sent": args.presses,
        "received": len(latencies),
        "lost": lost,
        "duplicated": duplicated,
        "sos_p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "sos_p99_ms": round(sos_p99, 2),
        "broker_p99_ms": round(broker_p99, 2),
        "ratio_p99": round(sos_p99 / broker_p99, 2) if broker_p99 > 0 else None,
        "http_errors": load.http_errors,
        "load_nice": None if args.same_process_load else args.load_nice,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
