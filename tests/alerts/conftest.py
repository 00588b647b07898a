"""Helpers for the public-alerts tests: the CAP 1.2 schema and a way to issue alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import update

from safezone.alerts.models import Alert

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
NS = {"cap": CAP_NS, "atom": ATOM_NS}
XSD = Path(__file__).with_name("CAP-v1.2.xsd")


@pytest.fixture(scope="session")
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture
def valid_cap(cap_schema: etree.XMLSchema) -> Callable[[bytes], Any]:
    """Parse a CAP document and assert that it is valid CAP 1.2; returns its root."""

    def check(document: bytes) -> Any:
        root = etree.fromstring(document)
        if not cap_schema.validate(root):
            raise AssertionError(f"not valid CAP 1.2: {cap_schema.error_log}")
        return root

    return check


def expire(db: Any, alert_id: int) -> None:
    """Move an alert's validity into the past, as if it had expired on its own."""
    past = datetime.now(UTC) - timedelta(minutes=5)
    with db.transaction() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(effective=past - timedelta(hours=1), expires=past)
        )


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def alert_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "headline_th": "คนร้ายหลบหนีไปทางตลาดอินโดจีน",
        "headline_en": "Suspect fled toward the Indochina Market",
        "description_th": "ผู้ต้องสงสัยชายสวมเสื้อสีแดง หลบหนีไปทางตลาดอินโดจีน",
        "description_en": "Male suspect in a red shirt fled toward the Indochina Market.",
        "instruction_th": "อย่าเข้าใกล้ โทร 191",
        "instruction_en": "Do not approach. Call 191.",
        "response_type": "Avoid",
        "zone_ids": ["ZONE-MARKET"],
        "expires": in_hours(2),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
def issue(client, auth) -> Callable[..., dict[str, Any]]:
    """Issue an alert as the MDH operator (or ``as_user``) and return the JSON answer."""

    def make(as_user: str = "operator", **overrides: Any) -> dict[str, Any]:
        r = client.post("/api/v1/alerts", json=alert_body(**overrides), headers=auth(as_user))
        assert r.status_code == 201, r.text
        return r.json()

    return make
