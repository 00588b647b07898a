"""The camera health monitor: online/offline, fps, last frame time and maintenance
alerts, driven by a fake clock and fake looks at the cameras (and once by real feeds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from safezone.cameras import health
from safezone.cameras.sources import Frames
from safezone.core import scheduler
from safezone.zones import service as zones_service

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
JPEG = b"\xff\xd8fake\xff\xd9"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Cameras:
    """Which cameras answer, as the monitor's reader."""

    def __init__(self) -> None:
        self.up: set[str] = set()

    def __call__(self, camera) -> Frames:
        if camera.id in self.up:
            return Frames("mjpeg", JPEG, 10, 2.0, None)
        return Frames("mjpeg", None, 0, 0.0, "unreachable: ConnectError")


def _round(db, clock, cameras):
    return health.check_cameras(db, offline_after_s=60, timeout_s=1, reader=cameras, now=clock)


def _state(db, camera_id):
    with db.reader() as session:
        row = session.get(health.CameraHealth, camera_id)
        alert = zones_service.open_maintenance_alert(
            session, asset_kind="camera", asset_id=camera_id, kind="offline"
        )
        return (row.online, row.fps, row.last_frame_at, row.last_error), alert is not None


def test_transitions_raise_and_clear_the_maintenance_alert(db, add_camera):
    add_camera("CAM-1", stream_url="http://cam-1.invalid/stream.mjpg")
    add_camera("CAM-NOURL")  # nothing to look at: not monitored
    clock, cameras = Clock(), Cameras()

    # A new camera that never answers: offline, but no alert before offline_after_s.
    assert _round(db, clock, cameras) == []
    (online, fps, last, error), alerted = _state(db, "CAM-1")
    assert (online, fps, last, alerted) == (False, None, None, False)
    assert "unreachable" in error
    clock.advance(59)
    assert _round(db, clock, cameras) == []
    assert _state(db, "CAM-1")[1] is False
    clock.advance(1)
    assert [(c.camera_id, c.online) for c in _round(db, clock, cameras)] == [("CAM-1", False)]
    assert _state(db, "CAM-1")[1] is True
    clock.advance(30)
    assert _round(db, clock, cameras) == []  # raised once, not again

    # It comes back: online, its fps and last frame time, the alert cleared.
    cameras.up.add("CAM-1")
    clock.advance(15)
    assert [(c.camera_id, c.online) for c in _round(db, clock, cameras)] == [("CAM-1", True)]
    (online, fps, last, error), alerted = _state(db, "CAM-1")
    assert (online, fps, last, error, alerted) == (True, 5.0, clock.now, "", False)
    came_back = clock.now

    # A short gap keeps it online; a long one takes it offline again.
    cameras.up.clear()
    clock.advance(30)
    assert _round(db, clock, cameras) == []
    (online, fps, last, _), alerted = _state(db, "CAM-1")
    assert (online, fps, last, alerted) == (True, None, came_back, False)
    clock.advance(30)
    assert [(c.camera_id, c.online) for c in _round(db, clock, cameras)] == [("CAM-1", False)]
    (online, _, last, _), alerted = _state(db, "CAM-1")
    assert (online, last, alerted) == (False, came_back, True)

    with db.reader() as session:
        assert session.get(health.CameraHealth, "CAM-NOURL") is None
        alerts = zones_service.list_maintenance_alerts(
            session, station_id="MDH", include_cleared=True
        )
        assert [(a.asset_id, a.cleared_at is None) for a in alerts] == [
            ("CAM-1", True),
            ("CAM-1", False),
        ]


def test_inactive_cameras_are_not_watched(db, add_camera):
    add_camera("CAM-OFF", active=False, snapshot_url="http://cam.invalid/s.jpg")
    assert _round(db, Clock(), Cameras()) == []
    with db.reader() as session:
        assert session.get(health.CameraHealth, "CAM-OFF") is None


def test_real_feeds_and_the_health_api(client, auth, db, add_camera, simulator):
    add_camera("CAM-MJPEG", stream_url=simulator.mjpeg_url(1))
    add_camera("CAM-SNAP", snapshot_url=simulator.snapshot_url(2))
    add_camera("CAM-RTSP", stream_url=simulator.rtsp_url(2))
    add_camera("CAM-GONE", snapshot_url="http://127.0.0.1:9/snapshot.jpg")
    health.check_cameras(db, offline_after_s=60, timeout_s=3, window_s=1.0)
    r = client.get("/api/v1/camera-health", headers=auth("officer"))
    assert r.status_code == 200, r.text
    rows = {row["camera_id"]: row for row in r.json()}
    assert set(rows) == {"CAM-MJPEG", "CAM-SNAP", "CAM-RTSP", "CAM-GONE"}
    for camera_id in ("CAM-MJPEG", "CAM-RTSP"):
        assert rows[camera_id]["online"] is True
        assert 3.0 <= rows[camera_id]["fps"] <= 7.0, rows[camera_id]  # the simulator's 5 fps
        assert rows[camera_id]["last_frame_at"] is not None
    assert rows["CAM-MJPEG"]["source"] == "mjpeg" and rows["CAM-RTSP"]["source"] == "rtsp"
    assert rows["CAM-SNAP"]["online"] is True and rows["CAM-SNAP"]["fps"] is None
    assert rows["CAM-GONE"]["online"] is False and rows["CAM-GONE"]["last_frame_at"] is None
    assert client.get("/api/v1/camera-health", headers=auth("other_operator")).json() == []


