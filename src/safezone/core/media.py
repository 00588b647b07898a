"""Files kept beside the database (photos, snapshots), written all-or-nothing with it."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.orm import Session

from safezone.core.db import after_commit, after_rollback


def stage_file(session: Session, *, media_dir: Path, relative: str, data: bytes) -> Path:
    """Write ``data`` under a temporary name now; it takes its real name only when the
    session's transaction commits, and is deleted if it rolls back. So no file is left
    without its row, and no row points at a missing file."""
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(target.suffix + ".part")
    temporary.write_bytes(data)
    after_commit(session, lambda: os.replace(temporary, target))
    after_rollback(session, lambda: temporary.unlink(missing_ok=True))
    return target
