"""Simulated cameras for the demo and the tests (``safezone simulate cameras``).

Each camera plays a moving street scene with faces walking through it (the synthetic
scenes of :mod:`safezone.faces.scenes`) with a clock overlay, and serves it as real
cameras do:

* ``GET /cameras/N/snapshot.jpg``: the current picture (HTTP JPEG snapshot);
* ``GET /cameras/N/stream.mjpg``: MJPEG over HTTP (multipart/x-mixed-replace);
* ``rtsp://HOST:PORT/cameras/N``: RTSP, with MJPEG over RTP (RFC 2435) interleaved on the
  RTSP TCP connection, readable by FFmpeg (and so OpenCV's ``VideoCapture``).
* ``GET /`` lists them as JSON.

Cameras are numbered from 1. Frames are made on demand and shared by every viewer.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2

from safezone.faces.scenes import SAMPLE_FACES, Scene, Walker, sample_face, scaled

log = logging.getLogger(__name__)
FRAME_SIZE = (640, 360)
BOUNDARY = "szframe"


@dataclass
class SimCamera:
    number: int
    scene: Scene

    def frame_at(self, index: int) -> bytes:
        image = self.scene.frame(index)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        label = f"SIM-CAM-{self.number:02d}  {stamp}"
        cv2.putText(image, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
        cv2.putText(image, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            raise RuntimeError("could not encode a frame")
        return bytes(encoded.tobytes())


def make_cameras(count: int, *, seed: int = 7) -> list[SimCamera]:
    """``count`` cameras, each with its own street and one or two faces walking by."""
    faces = {name: sample_face(name) for name in SAMPLE_FACES}
    rng = random.Random(seed)
    cameras = []
    w, h = FRAME_SIZE
    for number in range(1, count + 1):
        walkers = []
        for k in range(1 + number % 2):
            face = scaled(
                faces[SAMPLE_FACES[(number + k) % len(SAMPLE_FACES)]], rng.randint(90, 140)
            )
            speed = rng.choice([3, 4, 5]) * (1 if k == 0 else -1)
            start_x = -face.shape[1] if speed > 0 else w
            walkers.append(Walker(face, (start_x, rng.randint(h // 3, h - 160)), (speed, 0)))
        cameras.append(
            SimCamera(
                number,
                Scene(seed=seed * 1000 + number, kind="faces", walkers=walkers, size=FRAME_SIZE),
            )
        )
    return cameras


class Feeds:
    """The cameras' current frames at ``fps``, made once per frame index and shared."""

    def __init__(self, cameras: list[SimCamera], *, fps: float) -> None:
        self.cameras = {camera.number: camera for camera in cameras}
        self.fps = fps
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, bytes]] = {}

    def index(self) -> int:
        return int((time.monotonic() - self.started) * self.fps)

    def current(self, number: int) -> bytes:
        camera = self.cameras[number]
        # Walkers loop: a scene of 12 s at the simulator's rate, then again.
        index = self.index() % max(1, int(12 * self.fps))
        with self._lock:
            cached = self._cache.get(number)
            if cached is not None and cached[0] == index:
                return cached[1]
        data = camera.frame_at(index * max(1, int(10 / self.fps)))
        with self._lock:
            self._cache[number] = (index, data)
        return data


def _camera_number(path: str, prefix: str, suffix: str) -> int | None:
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    middle = path[len(prefix) : len(path) - len(suffix)]
    return int(middle) if middle.isdigit() else None


