from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from safezone.audit import schemas
from safezone.audit import service as audit_service
from safezone.core.deps import SessionDep
from safezone.core.permissions import COMMAND, Principal, allow

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Command = Annotated[Principal, allow(*COMMAND)]


@router.get("", response_model=schemas.AuditPage)
def list_entries(
    session: SessionDep,
    principal: Command,
    after_seq: Annotated[int, Query(ge=0, description="Entries after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """The station's audit entries in chain order; page with next_after_seq."""
    items = audit_service.list_entries(
        session,
        station_id=principal.station_id,
        after_seq=after_seq,
        limit=limit,
        action=action,
    )
    return schemas.AuditPage(
        items=[schemas.AuditEntryRead.model_validate(e) for e in items],
        next_after_seq=items[-1].seq if len(items) == limit else None,
    )


@router.get("/verify", response_model=schemas.VerifyResult)
def verify(session: SessionDep, principal: Command) -> Any:
    """Check the whole chain now (the same check as `safezone audit verify`)."""
    result = audit_service.verify(session)
    return schemas.VerifyResult(**result.__dict__)
