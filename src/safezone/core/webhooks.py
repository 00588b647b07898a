"""Outgoing webhooks: a signed JSON POST, retried, delivered from one node only.

Used by the SOS escalation and the house-watch notices; the receiver checks
``X-SafeZone-Signature`` (HMAC-SHA256 of the body with the shared secret).
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from safezone.core.db import Database
from safezone.core.scheduler import claim
from safezone.core.security import hmac_sha256_hex

log = logging.getLogger(__name__)
WEBHOOK_ATTEMPTS = 3
_NODE = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def post_webhook_once(
    db: Database,
    url: str,
    *,
    body: dict[str, Any],
    secret: str | None,
    event_id: str,
    station_id: str | None = None,
) -> bool:
    """Deliver an event's webhook from one node only (the first to claim it). A webhook
    that still fails after its attempts is written to the audit trail
    (``webhook.failed``), so the station sees that the outside party was not told."""
    with db.transaction() as session:
        if not claim(session, name=f"webhook.{event_id}", holder=_NODE, keep=timedelta(days=1)):
            return False
    problem = deliver(url, body=body, secret=secret, event_id=event_id)
    if problem is None:
        return True
    from safezone.audit import service as audit_service  # (core's one use of the audit)

    with db.transaction() as session:
        audit_service.record(
            session,
            actor="system:webhooks",
            action="webhook.failed",
            object_type="webhook",
            object_id=event_id,
            station_id=station_id,
            payload={
                "event": body.get("event"),
                "host": urlsplit(url).hostname,
                "attempts": WEBHOOK_ATTEMPTS,
                "problem": problem[:300],
            },
        )
    return False


def deliver(url: str, *, body: dict[str, Any], secret: str | None, event_id: str) -> str | None:
    """POST a JSON event, signed when a secret is set, retried a few times: None once
    delivered, else what went wrong the last time."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json", "X-SafeZone-Event-Id": event_id}
    if secret:
        headers["X-SafeZone-Signature"] = hmac_sha256_hex(secret, data)
    problem = "not sent"
    for attempt in range(WEBHOOK_ATTEMPTS):
        try:
            response = httpx.post(url, content=data, headers=headers, timeout=5.0)
            if response.status_code < 300:
                return None
            problem = f"answered {response.status_code}"
        except Exception as exc:  # (a bad URL too: it is reported, never lost in a thread)
            problem = f"{type(exc).__name__}: {exc}"
        log.warning("webhook %s: %s", url, problem)
        if attempt + 1 < WEBHOOK_ATTEMPTS:
            time.sleep(0.5 * 2**attempt)
    return problem
