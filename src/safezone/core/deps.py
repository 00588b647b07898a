"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from safezone.config import Settings
from safezone.core.db import Database

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent.

    Requests that change things get a write transaction (BEGIN IMMEDIATE on SQLite).
    """
    yield from _session(request, write=request.method not in SAFE_METHODS)


def get_write_session(request: Request) -> Iterator[Session]:
    """A write transaction even for a GET: for reads that must be audited (viewings)."""
    yield from _session(request, write=True)


def _session(request: Request, *, write: bool) -> Iterator[Session]:
    db = get_database(request)
    session = db.session(write=write)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
AuditedReadDep = Annotated[Session, Depends(get_write_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
