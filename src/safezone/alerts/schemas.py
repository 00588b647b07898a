"""Public alerts: request and response bodies. Enumerations are CAP 1.2's own words."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

CapStatus = Literal["Actual", "Exercise", "Test"]
MsgType = Literal["Alert", "Update", "Cancel"]
Category = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]
ResponseType = Literal[
    "Shelter",
    "Evacuate",
    "Prepare",
    "Execute",
    "Avoid",
    "Monitor",
    "Assess",
    "AllClear",
    "None",
]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
# pending: takes effect later; superseded: an Update replaced it; cancellation: a Cancel.
State = Literal["pending", "active", "expired", "superseded", "cancelled", "cancellation"]

DEFAULT_EVENT_TH = "ประกาศเตือนภัยจากตำรวจ"
DEFAULT_EVENT_EN = "Police public safety alert"

# Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(value: str) -> str:
    if _NOT_XML.search(value):
        raise ValueError("contains a control character that an alert cannot carry")
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


XmlText = Annotated[str, AfterValidator(_xml_safe)]
EventText = Annotated[XmlText, Field(min_length=1, max_length=200)]
Headline = Annotated[XmlText, Field(min_length=1, max_length=160)]
Description = Annotated[XmlText, Field(min_length=1, max_length=4000)]
Instruction = Annotated[XmlText, Field(min_length=1, max_length=2000)]
Note = Annotated[XmlText, Field(min_length=1, max_length=1000)]
OptionalHeadline = Annotated[Headline | None, BeforeValidator(_blank_is_none)]
OptionalDescription = Annotated[Description | None, BeforeValidator(_blank_is_none)]
OptionalInstruction = Annotated[Instruction | None, BeforeValidator(_blank_is_none)]
OptionalNote = Annotated[Note | None, BeforeValidator(_blank_is_none)]
ZoneIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]],
    Field(min_length=1, max_length=20, description="Safety zones of your station (ids)"),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AlertCreate(_In):
    status: CapStatus = Field("Actual", description="CAP status: Actual, Exercise or Test")
    category: Category = "Security"
    event_th: EventText = DEFAULT_EVENT_TH
    event_en: EventText = DEFAULT_EVENT_EN
    response_type: ResponseType | None = None
    urgency: Urgency = "Immediate"
    severity: Severity = "Severe"
    certainty: Certainty = "Observed"
    headline_th: Headline = Field(description="Thai headline (required), under 160 characters")
    headline_en: OptionalHeadline = None
    description_th: Description
    description_en: OptionalDescription = None
    instruction_th: OptionalInstruction = None
    instruction_en: OptionalInstruction = None
    zone_ids: ZoneIds
    incident_id: int | None = Field(None, description="An incident of your station")
    effective: AwareDatetime | None = Field(None, description="Default: now")
    expires: AwareDatetime = Field(description="Future, with a UTC offset; at most 7 days")
    note: OptionalNote = Field(None, description="CAP <note>: why this message was sent")


class AlertUpdate(_In):
    """An Update message: what is left out is carried over from the alert it replaces;
    null removes an optional text (for example the English version)."""

    category: Category | None = None
    event_th: EventText | None = None
    event_en: EventText | None = None
    response_type: ResponseType | None = None
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = None
    headline_th: Headline | None = None
    headline_en: OptionalHeadline = None
    description_th: Description | None = None
    description_en: OptionalDescription = None
    instruction_th: OptionalInstruction = None
    instruction_en: OptionalInstruction = None
    zone_ids: ZoneIds | None = None
    effective: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    note: OptionalNote = None


class AlertCancel(_In):
    note: OptionalNote = Field(None, description="Why the alert is cancelled (CAP <note>)")


class AlertArea(BaseModel):
    zone_id: str
    name_th: str
    name_en: str
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (lon, lat)")


class _Content(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    identifier: str
    station_id: str
    status: CapStatus
    msg_type: MsgType
    category: Category
    event_th: str
    event_en: str
    response_type: ResponseType | None
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    headline_th: str
    headline_en: str | None
    description_th: str
    description_en: str | None
    instruction_th: str | None
    instruction_en: str | None
    effective: datetime
    expires: datetime
    sent: datetime


class AlertSummary(_Content):
    """The staff view of one message, as carried in events and the audit trail."""

    sender: str
    zone_ids: list[str]
    areas: list[AlertArea]
    incident_id: int | None
    note: str | None
    references: list[str] = Field(description="CAP references: sender,identifier,sent")
    previous_id: int | None
    replaced_by_id: int | None
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    state: State


class AlertRead(AlertSummary):
    cap_url: str


class AlertPublic(_Content):
    """What a citizen's phone gets: the message in both languages and where it applies."""

    areas: list[AlertArea]
    cap_url: str
