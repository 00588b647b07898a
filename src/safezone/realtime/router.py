from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from safezone.core.permissions import CONTROL_ROOM, Principal, allow
from safezone.realtime import service as realtime_service

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.get("/stream", response_class=StreamingResponse)
async def event_stream(
    request: Request,
    principal: Annotated[Principal, allow(*CONTROL_ROOM)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            description="Replay after this id (for clients that cannot "
            "set the Last-Event-ID header)",
        ),
    ] = None,
) -> StreamingResponse:
    """Server-sent events: every incident, report and registry change at your station."""
    start = realtime_service.parse_last_event_id(last_event_id)
    if start is None:
        start = after
    frames = realtime_service.stream(
        db=request.app.state.db,
        hub=request.app.state.stream_hub,
        station_id=principal.station_id,
        last_event_id=start,
        poll_s=request.app.state.settings.sse_poll_s,
        is_disconnected=request.is_disconnected,
    )
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