def http_handler(feeds: Feeds, *, rtsp_port: int | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SafeZoneCameraSimulator/1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/":
                self._index()
                return
            number = _camera_number(path, "/cameras/", "/snapshot.jpg")
            if number in feeds.cameras:
                data = feeds.current(number)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)
                return
            number = _camera_number(path, "/cameras/", "/stream.mjpg")
            if number in feeds.cameras:
                self._mjpeg(number)
                return
            self.send_error(404, "no such camera")

        def _index(self) -> None:
            host = self.headers.get("Host", "127.0.0.1")
            hostname = host.rsplit(":", 1)[0]
            items = [
                {
                    "camera": n,
                    "snapshot_url": f"http://{host}/cameras/{n}/snapshot.jpg",
                    "mjpeg_url": f"http://{host}/cameras/{n}/stream.mjpg",
                    "rtsp_url": f"rtsp://{hostname}:{rtsp_port}/cameras/{n}" if rtsp_port else None,
                }
                for n in sorted(feeds.cameras)
            ]
            body = json.dumps({"fps": feeds.fps, "cameras": items}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _mjpeg(self, number: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                while True:
                    data = feeds.current(number)
                    head = (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n"
                    ).encode()
                    self.wfile.write(head + data + b"\r\n")
                    self.wfile.flush()
                    time.sleep(1.0 / feeds.fps)
            except (BrokenPipeError, ConnectionResetError, OSError):
                return

    return Handler


# --- RTSP: MJPEG over RTP (RFC 2435), interleaved on the RTSP connection -------------


def jpeg_rtp_payloads(jpeg: bytes, *, mtu: int = 1400) -> list[bytes]:
    """Cut a baseline JPEG (standard Huffman tables, as libjpeg writes them) into RTP/JPEG
    payloads: each with the 8-byte JPEG header, the first also with the quantisation
    tables (Q=255), then the entropy-coded scan."""
    tables: list[bytes] = []
    width = height = 0
    jpeg_type = 1  # 4:2:0
    i = 2
    scan = b""
    while i < len(jpeg):
        if jpeg[i] != 0xFF:
            raise ValueError("not a JPEG marker")
        marker = jpeg[i + 1]
        length = struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
        segment = jpeg[i + 4 : i + 2 + length]
        if marker == 0xDB:  # DQT: one or more 8-bit tables
            j = 0
            while j < len(segment):
                tables.append(segment[j + 1 : j + 65])
                j += 65
        elif marker == 0xC0:  # SOF0
            height, width = struct.unpack(">HH", segment[1:5])
            sampling = segment[7]
            jpeg_type = 1 if sampling == 0x22 else 0
        elif marker == 0xDA:  # SOS: the rest (up to EOI) is the scan
            scan = jpeg[i + 2 + length :]
            if scan.endswith(b"\xff\xd9"):
                scan = scan[:-2]
            break
        i += 2 + length
    if not scan or not width or len(tables) < 2:
        raise ValueError("unsupported JPEG")
    quant = b"\x00\x00" + struct.pack(">H", 128) + tables[0] + tables[1]
    payloads = []
    offset = 0
    while offset < len(scan):
        head = struct.pack(">B", 0) + offset.to_bytes(3, "big")
        head += struct.pack(">BBBB", jpeg_type, 255, width // 8, height // 8)
        extra = quant if offset == 0 else b""
        room = mtu - len(head) - len(extra)
        payloads.append(head + extra + scan[offset : offset + room])
        offset += room
    return payloads


def rtsp_handler(feeds: Feeds) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            number: int | None = None
            session_id = f"{random.getrandbits(32):08x}"
            channel = 0
            while True:
                request = self._read_request()
                if request is None:
                    return
                method, url, headers = request
                cseq = headers.get("cseq", "0")
                path = "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url
                found = _camera_number(path.split("/track")[0].rstrip("/"), "/cameras/", "")
                if method == "OPTIONS":
                    self._reply(cseq, {"Public": "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"})
                elif found not in feeds.cameras:
                    self._reply(cseq, {}, status="404 Not Found")
                elif method == "DESCRIBE":
                    number = found
                    sdp = (
                        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=SafeZone simulated camera\r\n"
                        "t=0 0\r\nm=video 0 RTP/AVP 26\r\nc=IN IP4 0.0.0.0\r\n"
                        "a=rtpmap:26 JPEG/90000\r\na=control:track1\r\n"
                    )
                    base = url if url.endswith("/") else url + "/"
                    self._reply(
                        cseq,
                        {"Content-Type": "application/sdp", "Content-Base": base},
                        body=sdp.encode(),
                    )
                elif method == "SETUP":
                    number = found
                    transport = headers.get("transport", "")
                    if "TCP" not in transport.upper():
                        self._reply(cseq, {}, status="461 Unsupported Transport")
                        continue
                    if "interleaved=" in transport:
                        channel = int(transport.split("interleaved=")[1].split("-")[0])
                    self._reply(
                        cseq,
                        {
                            "Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}",
                            "Session": session_id,
                        },
                    )
                elif method == "PLAY" and number is not None:
                    self._reply(cseq, {"Session": session_id, "Range": "npt=0.000-"})
                    self._play(number, channel)
                    return
                elif method == "TEARDOWN":
                    self._reply(cseq, {"Session": session_id})
                    return
                else:
                    self._reply(cseq, {}, status="405 Method Not Allowed")

        def _read_request(self) -> tuple[str, str, dict[str, str]] | None:
            line = self.rfile.readline()
            while line in (b"\r\n", b"\n"):
                line = self.rfile.readline()
            if not line:
                return None
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                return None
            headers = {}
            while True:
                raw = self.rfile.readline().decode("latin-1").strip()
                if not raw:
                    break
                key, _, value = raw.partition(":")
                headers[key.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if length:
                self.rfile.read(length)
            return parts[0], parts[1], headers

        def _reply(
            self, cseq: str, headers: dict[str, str], *, status: str = "200 OK", body: bytes = b""
        ) -> None:
            lines = [f"RTSP/1.0 {status}", f"CSeq: {cseq}", "Server: SafeZoneCameraSimulator/1"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            if body:
                lines.append(f"Content-Length: {len(body)}")
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            self.wfile.flush()

        def _play(self, number: int, channel: int) -> None:
            sequence = random.getrandbits(16)
            ssrc = random.getrandbits(32)
            start = time.monotonic()
            self.connection.settimeout(10)
            try:
                while True:
                    payloads = jpeg_rtp_payloads(feeds.current(number))
                    stamp = int((time.monotonic() - start) * 90000) & 0xFFFFFFFF
                    out = bytearray()
                    for k, payload in enumerate(payloads):
                        marker = 0x80 if k == len(payloads) - 1 else 0
                        header = struct.pack(
                            ">BBHII", 0x80, marker | 26, sequence & 0xFFFF, stamp, ssrc
                        )
                        sequence += 1
                        packet = header + payload
                        out += struct.pack(">cBH", b"$", channel, len(packet)) + packet
                    self.wfile.write(bytes(out))
                    self.wfile.flush()
                    time.sleep(1.0 / feeds.fps)
            except OSError:
                return

    return Handler


class _RtspServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True


class Simulator:
    """The simulated cameras' HTTP server (and RTSP server when asked), in threads."""

    def __init__(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        http_port: int = 8090,
        rtsp_port: int | None = None,
        fps: float = 5.0,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if not 0 < fps <= 30:
            raise ValueError("fps must be above 0 and at most 30")
        self.feeds = Feeds(make_cameras(count), fps=fps)
        self.host = host
        self.rtsp: _RtspServer | None = None
        if rtsp_port is not None:
            self.rtsp = _RtspServer((host, rtsp_port), rtsp_handler(self.feeds))
        self.rtsp_port = self.rtsp.server_address[1] if self.rtsp else None
        self.http = _HttpServer(
            (host, http_port), http_handler(self.feeds, rtsp_port=self.rtsp_port)
        )
        self.http_port = self.http.server_address[1]
        self._threads: list[threading.Thread] = []

    def snapshot_url(self, number: int) -> str:
        return f"http://{self.host}:{self.http_port}/cameras/{number}/snapshot.jpg"

    def mjpeg_url(self, number: int) -> str:
        return f"http://{self.host}:{self.http_port}/cameras/{number}/stream.mjpg"

    def rtsp_url(self, number: int) -> str:
        if self.rtsp_port is None:
            raise ValueError("the simulator was started without RTSP")
        return f"rtsp://{self.host}:{self.rtsp_port}/cameras/{number}"

    def start(self) -> Simulator:
        servers: list[socketserver.BaseServer] = [self.http]
        if self.rtsp is not None:
            servers.append(self.rtsp)
        for server in servers:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self.http, self.rtsp):
            if server is not None:
                server.shutdown()
                server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
