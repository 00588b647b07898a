"""The lawful watchlist and its review queue.

Rules held here:
* enrolment needs a legal basis, an approver and an expiry (the schema refuses an entry
  without them) and is done by a commander or an admin (the router checks the role);
* entries past their expiry are purged with their photos and embeddings by a scheduled job;
* a camera match becomes a review item with its evidence; nothing is dispatched from it
  until an operator confirms it; a rejection deletes the evidence (it was someone else)
  and counts as a false match of that camera;
* every enrolment, search, view and decision is written to the audit chain.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.core.db import after_commit, utcnow
from safezone.core.errors import Conflict, InvalidInput, NotFound
from safezone.core.media import stage_file
from safezone.core.permissions import Principal
from safezone.core.security import sha256_hex
from safezone.faces import schemas
from safezone.faces.engine import EMBEDDING_SIZE, FaceEngine
from safezone.faces.models import EnrolmentPhoto, FaceEmbedding, FaceMatch, WatchlistEntry
from safezone.faces.pipeline import MatchCandidate
from safezone.faces.worker import decode_jpeg
from safezone.zones.schemas import ASSET_ID

log = logging.getLogger(__name__)

WATCHLIST_TOPIC = "faces.watchlist_changed"
REVIEW_TOPIC = "faces.review"
WORKER_ACTOR = "system:faces-worker"
PURGE_INTERVAL_S = 300.0  # expired entries go within five minutes of their expiry
PHOTO_TYPES = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG": ("image/png", ".png")}


def _photo_type(data: bytes) -> tuple[str, str]:
    for magic, kind in PHOTO_TYPES.items():
        if data.startswith(magic):
            return kind
    raise InvalidInput("An enrolment photo must be a JPEG or PNG.", field="photos")


def _delete_after_commit(session: Session, media_dir: Path, *relative: str | None) -> None:
    for rel in relative:
        if rel:
            path = media_dir / rel
            after_commit(session, lambda p=path: p.unlink(missing_ok=True))  # type: ignore[misc]


def _entry(session: Session, *, entry_id: str, station_id: str) -> WatchlistEntry:
    entry = session.get(WatchlistEntry, entry_id)
    if entry is None or entry.station_id != station_id:
        raise NotFound(f"No watchlist entry {entry_id} at your station.", field="entry_id")
    return entry


def entry_view(session: Session, entry: WatchlistEntry) -> schemas.EntryRead:
    photo_ids = session.scalars(
        select(EnrolmentPhoto.id)
        .where(EnrolmentPhoto.entry_id == entry.id)
        .order_by(EnrolmentPhoto.id)
    ).all()
    view = schemas.EntryRead.model_validate(entry)
    view.photo_ids = list(photo_ids)
    return view


def enrol(
    session: Session,
    *,
    principal: Principal,
    data: schemas.EntryCreate,
    engine: FaceEngine,
    media_dir: Path,
    max_photo_bytes: int,
) -> WatchlistEntry:
    """Put a person on the station's watchlist, with one embedding per enrolment photo."""
    photos = data.photo_bytes()
    embeddings = []
    for index, raw in enumerate(photos):
        if len(raw) > max_photo_bytes:
            raise InvalidInput(
                f"Photo {index + 1} is {len(raw)} bytes; the limit is {max_photo_bytes}.",
                field="photos",
            )
        _photo_type(raw)
        try:
            image = decode_jpeg(raw)
            embeddings.append(engine.embed_photo(image))
        except ValueError as exc:
            raise InvalidInput(
                f"Photo {index + 1}: {exc}; enrol a clear, frontal photo of the face.",
                field="photos",
            ) from exc
    entry = WatchlistEntry(
        id="WL-" + uuid.uuid4().hex[:12].upper(),
        station_id=principal.station_id,
        person_id=data.person_id,
        person_name=data.person_name,
        category=data.category,
        legal_basis=data.legal_basis,
        approved_by=data.approved_by,
        enrolled_by=principal.actor,
        notes=data.notes,
        expires_at=data.expires_at,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    hashes = []
    for index, (raw, embedding) in enumerate(zip(photos, embeddings, strict=True)):
        content_type, extension = _photo_type(raw)
        digest = sha256_hex(raw)
        hashes.append(digest)
        relative = f"watchlist/{entry.id}/{index + 1}-{digest}{extension}"
        stage_file(session, media_dir=media_dir, relative=relative, data=raw)
        photo = EnrolmentPhoto(
            entry_id=entry.id, sha256=digest, path=relative, content_type=content_type
        )
        session.add(photo)
        session.flush()
        session.add(
            FaceEmbedding(
                entry_id=entry.id, photo_id=photo.id, vector=embedding.astype("<f4").tobytes()
            )
        )
    session.flush()
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.enrolled",
        object_type="watchlist_entry",
        object_id=entry.id,
        station_id=entry.station_id,
        payload={
            "person_id": entry.person_id,
            "category": entry.category,
            "legal_basis": entry.legal_basis,
            "approved_by": entry.approved_by,
            "expires_at": entry.expires_at.isoformat(),
            "photo_sha256": hashes,
        },
        event={"entry_id": entry.id, "change": "enrolled"},
        topic=WATCHLIST_TOPIC,
    )
    return entry


