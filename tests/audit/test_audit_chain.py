"""The audit chain: written with every change, refused edits, and every kind of tampering
caught by `safezone audit verify`."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from safezone.audit import service as audit_service
from safezone.cli import main
from tests.conftest import INSIDE


@pytest.fixture
def chain(client, auth, db):
    """A station with some history: reports, an incident and its steps."""
    h = auth("operator")
    for i in range(3):
        client.post(
            "/api/v1/reports",
            json={
                "kind": "tip",
                "category": "drugs",
                "description": f"tip {i}",
                "lat": INSIDE[0],
                "lon": INSIDE[1],
            },
        )
    incident = client.post(
        "/api/v1/incidents",
        json={"category": "theft", "description": "x", "lat": INSIDE[0], "lon": INSIDE[1]},
        headers=h,
    ).json()
    client.post(
        f"/api/v1/incidents/{incident['id']}/transitions",
        json={"status": "acknowledged"},
        headers=h,
    )
    with db.reader() as session:
        result = audit_service.verify(session)
    assert result.ok and result.entries >= 10
    return result


def run_verify(settings, monkeypatch, capsys, *extra: str) -> tuple[int, str]:
    monkeypatch.setenv("SAFEZONE_DATABASE_URL", settings.resolved_database_url)
    code = main(["--data-dir", str(settings.data_dir), "audit", "verify", *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def tamper(db, *statements: str, params: dict | None = None) -> None:
    """What a database administrator could do: drop the guard triggers, then edit rows."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_append_only"))
        for statement in statements:
            conn.execute(text(statement), params or {})


def test_every_change_writes_an_entry_in_its_transaction(client, auth, db):
    h = auth("operator")
    r = client.post(
        "/api/v1/reports",
        json={
            "kind": "incident",
            "category": "theft",
            "description": "x",
            "lat": INSIDE[0],
            "lon": INSIDE[1],
        },
    )
    code = r.json()["tracking_code"]
    page = client.get("/api/v1/audit?action=report.created", headers=auth("commander")).json()
    entry = page["items"][-1]
    assert entry["payload"]["tracking_code"] == code
    assert entry["actor"] == "citizen:anonymous"
    assert entry["object_type"] == "report"
    # a refused change leaves no entry
    before = len(client.get("/api/v1/audit?limit=1000", headers=auth("admin")).json()["items"])
    client.post(
        "/api/v1/incidents",
        json={"category": "theft", "description": "", "lat": 0, "lon": 0},
        headers=h,
    )
    after = len(client.get("/api/v1/audit?limit=1000", headers=auth("admin")).json()["items"])
    assert before == after


def test_intact_chain_verifies(chain, settings, monkeypatch, capsys):
    code, out = run_verify(settings, monkeypatch, capsys)
    assert code == 0
    assert "intact" in out


