"""Deciding a face match: one decision per match, also when two reviewers decide at once.

These run on SQLite and, in CI's PostgreSQL lane, on PostgreSQL, where the race is real:
without the row lock both reviewers' decisions would commit, the second over the first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import ORMExecuteState

from safezone.core.db import Database
from safezone.core.errors import Conflict
from safezone.core.permissions import Principal
from safezone.faces import schemas
from safezone.faces import service as faces_service
from safezone.faces.engine import FaceEngine
from safezone.faces.models import FaceMatch
from tests.faces.test_watchlist import V1, enrol, queue

OPERATOR = Principal(user_id=0, username="operator", role="operator", station_id="MDH")
COMMANDER = Principal(user_id=0, username="commander", role="commander", station_id="MDH")


@pytest.fixture
def api(app: Any, engine: FaceEngine) -> Iterator[TestClient]:
    app.state.face_engine = engine  # the session's engine: loading one takes a moment
    with TestClient(app) as client:
        yield client


def assert_still_confirmed(db: Database, settings: Any, match_id: int) -> None:
    """The first decision stands: confirmed by the operator, its evidence kept."""
    with db.reader() as session:
        match = session.get(FaceMatch, match_id)
        assert match is not None
        assert (match.status, match.decided_by) == ("confirmed", "user:operator")
        assert match.crop_path is not None and (settings.media_dir / match.crop_path).is_file()


def test_a_second_decision_on_a_decided_match_is_refused_naming_its_state(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    match_id = queue(db, settings, enrol(api, auth)["id"])
    ok = api.post(
        f"{V1}/matches/{match_id}/decision", json={"decision": "confirm"}, headers=auth("operator")
    )
    assert ok.status_code == 200, ok.text
    again = api.post(
        f"{V1}/matches/{match_id}/decision", json={"decision": "reject"}, headers=auth("commander")
    )
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert (error["code"], error["field"]) == ("conflict", "decision")
    assert "already confirmed by user:operator" in error["message"]
    [state] = error["details"]
    assert (state["match_id"], state["status"], state["decided_by"]) == (
        match_id,
        "confirmed",
        "user:operator",
    )
    assert state["decided_at"]
    # The refused rejection changed nothing: the match stays confirmed with its evidence.
    assert_still_confirmed(db, settings, match_id)


def test_two_reviewers_deciding_at_once_one_wins(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    match_id = queue(db, settings, enrol(api, auth)["id"])
    first_decided = threading.Event()
    second_started = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with db.transaction() as session:
            faces_service.decide(
                session,
                principal=OPERATOR,
                match_id=match_id,
                data=schemas.DecisionCreate(decision="confirm"),
                media_dir=settings.media_dir,
            )
            first_decided.set()
            # Still uncommitted while the second reviewer reads the match.
            second_started.wait(10)
            time.sleep(0.5)

    def second() -> None:
        first_decided.wait(10)
        second_started.set()
        try:
            with db.transaction() as session:
                faces_service.decide(
                    session,
                    principal=COMMANDER,
                    match_id=match_id,
                    data=schemas.DecisionCreate(decision="reject"),
                    media_dir=settings.media_dir,
                )
            outcome["second"] = "decided"
        except Conflict as exc:
            outcome["second"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    refused = outcome.get("second")
    assert isinstance(refused, Conflict), refused
    assert refused.details[0]["status"] == "confirmed"
    assert_still_confirmed(db, settings, match_id)


def test_the_decision_reads_the_match_row_locked(
    api: Any, auth: Any, db: Database, settings: Any
) -> None:
    """On SQLite the lock is not visible (writes are serial); the statement still asks for
    it, so that PostgreSQL gets ``SELECT ... FOR UPDATE``."""
    match_id = queue(db, settings, enrol(api, auth)["id"])
    selects: list[str] = []

    def capture(state: ORMExecuteState) -> None:
        if state.is_select:
            selects.append(str(state.statement.compile(dialect=postgresql.dialect())))

    with db.transaction() as session:
        event.listen(session, "do_orm_execute", capture)
        faces_service.decide(
            session,
            principal=OPERATOR,
            match_id=match_id,
            data=schemas.DecisionCreate(decision="confirm"),
            media_dir=settings.media_dir,
        )
    assert any("FROM face_matches" in s and s.rstrip().endswith("FOR UPDATE") for s in selects), (
        selects
    )