def list_entries(session: Session, *, principal: Principal) -> list[schemas.EntryRead]:
    """The station's watchlist; the viewing is audited."""
    entries = session.scalars(
        select(WatchlistEntry)
        .where(WatchlistEntry.station_id == principal.station_id)
        .order_by(WatchlistEntry.created_at, WatchlistEntry.id)
    ).all()
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.watchlist_viewed",
        object_type="watchlist",
        object_id=principal.station_id,
        station_id=principal.station_id,
        payload={"entries": len(entries)},
    )
    return [entry_view(session, e) for e in entries]


def view_entry(session: Session, *, principal: Principal, entry_id: str) -> schemas.EntryRead:
    entry = _entry(session, entry_id=entry_id, station_id=principal.station_id)
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.entry_viewed",
        object_type="watchlist_entry",
        object_id=entry.id,
        station_id=entry.station_id,
        payload={"person_id": entry.person_id},
    )
    return entry_view(session, entry)


def view_photo(
    session: Session, *, principal: Principal, entry_id: str, photo_id: int, media_dir: Path
) -> tuple[Path, str]:
    entry = _entry(session, entry_id=entry_id, station_id=principal.station_id)
    photo = session.get(EnrolmentPhoto, photo_id)
    if photo is None or photo.entry_id != entry.id:
        raise NotFound(f"No photo {photo_id} in entry {entry_id}.", field="photo_id")
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.photo_viewed",
        object_type="watchlist_entry",
        object_id=entry.id,
        station_id=entry.station_id,
        payload={"photo_id": photo.id, "sha256": photo.sha256},
    )
    return media_dir / photo.path, photo.content_type


def _remove_entry(session: Session, entry: WatchlistEntry, media_dir: Path) -> dict[str, int]:
    """Delete an entry, its photos, embeddings and pending matches (with their evidence).
    Decided matches stay (a confirmed one is evidence; a rejected one a counted false
    match), unlinked from the entry."""
    photos = session.scalars(select(EnrolmentPhoto).where(EnrolmentPhoto.entry_id == entry.id))
    photo_paths = [p.path for p in photos]
    pending = session.scalars(
        select(FaceMatch).where(FaceMatch.entry_id == entry.id, FaceMatch.status == "pending")
    ).all()
    for match in pending:
        _delete_after_commit(session, media_dir, match.crop_path, match.frame_path)
        session.delete(match)
    embeddings = session.scalar(
        select(func.count()).select_from(FaceEmbedding).where(FaceEmbedding.entry_id == entry.id)
    )
    session.execute(delete(FaceEmbedding).where(FaceEmbedding.entry_id == entry.id))
    session.execute(delete(EnrolmentPhoto).where(EnrolmentPhoto.entry_id == entry.id))
    session.execute(update(FaceMatch).where(FaceMatch.entry_id == entry.id).values(entry_id=None))
    _delete_after_commit(session, media_dir, *photo_paths)
    session.delete(entry)
    session.flush()
    return {"photos": len(photo_paths), "embeddings": int(embeddings or 0), "pending": len(pending)}


def withdraw(session: Session, *, principal: Principal, entry_id: str, media_dir: Path) -> None:
    """Take an entry off the watchlist before its expiry."""
    entry = _entry(session, entry_id=entry_id, station_id=principal.station_id)
    station_id, person_id = entry.station_id, entry.person_id
    removed = _remove_entry(session, entry, media_dir)
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.withdrawn",
        object_type="watchlist_entry",
        object_id=entry_id,
        station_id=station_id,
        payload={"person_id": person_id, **removed},
        event={"entry_id": entry_id, "change": "withdrawn"},
        topic=WATCHLIST_TOPIC,
    )