def test_the_monitor_round_runs_on_one_node_at_a_time(db, settings, add_camera, simulator):
    add_camera("CAM-MJPEG", stream_url=simulator.mjpeg_url(1))
    first = health.CameraMonitor(db, settings)
    second = health.CameraMonitor(db, settings)
    first.run_once()
    with db.reader() as session:
        row = session.get(health.CameraHealth, "CAM-MJPEG")
        checked = row.last_checked_at
        assert row.online is True
    second.holder = "another-node:1"
    assert second.run_once() == []  # the lease is held by the first node: no round
    with db.reader() as session:
        assert session.get(health.CameraHealth, "CAM-MJPEG").last_checked_at == checked
    time.sleep(0.01)
    first.run_once()
    with db.reader() as session:
        assert session.get(health.CameraHealth, "CAM-MJPEG").last_checked_at > checked


def test_the_round_lease_grows_with_the_number_of_cameras():
    # 3 s timeout, 1 s window: a look takes at most 7 s; 8 cameras are looked at at once.
    lease = partial(health.round_lease, interval_s=15, timeout_s=3)
    assert lease(cameras=0) == timedelta(seconds=45)  # three intervals at least
    assert lease(cameras=8) == timedelta(seconds=45)  # one wave of 7 s + 15 s margin
    assert lease(cameras=64) == timedelta(seconds=8 * 7 + 15)
    assert lease(cameras=200) == timedelta(seconds=25 * 7 + 15)
    assert lease(cameras=200, workers=16) == timedelta(seconds=13 * 7 + 15)
    assert health.round_lease(cameras=0, interval_s=1, timeout_s=1) == timedelta(seconds=10)
    with pytest.raises(ValueError):
        lease(cameras=1, workers=0)


def test_a_long_round_keeps_a_second_node_out_until_it_can_have_ended(
    db, settings, add_camera, monkeypatch
):
    """With many cameras a round may take longer than three intervals; the lease must
    last until the slowest possible round is over, or a second node starts one beside it."""
    for n in range(64):
        add_camera(f"CAM-{n:02d}", snapshot_url=f"http://192.0.2.{n + 1}/snapshot.jpg")
    clock = Clock()
    monkeypatch.setattr(scheduler, "utcnow", clock)
    looked: list[str] = []

    def reader(camera):
        looked.append(camera.id)
        return Frames("snapshot", JPEG, 1, 0.1, None)

    first = health.CameraMonitor(db, settings, reader=reader)
    second = health.CameraMonitor(db, settings, reader=reader)
    second.holder = "another-node:1"
    assert (settings.camera_check_interval_s, settings.snapshot_timeout_s) == (15, 3)
    first.run_once()
    assert len(looked) == 64
    worst_round_s = 64 / 8 * 7  # every look timing out, 8 at a time
    clock.advance(worst_round_s)  # well past three intervals (45 s)
    assert second.run_once() == [] and len(looked) == 64  # the first may still be looking
    clock.advance(15 + 1)  # past the margin too: the first node is gone
    second.run_once()
    assert len(looked) == 128


def test_a_round_that_outlasted_its_lease_writes_nothing_once_taken_over(
    db, settings, add_camera, monkeypatch
):
    """A node stalled past its lease (a paused VM, a hung look) may have been replaced by
    another; its late results would overwrite the newer node's, so they are dropped."""
    add_camera("CAM-SLOW", snapshot_url="http://192.0.2.1/snapshot.jpg")
    clock = Clock()
    monkeypatch.setattr(scheduler, "utcnow", clock)
    first = health.CameraMonitor(db, settings)
    second = health.CameraMonitor(
        db, settings, reader=lambda camera: Frames("snapshot", JPEG, 1, 0.1, None)
    )
    second.holder = "another-node:1"

    def stalled_look(camera):
        clock.advance(3600)  # long past the lease
        assert second.run_once() == []  # the other node's round: camera online, no change
        return Frames("snapshot", None, 0, 0.0, "unreachable: ConnectError")

    first.reader = stalled_look
    assert first.run_once() == []
    with db.reader() as session:
        row = session.get(health.CameraHealth, "CAM-SLOW")
        assert row is not None and row.online is True and not row.last_error
        lease = session.get(scheduler.JobLease, health.LEASE)
        assert lease.holder == second.holder


def test_a_late_round_nobody_took_over_is_written_and_keeps_the_lease(
    db, settings, add_camera, monkeypatch
):
    """Stalled past its lease but not replaced (one node): the round's results count, and
    the lease is renewed so that no other node starts a round on top of the write."""
    add_camera("CAM-SLOW", snapshot_url="http://192.0.2.1/snapshot.jpg")
    clock = Clock()
    monkeypatch.setattr(scheduler, "utcnow", clock)

    def stalled_look(camera):
        clock.advance(3600)
        return Frames("snapshot", None, 0, 0.0, "unreachable: ConnectError")

    monitor = health.CameraMonitor(db, settings, reader=stalled_look)
    monitor.run_once()
    with db.reader() as session:
        row = session.get(health.CameraHealth, "CAM-SLOW")
        assert row is not None and row.last_error == "unreachable: ConnectError"
        lease = session.get(scheduler.JobLease, health.LEASE)
        assert lease.holder == monitor.holder and lease.expires_at > clock()
