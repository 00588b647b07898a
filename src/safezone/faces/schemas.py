"""Watchlist and review queue: request and response bodies."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from safezone.core.db import utcnow

Category = Literal["wanted", "missing", "other"]
MatchStatus = Literal["pending", "confirmed", "rejected"]
Evidence = Literal["crop", "frame"]
MAX_ENTRY_DAYS = 366
MAX_PHOTOS = 5


def _decode_photo(value: str) -> str:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a photo must be a base64-encoded JPEG or PNG") from exc
    if not data:
        raise ValueError("a photo must not be empty")
    return value


Photo = Annotated[str, Field(min_length=8), AfterValidator(_decode_photo)]
Text = Annotated[str, Field(min_length=3, max_length=200)]


class EntryCreate(BaseModel):
    """An enrolment: who, why (legal basis), who approved it, until when, and photos."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person_id: str = Field(
        min_length=1, max_length=64, description="The person's reference (ID card or case)."
    )
    person_name: str = Field(min_length=1, max_length=200)
    category: Category
    legal_basis: Text = Field(description="The warrant or case number that allows this.")
    approved_by: Text = Field(description="Name and rank of the approving officer.")
    expires_at: AwareDatetime = Field(
        description=f"When the entry and its embeddings are purged (at most {MAX_ENTRY_DAYS}"
        " days ahead)."
    )
    notes: str = Field("", max_length=2000)
    photos: list[Photo] = Field(
        min_length=1, max_length=MAX_PHOTOS, description="Base64 JPEG/PNG enrolment photos."
    )

    @field_validator("expires_at")
    @classmethod
    def _in_window(cls, value: datetime) -> datetime:
        now = utcnow()
        if value <= now:
            raise ValueError("the expiry must be in the future")
        if value > now + timedelta(days=MAX_ENTRY_DAYS):
            raise ValueError(f"the expiry must be within {MAX_ENTRY_DAYS} days; renew it later")
        return value

    def photo_bytes(self) -> list[bytes]:
        return [base64.b64decode(p) for p in self.photos]


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    station_id: str
    person_id: str
    person_name: str
    category: Category
    legal_basis: str
    approved_by: str
    enrolled_by: str
    notes: str
    expires_at: datetime
    created_at: datetime
    photo_ids: list[int] = []


class SearchCreate(BaseModel):
    """A 1:N search of one photo against the station's watchlist, with its reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    photo: Photo
    reason: Text = Field(description="Why this search is made (case number, request).")


class SearchHit(BaseModel):
    entry_id: str
    person_id: str
    person_name: str
    category: Category
    similarity: float


class MatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: str
    camera_id: str
    entry_id: str | None
    person_id: str
    category: Category
    similarity: float
    votes: int
    seen_at: datetime
    status: MatchStatus
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    has_evidence: bool = False
    person_name: str | None = None
    enrolment_photo_id: int | None = None


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["confirm", "reject"]
    note: str = Field("", max_length=2000)


class CameraFalseMatches(BaseModel):
    camera_id: str
    matches: int
    pending: int
    confirmed: int
    rejected: int
    false_match_rate: float | None = Field(
        description="rejected / (confirmed + rejected); null before any decision"
    )
