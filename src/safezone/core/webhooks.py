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

import httpx

from safezone.core.db import Database
from safezone.core.scheduler import claim
from safezone.core.security import hmac_sha256_hex

log = logging.getLogger(__name__)
WEBHOOK_ATTEMPTS = 3
_NODE = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def post_webhook_once(
    db: Database, url: str, *, body: dict[str, Any], secret: str | None, event_id: str
) -> bool:
    """Deliver an event's webhook from one node only (the first to claim it)."""
    with db.transaction() as session:
        if not claim(session, name=f"webhook.{event_id}", holder=_NODE, keep=timedelta(days=1)):
            return False
    return post_webhook(url, body=body, secret=secret, event_id=event_id)


def post_webhook(url: str, *, body: dict[str, Any], secret: str | None, event_id: str) -> bool:
    """POST a JSON event, signed when a secret is set; retried a few times."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json", "X-SafeZone-Event-Id": event_id}
    if secret:
        headers["X-SafeZone-Signature"] = hmac_sha256_hex(secret, data)
    for attempt in range(WEBHOOK_ATTEMPTS):
        try:
            response = httpx.post(url, content=data, headers=headers, timeout=5.0)
            if response.status_code < 300:
                return True
            log.warning("webhook %s answered %s", url, response.status_code)
        except httpx.HTTPError as exc:
            log.warning("webhook %s failed: %s", url, exc)
        if attempt + 1 < WEBHOOK_ATTEMPTS:
            time.sleep(0.5 * 2**attempt)
    return False
