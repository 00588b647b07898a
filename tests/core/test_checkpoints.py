"""Server processes checkpoint SQLite's WAL in a thread of their own, never in a commit."""

from __future__ import annotations

import time

from sqlalchemy import text

from safezone.core.db import Database


def _pragma(db: Database, sql: str) -> tuple:
    connection = db.engine.raw_connection()
    try:
        return tuple(connection.cursor().execute(sql).fetchone())
    finally:
        connection.close()


def _write_rows(db: Database, n: int) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (x TEXT)"))
        for _ in range(n):
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": "x" * 2000})


def test_a_server_process_checkpoints_in_the_background(tmp_path, monkeypatch):
    monkeypatch.setattr("safezone.core.db.CHECKPOINT_INTERVAL_S", 0.05)
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        assert _pragma(db, "PRAGMA wal_autocheckpoint") == (1000,)  # SQLite's own, by default
        db.start_checkpoints()
        # Commits no longer checkpoint (a press never pays for copying the WAL back)...
        assert _pragma(db, "PRAGMA wal_autocheckpoint") == (0,)
        _write_rows(db, 200)
        # ...the thread does: soon it has copied every frame of the WAL back.
        checkpointer = db._checkpointer
        assert checkpointer is not None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            last = checkpointer.last
            if last is not None and last[1] >= 90 and last[2] == last[1]:
                break
            time.sleep(0.05)
        assert last is not None and last[1] >= 90 and last[2] == last[1], last
        db.stop_checkpoints()
        assert _pragma(db, "PRAGMA wal_autocheckpoint") == (1000,)
    finally:
        db.dispose()


def test_an_in_memory_database_needs_no_checkpointer():
    memory = Database("sqlite://")
    memory.start_checkpoints()  # nothing to checkpoint in memory
    assert memory._checkpointer is None
    memory.dispose()
