"""The lawful watchlist: enrolment rules, the review queue, purge, audit, PDPA requests."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from safezone.audit import service as audit_service
from safezone.audit.models import AuditEntry
from safezone.cli import main as cli_main
from safezone.core.bus import MemoryBus
from safezone.core.bus.outbox import OutboxEvent
from safezone.core.db import Database, utcnow
from safezone.faces import service as faces_service
from safezone.faces.engine import FaceEngine
from safezone.faces.jobs import DatabaseWorker
from safezone.faces.models import EnrolmentPhoto, FaceEmbedding, FaceMatch, WatchlistEntry
from safezone.faces.pipeline import MatchCandidate, encode_jpeg
from safezone.faces.scenes import Scene, Walker, sample_face, scaled
from safezone.faces.worker import frame_event, publish_frame

V1 = "/api/v1/faces"


def photo_b64(name: str) -> str:
    return base64.b64encode(encode_jpeg(sample_face(name))).decode()


def entry_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person_id": "TH-1-2345-67890-12-3",
        "person_name": "Somchai Example",
        "category": "wanted",
        "legal_basis": "Warrant 123/2569, Mukdahan Provincial Court",
        "approved_by": "Pol. Col. Approver",
        "expires_at": (utcnow() + timedelta(days=30)).isoformat(),
        "photos": [photo_b64("collins")],
    }
    body.update(overrides)
    return body


@pytest.fixture
def app_with_engine(app: Any, engine: FaceEngine) -> Any:
    app.state.face_engine = engine  # the session's engine: loading one takes a moment
    return app


@pytest.fixture
def api(app_with_engine: Any) -> Any:
    from fastapi.testclient import TestClient

    with TestClient(app_with_engine) as c:
        yield c


def actions(db: Database) -> list[str]:
    with db.reader() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def enrol(api: Any, auth: Any, **overrides: Any) -> dict[str, Any]:
    r = api.post(f"{V1}/watchlist", json=entry_body(**overrides), headers=auth("commander"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_enrolment_stores_entry_photos_and_embeddings_and_is_audited(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    entry = enrol(api, auth, photos=[photo_b64("collins"), photo_b64("collins")])
    assert entry["id"].startswith("WL-") and entry["enrolled_by"] == "user:commander"
    assert len(entry["photo_ids"]) == 2
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(FaceEmbedding)) == 2
        vectors = faces_service.active_embeddings(session)
        assert [e for e, _ in vectors] == [entry["id"], entry["id"]]
        photo = session.scalars(select(EnrolmentPhoto)).first()
        assert photo is not None and (settings.media_dir / photo.path).is_file()
        enrolled = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "faces.enrolled")
        ).one()
        assert enrolled.payload["legal_basis"].startswith("Warrant 123")
        assert enrolled.payload["approved_by"] == "Pol. Col. Approver"
        assert session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == faces_service.WATCHLIST_TOPIC)
        ).first()
        assert audit_service.verify(session).ok


@pytest.mark.parametrize(
    ("missing", "value"),
    [("legal_basis", None), ("approved_by", None), ("expires_at", None), ("legal_basis", "")],
)
def test_enrolment_is_refused_without_legal_basis_approver_or_expiry(
    api: Any, auth: Any, db: Database, missing: str, value: Any
) -> None:
    body = entry_body()
    if value is None:
        del body[missing]
    else:
        body[missing] = value
    r = api.post(f"{V1}/watchlist", json=body, headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == missing
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(WatchlistEntry)) == 0


def test_enrolment_refuses_a_past_or_far_expiry_and_a_photo_without_a_face(
    api: Any, auth: Any
) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    far = (utcnow() + timedelta(days=400)).isoformat()
    for expires in (past, far, "2030-01-01T00:00:00"):  # the last has no time zone
        r = api.post(
            f"{V1}/watchlist", json=entry_body(expires_at=expires), headers=auth("commander")
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "expires_at", r.text
    blank = base64.b64encode(encode_jpeg(Scene(seed=1).frame(0))).decode()
    r = api.post(f"{V1}/watchlist", json=entry_body(photos=[blank]), headers=auth("commander"))
    assert r.status_code == 422 and "no face" in r.json()["error"]["message"], r.text
    r = api.post(f"{V1}/watchlist", json=entry_body(photos=["!!!"]), headers=auth("commander"))
    assert r.status_code == 422, r.text
    r = api.post(f"{V1}/watchlist", json=entry_body(category="suspect"), headers=auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "category"
    r = api.post(f"{V1}/watchlist", json=entry_body(), headers=auth("operator"))
    assert r.status_code == 403


def test_views_and_searches_are_audited(api: Any, auth: Any, db: Database) -> None:
    entry = enrol(api, auth)
    assert api.get(f"{V1}/watchlist", headers=auth("operator")).status_code == 200
    assert api.get(f"{V1}/watchlist/{entry['id']}", headers=auth("operator")).status_code == 200
    photo = api.get(
        f"{V1}/watchlist/{entry['id']}/photos/{entry['photo_ids'][0]}", headers=auth("operator")
    )
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    hits = api.post(
        f"{V1}/search",
        json={"photo": photo_b64("collins"), "reason": "case 77/2569 request"},
        headers=auth("commander"),
    )
    assert hits.status_code == 200 and [h["entry_id"] for h in hits.json()] == [entry["id"]]
    misses = api.post(
        f"{V1}/search",
        json={"photo": photo_b64("hopper"), "reason": "case 78/2569"},
        headers=auth("commander"),
    )
    assert misses.json() == []
    r = api.post(f"{V1}/search", json={"photo": photo_b64("hopper")}, headers=auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    got = actions(db)
    for action in ("faces.watchlist_viewed", "faces.entry_viewed", "faces.photo_viewed"):
        assert action in got
    assert got.count("faces.searched") == 2
    with db.reader() as session:
        searched = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "faces.searched")
        ).first()
        assert searched is not None and searched.payload["reason"] == "case 77/2569 request"


def _candidate(entry_id: str, camera_id: str = "CAM-7") -> MatchCandidate:
    face = scaled(sample_face("collins"), 220)
    frame = Scene(seed=2, kind="faces", walkers=[Walker(face, (500, 200), (0, 0))]).frame(0)
    return MatchCandidate(
        camera_id=camera_id,
        entry_id=entry_id,
        similarity=0.71,
        votes=3,
        crop_jpeg=encode_jpeg(frame[200 : 200 + face.shape[0], 500 : 500 + face.shape[1]]),
        frame_jpeg=encode_jpeg(frame),
        frame_index=5,
        seen_at=utcnow(),
    )


def queue(db: Database, settings: Any, entry_id: str, camera_id: str = "CAM-7") -> int:
    with db.transaction() as session:
        match = faces_service.record_candidate(
            session,
            candidate=_candidate(entry_id, camera_id),
            station_id="MDH",
            media_dir=settings.media_dir,
        )
        assert match is not None
        return match.id


def test_matches_wait_for_review_and_rejections_count_as_false_matches(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    entry = enrol(api, auth)
    first = queue(db, settings, entry["id"])
    second = queue(db, settings, entry["id"])
    third = queue(db, settings, entry["id"], camera_id="CAM-8")
    pending = api.get(f"{V1}/matches?status=pending", headers=auth("operator")).json()
    assert [m["id"] for m in pending] == [third, second, first]
    assert pending[0]["has_evidence"] and pending[0]["status"] == "pending"
    crop = api.get(f"{V1}/matches/{first}/crop.jpg", headers=auth("operator"))
    assert crop.status_code == 200 and crop.content.startswith(b"\xff\xd8")
    assert api.get(f"{V1}/matches/{first}/frame.jpg", headers=auth("operator")).status_code == 200

    ok = api.post(
        f"{V1}/matches/{first}/decision",
        json={"decision": "confirm", "note": "same person, seen by patrol"},
        headers=auth("operator"),
    )
    assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
    with db.reader() as session:
        rejected_before = session.get(FaceMatch, second)
        assert rejected_before is not None and rejected_before.crop_path is not None
        evidence = [settings.media_dir / rejected_before.crop_path]
        evidence.append(settings.media_dir / str(rejected_before.frame_path))
    assert all(p.is_file() for p in evidence)
    no = api.post(
        f"{V1}/matches/{second}/decision", json={"decision": "reject"}, headers=auth("operator")
    )
    assert no.status_code == 200 and no.json()["has_evidence"] is False
    assert not any(p.exists() for p in evidence)  # it was someone else: no image kept
    assert api.get(f"{V1}/matches/{second}/crop.jpg", headers=auth("operator")).status_code == 404
    again = api.post(
        f"{V1}/matches/{second}/decision", json={"decision": "confirm"}, headers=auth("operator")
    )
    assert again.status_code == 409
    bad = api.post(
        f"{V1}/matches/{third}/decision", json={"decision": "maybe"}, headers=auth("operator")
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "decision"
    other = api.get(f"{V1}/matches", headers=auth("other_operator")).json()
    assert other == []  # another station's operator sees none of these

    report = api.get(f"{V1}/false-matches", headers=auth("operator")).json()
    assert report == [
        {
            "camera_id": "CAM-7",
            "matches": 2,
            "pending": 0,
            "confirmed": 1,
            "rejected": 1,
            "false_match_rate": 0.5,
        },
        {
            "camera_id": "CAM-8",
            "matches": 1,
            "pending": 1,
            "confirmed": 0,
            "rejected": 0,
            "false_match_rate": None,
        },
    ]
    got = actions(db)
    assert got.count("faces.match_queued") == 3
    assert "faces.match_confirmed" in got and "faces.match_rejected" in got
    assert got.count("faces.evidence_viewed") == 2
    assert "faces.matches_viewed" in got


def test_expired_entries_and_their_embeddings_are_purged(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    keep = enrol(api, auth, person_id="KEEP-1")
    gone = enrol(
        api, auth, person_id="GONE-1", expires_at=(utcnow() + timedelta(days=2)).isoformat()
    )
    pending = queue(db, settings, gone["id"])
    with db.reader() as session:
        photo_files = [
            settings.media_dir / p.path
            for p in session.scalars(
                select(EnrolmentPhoto).where(EnrolmentPhoto.entry_id == gone["id"])
            )
        ]
        match = session.get(FaceMatch, pending)
        assert match is not None and match.crop_path is not None
        photo_files.append(settings.media_dir / match.crop_path)
    assert all(p.is_file() for p in photo_files)
    with db.transaction() as session:  # nothing is due yet
        assert faces_service.purge_expired(session, media_dir=settings.media_dir) == 0
    with db.transaction() as session:
        later = utcnow() + timedelta(days=3)
        assert faces_service.purge_expired(session, media_dir=settings.media_dir, now=later) == 1
    with db.reader() as session:
        assert session.get(WatchlistEntry, gone["id"]) is None
        assert session.get(WatchlistEntry, keep["id"]) is not None
        left = session.scalars(select(FaceEmbedding.entry_id)).all()
        assert set(left) == {keep["id"]}
        assert session.get(FaceMatch, pending) is None
        purged = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "faces.expired_purged")
        ).one()
        assert purged.payload["embeddings"] == 1 and purged.payload["person_id"] == "GONE-1"
    assert not any(p.exists() for p in photo_files)


def test_the_purge_job_is_scheduled(app_with_engine: Any) -> None:
    names = [job.name for job in app_with_engine.state.scheduler.jobs]
    assert "faces.purge_expired" in names


def test_expired_entries_are_not_matched_even_before_the_purge(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    entry = enrol(api, auth)
    with db.transaction() as session:
        row = session.get(WatchlistEntry, entry["id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    with db.reader() as session:
        assert faces_service.active_embeddings(session) == []
    with db.transaction() as session:
        assert (
            faces_service.record_candidate(
                session,
                candidate=_candidate(entry["id"]),
                station_id="MDH",
                media_dir=settings.media_dir,
            )
            is None
        )


def test_a_watchlisted_face_on_a_camera_reaches_the_review_queue(
    api: Any, auth: Any, db: Database, settings: Any, engine: FaceEngine
) -> None:
    entry = enrol(api, auth)
    scene = Scene(
        seed=3,
        kind="faces",
        walkers=[
            Walker(scaled(sample_face("collins"), 220), (100, 200), (12, 0)),
            Walker(scaled(sample_face("hopper"), 220), (900, 200), (-12, 0)),
        ],
    )
    frames = [encode_jpeg(scene.frame(i)) for i in range(8)]

    async def run() -> DatabaseWorker:
        bus = MemoryBus()
        worker = DatabaseWorker(db, media_dir=settings.media_dir, engine=engine)
        await worker.start(bus)
        assert len(worker.watchlist) == 1
        for jpeg in frames:
            await publish_frame(bus, frame_event(camera_id="CAM-9", station_id="MDH", jpeg=jpeg))
        await worker.worker.drain()
        await worker.stop()
        return worker

    worker = asyncio.run(run())
    assert len(worker.queued) == 1  # Collins, once; Hopper (unknown) leaves nothing
    with db.reader() as session:
        matches = session.scalars(select(FaceMatch)).all()
        assert [(m.entry_id, m.camera_id, m.status) for m in matches] == [
            (entry["id"], "CAM-9", "pending")
        ]
        review = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == faces_service.REVIEW_TOPIC)
        ).one()
        assert review.payload["match"]["entry_id"] == entry["id"]
    files = [p for p in (settings.media_dir / "face-matches").rglob("*") if p.is_file()]
    assert len(files) == 2  # the one match's crop and frame, nothing of the passer-by


def test_privacy_export_and_erase(
    api: Any, auth: Any, db: Database, settings: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    entry = enrol(api, auth, person_id="P-42")
    other = enrol(api, auth, person_id="P-43")
    queue(db, settings, entry["id"])
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SAFEZONE_SECRET_KEY", settings.secret_key)
    data_dir = str(settings.data_dir)

    out = tmp_path / "dsar"
    assert (
        cli_main(
            ["--data-dir", data_dir, "privacy", "export", "--person", "P-42", "--out", str(out)]
        )
        == 0
    )
    document = json.loads((out / "person.json").read_text())
    assert [e["id"] for e in document["watchlist_entries"]] == [entry["id"]]
    assert document["watchlist_entries"][0]["embeddings"] == 1
    assert len(document["matches"]) == 1
    copied = [p for p in (out / "files").rglob("*") if p.is_file()]
    assert len(copied) == 3  # the enrolment photo, the crop and the frame

    assert cli_main(["--data-dir", data_dir, "privacy", "erase", "--person", "P-42"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert cli_main(["--data-dir", data_dir, "privacy", "erase", "--person", "P-42", "--yes"]) == 0
    assert "1 watchlist entries" in capsys.readouterr().out
    with db.reader() as session:
        assert session.get(WatchlistEntry, entry["id"]) is None
        assert session.get(WatchlistEntry, other["id"]) is not None
        assert session.scalars(select(FaceMatch).where(FaceMatch.person_id == "P-42")).all() == []
        assert {e for e, _ in faces_service.active_embeddings(session)} == {other["id"]}
        got = list(session.scalars(select(AuditEntry.action)))
        assert "privacy.exported" in got and "privacy.erased" in got
        assert audit_service.verify(session).ok
    assert cli_main(["--data-dir", data_dir, "privacy", "export", "--person", "P-42"]) == 0
    assert json.loads(capsys.readouterr().out)["watchlist_entries"] == []


def test_the_operators_event_stream_carries_the_review_item(
    live_server: Any, auth: Any, db: Database, settings: Any, engine: FaceEngine
) -> None:
    import httpx

    with httpx.Client(base_url=live_server.url, timeout=httpx.Timeout(15.0)) as http:
        body = entry_body()
        r = http.post("/api/v1/faces/watchlist", json=body, headers=auth("commander"))
        assert r.status_code == 201, r.text
        entry_id = r.json()["id"]
        scene = Scene(
            seed=3,
            kind="faces",
            walkers=[Walker(scaled(sample_face("collins"), 220), (100, 200), (12, 0))],
        )

        async def run() -> None:
            bus = MemoryBus()
            worker = DatabaseWorker(db, media_dir=settings.media_dir, engine=engine)
            await worker.start(bus)
            for i in range(6):
                jpeg = encode_jpeg(scene.frame(i))
                await publish_frame(
                    bus, frame_event(camera_id="CAM-5", station_id="MDH", jpeg=jpeg)
                )
            await worker.worker.drain()
            await worker.stop()

        asyncio.run(run())
        headers = {**auth("operator"), "Last-Event-ID": "0"}
        item: dict[str, Any] = {}
        with http.stream("GET", "/api/v1/events/stream", headers=headers) as response:
            assert response.status_code == 200
            seen: list[str] = []
            for line in response.iter_lines():
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                if line.startswith("data: ") and seen and seen[-1] == "faces.review":
                    item = json.loads(line.removeprefix("data: "))
                    break
                assert len(seen) < 200, seen
    match = item["match"]
    assert (match["entry_id"], match["camera_id"], match["status"]) == (
        entry_id,
        "CAM-5",
        "pending",
    )
    assert match["has_evidence"] is True


def test_a_frame_event_cannot_choose_where_evidence_is_written(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    """The camera id names the evidence folder: one that is not an id keeps nothing."""
    entry = enrol(api, auth)
    with db.transaction() as session:
        for camera_id in ("../../outside", "CAM/1", ""):
            match = faces_service.record_candidate(
                session,
                candidate=_candidate(entry["id"], camera_id),
                station_id="MDH",
                media_dir=settings.media_dir,
            )
            assert match is None, camera_id
    assert not (settings.media_dir / "face-matches").exists()
    assert not (settings.media_dir.parent / "outside").exists()
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(FaceMatch)) == 0