def test_database_refuses_updates_and_deletes(chain, db):
    for statement in (
        "UPDATE audit_entries SET actor = 'someone' WHERE seq = 2",
        "DELETE FROM audit_entries WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))


def test_edited_entry_is_caught(chain, db, settings, monkeypatch, capsys):
    tamper(db, "UPDATE audit_entries SET actor = 'user:nobody' WHERE seq = 5")
    code, out = run_verify(settings, monkeypatch, capsys)
    assert code == 1
    assert "entry 5" in out and "changed" in out


def test_edited_payload_is_caught(chain, db, settings, monkeypatch, capsys):
    tamper(db, "UPDATE audit_entries SET payload = :p WHERE seq = 7", params={"p": '{"x": 1}'})
    code, out = run_verify(settings, monkeypatch, capsys)
    assert code == 1 and "entry 7" in out


def test_deleted_entry_is_caught(chain, db, settings, monkeypatch, capsys):
    tamper(db, "DELETE FROM audit_entries WHERE seq = 4")
    code, out = run_verify(settings, monkeypatch, capsys)
    assert code == 1
    assert "entry 4 is missing" in out


def test_inserted_entry_is_caught(chain, db, settings, monkeypatch, capsys):
    # Make room after entry 3, then insert a well-formed entry linked to entry 3.
    with db.reader() as session:
        head = audit_service.head(session)[0]
        third = session.execute(text("SELECT hash FROM audit_entries WHERE seq = 3")).scalar()
    shifts = [f"UPDATE audit_entries SET seq = seq + 1 WHERE seq = {s}" for s in range(head, 3, -1)]
    forged = audit_service.entry_hash(
        seq=4,
        ts="2026-01-01T00:00:00.000000Z",
        actor="user:ghost",
        action="incident.created",
        object_type="incident",
        object_id="99",
        station_id="MDH",
        payload={},
        prev_hash=third,
    )
    tamper(
        db,
        *shifts,
        "INSERT INTO audit_entries (seq, ts, actor, action, object_type, object_id, "
        "station_id, payload, prev_hash, hash) VALUES (4, '2026-01-01T00:00:00.000000Z', "
        "'user:ghost', 'incident.created', 'incident', '99', 'MDH', '{}', :prev, :hash)",
        params={"prev": third, "hash": forged},
    )
    code, out = run_verify(settings, monkeypatch, capsys)
    assert code == 1
    assert "entry 5" in out


def test_reordered_entries_are_caught(chain, db, settings, monkeypatch, capsys):
    tamper(
        db,
        "UPDATE audit_entries SET seq = -1 WHERE seq = 6",
        "UPDATE audit_entries SET seq = 6 WHERE seq = 7",
        "UPDATE audit_entries SET seq = 7 WHERE seq = -1",
    )
    code, out = run_verify(settings, monkeypatch, capsys)
    assert code == 1
    assert "entry 6" in out


def test_truncated_tail_is_caught_with_an_anchor(chain, db, settings, monkeypatch, capsys):
    with db.reader() as session:
        seq, digest = audit_service.head(session)
    tamper(db, f"DELETE FROM audit_entries WHERE seq = {seq}")
    code, _ = run_verify(settings, monkeypatch, capsys)
    assert code == 0  # the chain alone cannot see a cut tail...
    code, out = run_verify(settings, monkeypatch, capsys, "--anchor", f"{seq}:{digest}")
    assert code == 1  # ...an anchor kept elsewhere can
    assert f"anchored entry {seq} is missing" in out


def test_bad_anchor_argument(chain, settings, monkeypatch, capsys):
    code, out = run_verify(settings, monkeypatch, capsys, "--anchor", "12:nothex")
    assert code == 2
    assert "--anchor" in out


def test_audit_api_is_for_commanders_and_admins(chain, client, auth):
    assert client.get("/api/v1/audit", headers=auth("operator")).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401
    page = client.get("/api/v1/audit?limit=3", headers=auth("commander")).json()
    assert [e["seq"] for e in page["items"]] == sorted(e["seq"] for e in page["items"])
    assert page["next_after_seq"] == page["items"][-1]["seq"]
    nxt = client.get(
        f"/api/v1/audit?after_seq={page['next_after_seq']}&limit=3", headers=auth("commander")
    ).json()
    assert nxt["items"][0]["seq"] > page["next_after_seq"]
    assert client.get("/api/v1/audit/verify", headers=auth("admin")).json()["ok"] is True
    # another station's commander reads only their own station's entries
    other = client.get("/api/v1/audit?limit=1000", headers=auth("admin")).json()["items"]
    assert all(e["station_id"] == "MDH" for e in other)


def _entry(session, action: str) -> None:
    audit_service.record(
        session,
        actor="test",
        action=action,
        object_type="test",
        object_id=action,
        station_id=None,
    )


def test_chain_stays_linked_around_savepoints_and_transactions(db):
    """A transaction reads the head once and goes on from its own entries; an entry in a
    savepoint that is rolled back, or another writer between two transactions of the same
    session, must not leave the next entry pointing at a head that is not there."""
    with db.transaction() as session:
        _entry(session, "first")
        with pytest.raises(RuntimeError), session.begin_nested():
            _entry(session, "rolled-back")
            raise RuntimeError("undo the savepoint")
        _entry(session, "after-rollback")
        with session.begin_nested():
            _entry(session, "released")
        _entry(session, "after-release")
    session = db.session(write=True)
    try:
        _entry(session, "one-session-first")
        session.commit()
        with db.transaction() as other:
            _entry(other, "another-writer")
        _entry(session, "one-session-second")
        session.commit()
    finally:
        session.close()
    with db.reader() as session:
        result = audit_service.verify(session)
        actions = [e.action for e in audit_service._iter_chain(session)]
    assert result.ok, result.problem
    assert "rolled-back" not in actions
    assert actions[-7:] == [
        "first",
        "after-rollback",
        "released",
        "after-release",
        "one-session-first",
        "another-writer",
        "one-session-second",
    ]