def purge_expired(session: Session, *, media_dir: Path, now: datetime | None = None) -> int:
    """Delete every entry past its expiry, with its photos and embeddings. The scheduler
    runs this; it returns how many entries went."""
    moment = now or utcnow()
    expired = session.scalars(
        select(WatchlistEntry).where(WatchlistEntry.expires_at <= moment)
    ).all()
    for entry in expired:
        entry_id, station_id, person_id = entry.id, entry.station_id, entry.person_id
        expires_at = entry.expires_at.isoformat()
        removed = _remove_entry(session, entry, media_dir)
        audit_service.record(
            session,
            actor="system:scheduler",
            action="faces.expired_purged",
            object_type="watchlist_entry",
            object_id=entry_id,
            station_id=station_id,
            payload={"person_id": person_id, "expires_at": expires_at, **removed},
            event={"entry_id": entry_id, "change": "expired"},
            topic=WATCHLIST_TOPIC,
        )
    return len(expired)


def active_embeddings(
    session: Session, *, station_id: str | None = None, now: datetime | None = None
) -> list[tuple[str, np.ndarray]]:
    """(entry id, embedding) of every unexpired entry, for a worker's Watchlist."""
    moment = now or utcnow()
    query = (
        select(FaceEmbedding.entry_id, FaceEmbedding.vector)
        .join(WatchlistEntry, WatchlistEntry.id == FaceEmbedding.entry_id)
        .where(WatchlistEntry.expires_at > moment)
        .order_by(FaceEmbedding.id)
    )
    if station_id is not None:
        query = query.where(WatchlistEntry.station_id == station_id)
    out = []
    for entry_id, vector in session.execute(query):
        array = np.frombuffer(vector, dtype="<f4")
        if array.shape[0] == EMBEDDING_SIZE:
            out.append((entry_id, array.astype(np.float32)))
    return out


def search(
    session: Session,
    *,
    principal: Principal,
    data: schemas.SearchCreate,
    engine: FaceEngine,
    threshold: float,
    limit: int = 5,
) -> list[schemas.SearchHit]:
    """A 1:N search of one photo against the station's watchlist; audited with its reason.
    Returns the entries at or above ``threshold``, best first. The photo is not kept."""
    raw = base64.b64decode(data.photo)
    _photo_type(raw)
    try:
        probe = engine.embed_photo(decode_jpeg(raw))
    except ValueError as exc:
        raise InvalidInput(f"The photo: {exc}.", field="photo") from exc
    best: dict[str, float] = {}
    for entry_id, vector in active_embeddings(session, station_id=principal.station_id):
        score = float(vector @ probe)
        best[entry_id] = max(score, best.get(entry_id, -1.0))
    del probe
    hits = sorted(((s, e) for e, s in best.items() if s >= threshold), reverse=True)[:limit]
    results = []
    for score, entry_id in hits:
        entry = session.get(WatchlistEntry, entry_id)
        assert entry is not None
        results.append(
            schemas.SearchHit(
                entry_id=entry.id,
                person_id=entry.person_id,
                person_name=entry.person_name,
                category=entry.category,
                similarity=round(score, 4),
            )
        )
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.searched",
        object_type="watchlist",
        object_id=principal.station_id,
        station_id=principal.station_id,
        payload={
            "reason": data.reason,
            "photo_sha256": sha256_hex(raw),
            "hits": [h.entry_id for h in results],
        },
    )
    return results


def record_candidate(
    session: Session, *, candidate: MatchCandidate, station_id: str | None, media_dir: Path
) -> FaceMatch | None:
    """Queue a camera's match for review, with its evidence. None when the entry is gone
    (withdrawn or expired since the worker loaded its watchlist): then nothing is kept."""
    entry = session.get(WatchlistEntry, candidate.entry_id)
    if entry is None or entry.expires_at <= utcnow():
        return None
    if station_id is not None and station_id != entry.station_id:
        return None  # another station's camera: its watchlist is not this one's to match
    if not re.fullmatch(ASSET_ID, candidate.camera_id):
        # The id names a folder of evidence: never let a frame event choose a path.
        log.warning("face match from a camera id that is not one: %r", candidate.camera_id)
        return None
    crop_sha, frame_sha = sha256_hex(candidate.crop_jpeg), sha256_hex(candidate.frame_jpeg)
    base = f"face-matches/{candidate.camera_id}/{uuid.uuid4().hex}"
    stage_file(session, media_dir=media_dir, relative=base + "-crop.jpg", data=candidate.crop_jpeg)
    stage_file(
        session, media_dir=media_dir, relative=base + "-frame.jpg", data=candidate.frame_jpeg
    )
    match = FaceMatch(
        station_id=entry.station_id,
        camera_id=candidate.camera_id,
        entry_id=entry.id,
        person_id=entry.person_id,
        category=entry.category,
        similarity=round(candidate.similarity, 4),
        votes=candidate.votes,
        crop_path=base + "-crop.jpg",
        frame_path=base + "-frame.jpg",
        crop_sha256=crop_sha,
        frame_sha256=frame_sha,
        seen_at=candidate.seen_at,
        status="pending",
        created_at=utcnow(),
    )
    session.add(match)
    session.flush()
    audit_service.record(
        session,
        actor=WORKER_ACTOR,
        action="faces.match_queued",
        object_type="face_match",
        object_id=match.id,
        station_id=match.station_id,
        payload={
            "camera_id": match.camera_id,
            "entry_id": entry.id,
            "similarity": match.similarity,
            "votes": match.votes,
            "crop_sha256": crop_sha,
            "frame_sha256": frame_sha,
        },
        event={"match": match_view(match, session).model_dump(mode="json")},
        topic=REVIEW_TOPIC,
    )
    return match


