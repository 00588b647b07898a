"""`safezone simulate cameras`: live test feeds over HTTP (snapshot, MJPEG) and RTSP,
end to end through the snapshot endpoint and the audit chain."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import cv2
import httpx
import numpy as np
from sqlalchemy import select

from safezone.audit.models import AuditEntry
from safezone.cameras.simulator import jpeg_rtp_payloads


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH="src")
    process = subprocess.Popen(
        [sys.executable, "-m", "safezone.cli", "simulate", "cameras", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", first)
    assert match, first + (process.stdout.read() if process.poll() is not None else "")
    return process, match.group(1)


def test_cli_feed_to_snapshot_endpoint_to_audit(client, auth, db, add_camera):
    process, base = _start_cli("--count", "3", "--http-port", "0", "--duration", "60")
    try:
        index = httpx.get(base + "/", timeout=5).json()
        assert [c["camera"] for c in index["cameras"]] == [1, 2, 3]
        add_camera("CAM-SIM", snapshot_url=index["cameras"][2]["snapshot_url"])
        r = client.get(
            "/api/v1/cameras/CAM-SIM/snapshot",
            params={"reason": "demo check"},
            headers=auth("commander"),
        )
        assert r.status_code == 200, r.text
        image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (360, 640, 3)
        with db.reader() as session:
            entry = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "camera.live_viewed")
            ).one()
            assert (entry.actor, entry.object_id, entry.payload["reason"]) == (
                "user:commander",
                "CAM-SIM",
                "demo check",
            )
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_scene_moves(simulator):
    first = httpx.get(simulator.snapshot_url(1), timeout=5).content
    time.sleep(0.5)
    later = httpx.get(simulator.snapshot_url(1), timeout=5).content
    a = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_GRAYSCALE).astype(int)
    b = cv2.imdecode(np.frombuffer(later, np.uint8), cv2.IMREAD_GRAYSCALE).astype(int)
    assert np.abs(a - b).mean() > 0.5  # walkers and traffic moved
    assert httpx.get(simulator.snapshot_url(9), timeout=5).status_code == 404


def test_rtp_jpeg_payloads_carry_the_scan_and_tables(simulator):
    jpeg = httpx.get(simulator.snapshot_url(2), timeout=5).content
    payloads = jpeg_rtp_payloads(jpeg, mtu=1000)
    assert len(payloads) > 1 and all(len(p) <= 1000 for p in payloads)
    first = payloads[0]
    assert first[4] == 1 and first[5] == 255  # 4:2:0, Q=255 (tables in-band)
    assert (first[6] * 8, first[7] * 8) == (640, 360)
    offsets = [int.from_bytes(p[1:4], "big") for p in payloads]
    assert offsets[0] == 0 and offsets == sorted(offsets)


def test_bad_arguments_are_clear_errors():
    env = dict(os.environ, PYTHONPATH="src")
    done = subprocess.run(
        [sys.executable, "-m", "safezone.cli", "simulate", "cameras", "--count", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "--count must be between 1 and 100" in done.stderr
