"""Evidence export with a chain of custody.

An export copies an incident's evidence snapshots into a folder, with ``manifest.json``:
each file's name, SHA-256 and size, the incident, the exporter and the reason, and the
position (sequence number and hash) of the ``evidence.exported`` entry in the audit
chain. That entry holds the SHA-256 of the manifest's file list, so a later check
(:func:`verify_export`) can prove that the files are the ones exported, that the manifest
was not edited, and that the audit chain around the export is intact.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safezone.audit import service as audit_service
from safezone.cameras.models import EvidenceExport, Snapshot
from safezone.cameras.service import snapshots_for_incident
from safezone.core.db import after_commit, after_rollback, utcnow
from safezone.core.errors import Conflict, InvalidInput
from safezone.core.security import sha256_hex
from safezone.incidents import service as incidents_service

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def files_digest(files: list[dict[str, Any]]) -> str:
    """SHA-256 of the canonical JSON of a manifest's file list."""
    canonical = json.dumps(files, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_hex(canonical.encode("utf-8"))


def _file_name(snapshot: Snapshot) -> str:
    extension = ".png" if snapshot.content_type == "image/png" else ".jpg"
    return f"snapshot-{snapshot.id}-{snapshot.camera_id}{extension}"


def export_incident(
    session: Session,
    *,
    incident_id: int,
    station_id: str,
    out_dir: Path,
    media_dir: Path,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Write the incident's evidence and its manifest into ``out_dir`` (which must not
    exist or be empty) and record the export in the audit chain, in the caller's
    transaction. Returns the manifest. Files are staged first and moved into place only
    when everything was read and hashed, so a failure leaves nothing half-written."""
    if not reason.strip():
        raise InvalidInput("Say why the evidence is exported.", field="reason")
    incident = incidents_service.get_incident(
        session, incident_id=incident_id, station_id=station_id
    )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Conflict(f"{out_dir} exists and is not an empty folder.", field="out")
    snapshots = snapshots_for_incident(session, incident_id=incident.id)
    if not snapshots:
        raise InvalidInput(f"Incident {incident.id} has no evidence to export.", field="incident")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        files = []
        for snapshot in snapshots:
            data = (media_dir / snapshot.path).read_bytes()
            digest = sha256_hex(data)
            if digest != snapshot.sha256:
                raise Conflict(
                    f"Snapshot {snapshot.id} no longer matches the hash recorded when it was "
                    f"stored ({snapshot.sha256}); it is not exported.",
                    field="snapshot",
                )
            name = _file_name(snapshot)
            (staging / name).write_bytes(data)
            files.append(
                {
                    "name": name,
                    "kind": "snapshot",
                    "sha256": digest,
                    "size_bytes": len(data),
                    "camera_id": snapshot.camera_id,
                    "snapshot_id": snapshot.id,
                    "captured_at": snapshot.captured_at.isoformat(),
                }
            )
        digest = files_digest(files)
        exported_at = utcnow()
        entry = audit_service.record(
            session,
            actor=actor,
            action="evidence.exported",
            object_type="incident",
            object_id=incident.id,
            station_id=incident.station_id,
            payload={
                "incident_id": incident.id,
                "reason": reason,
                "file_count": len(files),
                "files_sha256": digest,
                "files": [{"name": f["name"], "sha256": f["sha256"]} for f in files],
            },
        )
        export = EvidenceExport(
            station_id=incident.station_id,
            incident_id=incident.id,
            exporter=actor,
            reason=reason,
            file_count=len(files),
            files_sha256=digest,
            audit_seq=entry.seq,
            exported_at=exported_at,
        )
        session.add(export)
        session.flush()
        manifest = {
            "version": MANIFEST_VERSION,
            "export_id": export.id,
            "incident_id": incident.id,
            "station_id": incident.station_id,
            "exporter": actor,
            "reason": reason,
            "exported_at": exported_at.isoformat(),
            "files": files,
            "files_sha256": digest,
            "audit": {"seq": entry.seq, "hash": entry.hash},
        }
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

        def publish() -> None:
            if out_dir.exists():
                out_dir.rmdir()
            staging.rename(out_dir)

        # The folder appears only once its audit entry and export row are committed: a
        # manifest must never cite an entry that does not exist.
        after_commit(session, publish)
        after_rollback(session, lambda: shutil.rmtree(staging, ignore_errors=True))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


@dataclass
class Check:
    ok: bool
    files: int = 0
    problems: list[str] = field(default_factory=list)
    audit_seq: int | None = None


def verify_export(session: Session, *, folder: Path) -> Check:
    """Re-hash an export's files and check its manifest against the audit chain."""
    problems: list[str] = []
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        seq = int(manifest["audit"]["seq"])
        recorded_hash = str(manifest["audit"]["hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Check(False, problems=[f"no readable {MANIFEST}: {exc}"])
    listed = set()
    for item in files:
        name = str(item.get("name", ""))
        listed.add(name)
        path = folder / name
        if Path(name).name != name or not path.is_file():
            problems.append(f"{name}: missing")
            continue
        if sha256_hex(path.read_bytes()) != item.get("sha256"):
            problems.append(f"{name}: its SHA-256 differs from the manifest (changed)")
    for extra in sorted(p.name for p in folder.iterdir() if p.name not in listed | {MANIFEST}):
        problems.append(f"{extra}: not in the manifest")
    digest = files_digest(files)
    if digest != manifest.get("files_sha256"):
        problems.append("the manifest's file list was edited (files_sha256 differs)")
    entry = audit_service.get_entry(session, seq=seq)
    if entry is None:
        problems.append(f"audit entry {seq} does not exist")
    else:
        if entry.hash != recorded_hash:
            problems.append(f"audit entry {seq} has another hash than the manifest records")
        if entry.action != "evidence.exported" or entry.payload.get("files_sha256") != digest:
            problems.append(f"audit entry {seq} does not record this export's files")
        if str(entry.payload.get("incident_id")) != str(manifest.get("incident_id")):
            problems.append(f"audit entry {seq} is for another incident")
    chain = audit_service.verify(session)
    if not chain.ok:
        problems.append(f"the audit chain is broken at entry {chain.first_bad_seq}")
    return Check(not problems, files=len(files), problems=problems, audit_seq=seq)


def list_exports(
    session: Session, *, station_id: str, incident_id: int | None = None
) -> list[EvidenceExport]:
    """The station's evidence exports, newest first (optionally of one incident)."""
    query = select(EvidenceExport).where(EvidenceExport.station_id == station_id)
    if incident_id is not None:
        query = query.where(EvidenceExport.incident_id == incident_id)
    return list(session.scalars(query.order_by(EvidenceExport.id.desc())))
