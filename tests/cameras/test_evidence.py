"""Evidence export with chain of custody: files hashed, the export in the audit chain,
and a later check that catches any change to the files, the manifest or the chain."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from safezone.audit.models import AuditEntry
from safezone.cameras import evidence
from safezone.cameras.models import EvidenceExport
from safezone.cameras.service import store_snapshot
from safezone.cli import main
from safezone.core.errors import Conflict, InvalidInput, NotFound
from safezone.core.security import sha256_hex
from safezone.incidents import service as incidents_service
from safezone.incidents.schemas import IncidentCreate

JPEGS = [b"\xff\xd8one\xff\xd9", b"\xff\xd8two-two\xff\xd9"]


@pytest.fixture
def incident(db, settings) -> int:
    with db.transaction() as session:
        opened = incidents_service.create_incident(
            session,
            data=IncidentCreate(
                category="theft", description="bag snatched", lat=16.544, lon=104.728
            ),
            source="operator",
            actor="user:operator",
            station_id="MDH",
        )
        for number, data in enumerate(JPEGS, start=1):
            store_snapshot(
                session,
                station_id="MDH",
                camera_id=f"CAM-{number}",
                incident_id=opened.id,
                data=data,
                content_type="image/jpeg",
                media_dir=settings.media_dir,
                actor="system:sos",
            )
        return opened.id


def _export(db, settings, incident, out, **extra):
    with db.transaction() as session:
        return evidence.export_incident(
            session,
            incident_id=incident,
            station_id=extra.get("station_id", "MDH"),
            out_dir=out,
            media_dir=settings.media_dir,
            actor="user:commander",
            reason=extra.get("reason", "court case 123/2569"),
        )


def _verify(db, folder):
    with db.reader() as session:
        return evidence.verify_export(session, folder=folder)


def test_export_writes_hashed_files_and_records_the_custody(db, settings, incident, tmp_path):
    out = tmp_path / "export"
    manifest = _export(db, settings, incident, out)
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([f["name"] for f in manifest["files"]] + ["manifest.json"])
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert [f["sha256"] for f in manifest["files"]] == [sha256_hex(d) for d in JPEGS]
    for item in manifest["files"]:
        assert sha256_hex((out / item["name"]).read_bytes()) == item["sha256"]
    assert manifest["incident_id"] == incident and manifest["exporter"] == "user:commander"
    assert manifest["reason"] == "court case 123/2569"
    with db.reader() as session:
        entry = session.get(AuditEntry, manifest["audit"]["seq"])
        assert entry is not None
        assert (entry.action, entry.actor, entry.object_id) == (
            "evidence.exported",
            "user:commander",
            str(incident),
        )
        assert entry.hash == manifest["audit"]["hash"]
        assert entry.payload["files_sha256"] == manifest["files_sha256"]
        [row] = session.scalars(select(EvidenceExport)).all()
        assert (row.incident_id, row.exporter, row.file_count, row.audit_seq) == (
            incident,
            "user:commander",
            2,
            entry.seq,
        )
    check = _verify(db, out)
    assert check.ok, check.problems
    assert check.files == 2


def test_a_changed_file_is_caught(db, settings, incident, tmp_path):
    out = tmp_path / "export"
    manifest = _export(db, settings, incident, out)
    (out / manifest["files"][0]["name"]).write_bytes(b"\xff\xd8edited\xff\xd9")
    check = _verify(db, out)
    assert not check.ok
    assert any("differs from the manifest" in p for p in check.problems)


def test_a_manifest_edited_to_match_a_changed_file_is_caught(db, settings, incident, tmp_path):
    out = tmp_path / "export"
    manifest = _export(db, settings, incident, out)
    forged = b"\xff\xd8forged\xff\xd9"
    (out / manifest["files"][0]["name"]).write_bytes(forged)
    manifest["files"][0]["sha256"] = sha256_hex(forged)
    (out / "manifest.json").write_text(json.dumps(manifest))
    check = _verify(db, out)
    assert not check.ok
    assert any("file list was edited" in p for p in check.problems)
    # Recomputing files_sha256 too does not help: the audit chain holds the original.
    manifest["files_sha256"] = evidence.files_digest(manifest["files"])
    (out / "manifest.json").write_text(json.dumps(manifest))
    check = _verify(db, out)
    assert not check.ok
    assert any("does not record this export's files" in p for p in check.problems)


def test_removed_and_added_files_are_caught(db, settings, incident, tmp_path):
    out = tmp_path / "export"
    manifest = _export(db, settings, incident, out)
    (out / manifest["files"][1]["name"]).unlink()
    (out / "extra.jpg").write_bytes(b"x")
    problems = _verify(db, out).problems
    assert any("missing" in p for p in problems)
    assert any("extra.jpg: not in the manifest" in p for p in problems)


def test_a_rewritten_audit_chain_is_caught(db, settings, incident, tmp_path):
    out = tmp_path / "export"
    manifest = _export(db, settings, incident, out)
    seq = manifest["audit"]["seq"]
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_append_only"))
        conn.execute(
            text("UPDATE audit_entries SET actor = 'user:someone' WHERE seq = :seq"), {"seq": seq}
        )
    check = _verify(db, out)
    assert not check.ok
    assert any("audit chain is broken" in p for p in check.problems)


def test_refusals_leave_nothing_written(db, settings, incident, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(Conflict):
        _export(db, settings, incident, busy)
    with pytest.raises(InvalidInput) as refused:
        _export(db, settings, incident, tmp_path / "a", reason=" ")
    assert refused.value.field == "reason"
    with pytest.raises(NotFound):
        _export(db, settings, incident, tmp_path / "b", station_id="BKK")
    # A stored snapshot changed on disk is refused, not exported.
    with db.reader() as session:
        path = (
            settings.media_dir
            / evidence.snapshots_for_incident(session, incident_id=incident)[0].path
        )
    path.write_bytes(b"tampered")
    with pytest.raises(Conflict) as stale:
        _export(db, settings, incident, tmp_path / "c")
    assert stale.value.field == "snapshot"
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c"))
    assert not any(p.name.startswith(".export-") for p in tmp_path.iterdir())
    with db.reader() as session:
        assert session.scalars(select(EvidenceExport)).all() == []
        assert not session.scalars(
            select(AuditEntry).where(AuditEntry.action == "evidence.exported")
        ).all()


def test_cli_export_and_verify(db, settings, incident, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    base = ["--data-dir", str(settings.data_dir), "evidence"]
    out = tmp_path / "court"
    code = main(
        [
            *base,
            "export",
            "--incident",
            str(incident),
            "--out",
            str(out),
            "--by",
            "commander",
            "--reason",
            "court case 123/2569",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "exported 2 files" in capsys.readouterr().out
    assert main([*base, "verify", str(out)]) == 0
    assert "evidence intact: 2 files" in capsys.readouterr().out
    (out / json.loads((out / "manifest.json").read_text())["files"][0]["name"]).write_bytes(b"x")
    assert main([*base, "verify", str(out)]) == 1
    assert "EVIDENCE NOT INTACT" in capsys.readouterr().err
    # Only control-room accounts export; a bad incident is a clear error.
    code = main(
        [
            *base,
            "export",
            "--incident",
            str(incident),
            "--out",
            str(tmp_path / "o"),
            "--by",
            "officer",
            "--reason",
            "x case",
        ]
    )
    assert code == 2 and "--by: officer is officer" in capsys.readouterr().err
    code = main(
        [
            *base,
            "export",
            "--incident",
            "999999",
            "--out",
            str(tmp_path / "o"),
            "--by",
            "commander",
            "--reason",
            "x case",
        ]
    )
    assert code == 2 and "error" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_exports_are_listed_for_the_control_room(
    client, auth, db, settings, incident, tmp_path
):
    manifest = _export(db, settings, incident, tmp_path / "one")
    r = client.get("/api/v1/evidence-exports", headers=auth("commander"))
    assert r.status_code == 200, r.text
    [row] = r.json()
    assert (row["incident_id"], row["exporter"], row["file_count"], row["audit_seq"]) == (
        incident,
        "user:commander",
        2,
        manifest["audit"]["seq"],
    )
    assert row["files_sha256"] == manifest["files_sha256"]
    params = {"incident_id": incident + 1}
    assert client.get("/api/v1/evidence-exports", params=params, headers=auth("admin")).json() == []
    assert client.get("/api/v1/evidence-exports", headers=auth("other_operator")).json() == []
    assert client.get("/api/v1/evidence-exports", headers=auth("officer")).status_code == 403


def test_an_export_whose_transaction_fails_leaves_no_folder(db, settings, incident, tmp_path):
    """The folder appears only once the audit entry it cites is committed."""
    out = tmp_path / "exports" / "case-1"

    class CommitFailed(Exception):
        pass

    with pytest.raises(CommitFailed), db.transaction() as session:
        evidence.export_incident(
            session,
            incident_id=incident,
            station_id="MDH",
            out_dir=out,
            media_dir=settings.media_dir,
            actor="user:commander",
            reason="court case 123/2569",
        )
        assert not out.exists()  # not before the commit
        raise CommitFailed
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # nor its staging folder
    with db.reader() as session:
        assert session.scalars(select(EvidenceExport)).all() == []