def match_view(match: FaceMatch, session: Session | None = None) -> schemas.MatchRead:
    """A match as the reviewer sees it: with the enrolled person's name and the id of an
    enrolment photo to compare against, while the entry exists."""
    view = schemas.MatchRead.model_validate(match)
    view.has_evidence = match.crop_path is not None
    if session is not None and match.entry_id is not None:
        entry = session.get(WatchlistEntry, match.entry_id)
        if entry is not None:
            view.person_name = entry.person_name
            view.enrolment_photo_id = session.scalar(
                select(EnrolmentPhoto.id)
                .where(EnrolmentPhoto.entry_id == entry.id)
                .order_by(EnrolmentPhoto.id)
                .limit(1)
            )
    return view


def _match(session: Session, *, match_id: int, station_id: str) -> FaceMatch:
    match = session.get(FaceMatch, match_id)
    if match is None or match.station_id != station_id:
        raise NotFound(f"No face match {match_id} at your station.", field="match_id")
    return match


def list_matches(
    session: Session, *, principal: Principal, status: str | None
) -> list[schemas.MatchRead]:
    query = select(FaceMatch).where(FaceMatch.station_id == principal.station_id)
    if status is not None:
        query = query.where(FaceMatch.status == status)
    matches = session.scalars(query.order_by(FaceMatch.id.desc()).limit(200)).all()
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.matches_viewed",
        object_type="face_match",
        object_id="list",
        station_id=principal.station_id,
        payload={"status": status, "count": len(matches)},
    )
    return [match_view(m, session) for m in matches]


def view_evidence(
    session: Session, *, principal: Principal, match_id: int, which: str, media_dir: Path
) -> Path:
    match = _match(session, match_id=match_id, station_id=principal.station_id)
    relative = match.crop_path if which == "crop" else match.frame_path
    if relative is None:
        raise NotFound(
            f"Match {match_id} has no evidence (it was rejected and deleted).", field="match_id"
        )
    audit_service.record(
        session,
        actor=principal.actor,
        action="faces.evidence_viewed",
        object_type="face_match",
        object_id=match.id,
        station_id=match.station_id,
        payload={"which": which},
    )
    return media_dir / relative


def decide(
    session: Session,
    *,
    principal: Principal,
    match_id: int,
    data: schemas.DecisionCreate,
    media_dir: Path,
) -> FaceMatch:
    """An operator's decision on a match. A rejection deletes its evidence images.

    The match row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writes are
    serial already), so of two reviewers deciding at once one wins and the other gets a
    409 naming the decision already made, instead of silently overwriting it.
    """
    match = session.get(FaceMatch, match_id, with_for_update=True, populate_existing=True)
    if match is None or match.station_id != principal.station_id:
        raise NotFound(f"No face match {match_id} at your station.", field="match_id")
    if match.status != "pending":
        raise Conflict(
            f"Match {match_id} was already {match.status} by {match.decided_by}.",
            field="decision",
            details=[
                {
                    "match_id": match.id,
                    "status": match.status,
                    "decided_by": match.decided_by,
                    "decided_at": match.decided_at.isoformat() if match.decided_at else None,
                }
            ],
        )
    match.status = "confirmed" if data.decision == "confirm" else "rejected"
    match.decided_by = principal.actor
    match.decided_at = utcnow()
    match.decision_note = data.note
    if match.status == "rejected":
        _delete_after_commit(session, media_dir, match.crop_path, match.frame_path)
        match.crop_path = None
        match.frame_path = None
    session.flush()
    audit_service.record(
        session,
        actor=principal.actor,
        action=f"faces.match_{match.status}",
        object_type="face_match",
        object_id=match.id,
        station_id=match.station_id,
        payload={"camera_id": match.camera_id, "entry_id": match.entry_id, "note": data.note},
        event={"match": match_view(match, session).model_dump(mode="json")},
        topic=REVIEW_TOPIC,
    )
    return match


