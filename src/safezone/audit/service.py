"""The audit chain: every state change, hash-linked, written in the change's transaction.

``record`` is the one way to write an audit entry, and it also queues the change's
outbox event, so the row, its audit entry and its event commit or fail together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from safezone.audit.models import AuditEntry
from safezone.core.bus import outbox
from safezone.core.security import canonical_json, sha256_hex

GENESIS_HASH = "0" * 64


def entry_hash(
    *,
    seq: int,
    ts: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    station_id: str | None,
    payload: Any,
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of every field but the hash itself."""
    return sha256_hex(
        canonical_json(
            {
                "seq": seq,
                "ts": ts,
                "actor": actor,
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "station_id": station_id,
                "payload": payload,
                "prev_hash": prev_hash,
            }
        )
    )


def _format_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_HEAD = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
_INSERT = insert(AuditEntry)


def _head(session: Session, connection: Connection) -> tuple[int, str]:
    """The chain's head (seq, hash): read once per transaction, then known from the
    entries it appended itself (no other writer can append while it writes)."""
    known = session.info.get(_HEAD_KEY)
    if (
        known is not None
        and known[0] is session.get_transaction()
        and not session.in_nested_transaction()
    ):
        return known[1], known[2]
    head = connection.execute(_HEAD).first()
    return (head.seq, head.hash) if head else (0, GENESIS_HASH)


def _remember_head(session: Session, seq: int, digest: str) -> None:
    """Keep the head for this transaction's next entry. Not for an entry written inside
    a savepoint, which may yet be rolled back: the next entry reads the head again."""
    if session.in_nested_transaction():
        session.info.pop(_HEAD_KEY, None)
    else:
        session.info[_HEAD_KEY] = (session.get_transaction(), seq, digest)


_HEAD_KEY = "audit_head"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    station_id: str | None,
    payload: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    topic: str | None = None,
) -> AuditEntry:
    """Append an audit entry and, when ``event`` is given, queue its outbox event.

    The event's topic defaults to the action (for example ``incident.status_changed``).
    """
    outbox.serialize_writers(session)
    # The head of the chain, this transaction's own entries included (no other writer can
    # append while it holds the write lock; ``_head`` reads it once a transaction).
    # Entries go in at once, through Core on the session's connection, so the database
    # always knows the head: also after a savepoint is rolled back, and with no ORM
    # bookkeeping under the write lock.
    connection = session.connection()
    head_seq, prev_hash = _head(session, connection)
    seq = head_seq + 1
    ts = _format_ts(datetime.now(UTC))
    fields: dict[str, Any] = {
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "station_id": station_id,
        "payload": payload or {},
    }
    digest = entry_hash(seq=seq, ts=ts, prev_hash=prev_hash, **fields)
    values = {"seq": seq, "ts": ts, "prev_hash": prev_hash, "hash": digest, **fields}
    connection.execute(_INSERT, values)
    _remember_head(session, seq, digest)
    if event is not None:
        outbox.enqueue(
            session,
            topic=topic or action,
            payload=event,
            station_id=station_id,
            audit_seq=seq,
        )
    return AuditEntry(**values)  # a copy of the stored row (not in the session)


def list_entries(
    session: Session, *, station_id: str, after_seq: int, limit: int, action: str | None = None
) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.seq > after_seq, AuditEntry.station_id == station_id)
        .order_by(AuditEntry.seq)
        .limit(limit)
    )
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query).all())


@dataclass
class Verification:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def _iter_chain(session: Session) -> Iterator[AuditEntry]:
    result = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
    )
    for (row,) in result:
        yield row


def verify(session: Session, *, anchors: dict[int, str] | None = None) -> Verification:
    """Walk the whole chain; report the first entry that was edited, removed, inserted
    or moved. ``anchors`` (seq -> hash, kept outside the database) also catch a chain
    that was cut short or rewritten from some point on."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    seen: dict[int, str] = {}
    for row in _iter_chain(session):
        count += 1
        if row.seq != expected_seq:
            problem = (
                f"entry {expected_seq} is missing (deleted?); the chain jumps to {row.seq}"
                if row.seq > expected_seq
                else f"entry {row.seq} appears out of order"
            )
            return Verification(False, count, row.seq, row.hash, expected_seq, problem)
        if row.prev_hash != prev_hash:
            return Verification(
                False,
                count,
                row.seq,
                row.hash,
                row.seq,
                f"entry {row.seq} does not link to entry {row.seq - 1} "
                "(inserted, removed or reordered entries)",
            )
        recomputed = entry_hash(
            seq=row.seq,
            ts=row.ts,
            actor=row.actor,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            station_id=row.station_id,
            payload=row.payload,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            return Verification(
                False,
                count,
                row.seq,
                row.hash,
                row.seq,
                f"entry {row.seq} was changed after it was written (its hash does not match)",
            )
        if anchors and row.seq in anchors:
            seen[row.seq] = row.hash
        prev_hash = row.hash
        expected_seq += 1
    head_seq = expected_seq - 1
    for seq, anchored in sorted((anchors or {}).items()):
        if seq not in seen:
            return Verification(
                False, count, head_seq, prev_hash, seq, f"anchored entry {seq} is missing"
            )
        if seen[seq] != anchored:
            return Verification(
                False,
                count,
                head_seq,
                prev_hash,
                seq,
                f"entry {seq} differs from its anchor (the chain was rewritten)",
            )
    return Verification(True, count, head_seq, prev_hash)


def head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


def get_entry(session: Session, *, seq: int) -> AuditEntry | None:
    """One entry of the chain by its position, or None."""
    return session.get(AuditEntry, seq)
