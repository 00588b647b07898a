from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from safezone.core.bus import Event
from safezone.core.permissions import CONTROL_ROOM, Principal, allow, still_signed_in
from safezone.dispatch import service as dispatch_service
from safezone.realtime import service as realtime_service

router = APIRouter(prefix="/api/v1/events", tags=["events"])
officer_router = APIRouter(prefix="/api/v1/officer/events", tags=["events"])

LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]
After = Annotated[
    int | None,
    Query(
        ge=0,
        description="Replay after this id (for clients that cannot set the Last-Event-ID header)",
    ),
]


def _respond(
    request: Request,
    principal: Principal,
    events: realtime_service.StreamFilter,
    last_event_id: str | None,
    after: int | None,
) -> StreamingResponse:
    start = realtime_service.parse_last_event_id(last_event_id)
    if start is None:
        start = after
    frames = realtime_service.stream(
        db=request.app.state.db,
        hub=request.app.state.stream_hub,
        events=events,
        last_event_id=start,
        poll_s=request.app.state.settings.sse_poll_s,
        is_disconnected=request.is_disconnected,
        still_allowed=still_signed_in(request, principal),
    )
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/stream", response_class=StreamingResponse)
async def event_stream(
    request: Request,
    principal: Annotated[Principal, allow(*CONTROL_ROOM)],
    last_event_id: LastEventId = None,
    after: After = None,
) -> StreamingResponse:
    """Server-sent events: every incident, report and registry change at your station."""
    events = realtime_service.StreamFilter(station_id=principal.station_id)
    return _respond(request, principal, events, last_event_id, after)


@officer_router.get("/stream", response_class=StreamingResponse)
async def officer_event_stream(
    request: Request,
    principal: Annotated[Principal, allow("officer")],
    last_event_id: LastEventId = None,
    after: After = None,
) -> StreamingResponse:
    """Server-sent events for the officer app: only the dispatch events (assigned, a
    step, cancelled, acknowledgement overdue) of assignments you must acknowledge."""
    user_id = principal.user_id

    def mine(event: Event) -> bool:
        return dispatch_service.event_is_for_officer(event.payload, user_id=user_id)

    events = realtime_service.StreamFilter(
        station_id=principal.station_id,
        topic_prefixes=dispatch_service.EVENT_TOPICS,
        accepts=mine,
    )
    return _respond(request, principal, events, last_event_id, after)