def false_matches(session: Session, *, station_id: str) -> list[schemas.CameraFalseMatches]:
    """Per camera: matches, decisions, and the share of decided matches that were wrong."""
    rows = session.execute(
        select(FaceMatch.camera_id, FaceMatch.status, func.count())
        .where(FaceMatch.station_id == station_id)
        .group_by(FaceMatch.camera_id, FaceMatch.status)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for camera_id, status, n in rows:
        counts.setdefault(camera_id, {"pending": 0, "confirmed": 0, "rejected": 0})[status] = n
    out = []
    for camera_id in sorted(counts):
        c = counts[camera_id]
        decided = c["confirmed"] + c["rejected"]
        out.append(
            schemas.CameraFalseMatches(
                camera_id=camera_id,
                matches=sum(c.values()),
                pending=c["pending"],
                confirmed=c["confirmed"],
                rejected=c["rejected"],
                false_match_rate=round(c["rejected"] / decided, 4) if decided else None,
            )
        )
    return out


@dataclass
class PersonData:
    entries: list[dict[str, Any]]
    matches: list[dict[str, Any]]
    files: list[Path]


def person_data(session: Session, *, person_id: str, media_dir: Path) -> PersonData:
    """Everything SafeZone's face identification holds about one person."""
    entries = session.scalars(
        select(WatchlistEntry).where(WatchlistEntry.person_id == person_id)
    ).all()
    files: list[Path] = []
    entry_rows = []
    for entry in entries:
        view = entry_view(session, entry).model_dump(mode="json")
        photos = session.scalars(
            select(EnrolmentPhoto).where(EnrolmentPhoto.entry_id == entry.id)
        ).all()
        view["photos"] = [{"id": p.id, "sha256": p.sha256, "file": p.path} for p in photos]
        view["embeddings"] = session.scalar(
            select(func.count())
            .select_from(FaceEmbedding)
            .where(FaceEmbedding.entry_id == entry.id)
        )
        files.extend(media_dir / p.path for p in photos)
        entry_rows.append(view)
    matches = session.scalars(select(FaceMatch).where(FaceMatch.person_id == person_id)).all()
    match_rows = []
    for m in matches:
        row = match_view(m).model_dump(mode="json")
        row["files"] = [p for p in (m.crop_path, m.frame_path) if p]
        files.extend(media_dir / p for p in row["files"])
        match_rows.append(row)
    return PersonData(entry_rows, match_rows, files)


def export_person(session: Session, *, person_id: str, actor: str, media_dir: Path) -> PersonData:
    """A data-subject access request: the data, and its audit entry."""
    data = person_data(session, person_id=person_id, media_dir=media_dir)
    audit_service.record(
        session,
        actor=actor,
        action="privacy.exported",
        object_type="person",
        object_id=person_id,
        station_id=None,
        payload={"entries": len(data.entries), "matches": len(data.matches)},
    )
    return data


def erase_person(
    session: Session, *, person_id: str, actor: str, media_dir: Path
) -> dict[str, int]:
    """A data-subject erasure request: every entry, photo, embedding and match of the
    person, with their files. The audit entry records that it happened (not the data)."""
    entries = session.scalars(
        select(WatchlistEntry).where(WatchlistEntry.person_id == person_id)
    ).all()
    totals = {"entries": 0, "photos": 0, "embeddings": 0, "matches": 0}
    for entry in entries:
        entry_id, station_id = entry.id, entry.station_id
        removed = _remove_entry(session, entry, media_dir)
        totals["entries"] += 1
        totals["photos"] += removed["photos"]
        totals["embeddings"] += removed["embeddings"]
        totals["matches"] += removed["pending"]
        audit_service.record(
            session,
            actor=actor,
            action="faces.erased",
            object_type="watchlist_entry",
            object_id=entry_id,
            station_id=station_id,
            payload={"person_id": person_id},
            event={"entry_id": entry_id, "change": "erased"},
            topic=WATCHLIST_TOPIC,
        )
    for match in session.scalars(select(FaceMatch).where(FaceMatch.person_id == person_id)):
        _delete_after_commit(session, media_dir, match.crop_path, match.frame_path)
        session.delete(match)
        totals["matches"] += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="privacy.erased",
        object_type="person",
        object_id=person_id,
        station_id=None,
        payload=totals,
    )
    return totals


def purge_job(media_dir: Path) -> Callable[[Session], object]:
    """The scheduler's job: purge expired entries."""
    return lambda session: purge_expired(session, media_dir=media_dir)
