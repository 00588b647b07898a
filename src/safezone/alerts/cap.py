"""CAP 1.2 documents and the Atom feed, built as XML trees (never by pasting text).

The CAP profile (see docs/adr/0006-public-alerts.md): scope Public; one <info> in Thai
(th-TH) and one in English (en-US) when the alert has English text; one <area> per
safety zone, with a <polygon> per part of the zone ("lat,lon" pairs, the first repeated
at the end). Times carry a UTC offset and no fractions, UTC written "-00:00" as CAP asks.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from shapely.geometry import MultiPolygon, Polygon

from safezone.alerts.models import Alert
from safezone.core.geo import polygon_geometry

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
FEED_TITLE = "SafeZone ประกาศเตือนภัย / Public alerts"
CANCELLED_PREFIX = "ยกเลิก / Cancelled: "


def cap_time(moment: datetime) -> str:
    """A CAP dateTime: 2026-11-26T03:15:00-00:00 (offset required, UTC as -00:00)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def atom_time(moment: datetime) -> str:
    """An RFC 3339 date-time, as Atom requires: 2026-11-26T03:15:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _coordinate(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def cap_polygons(geometry: dict[str, Any]) -> list[str]:
    """CAP <polygon> texts for a GeoJSON Polygon or MultiPolygon, one per part.

    Only the outer ring is kept: CAP polygons have no holes, and an alert covering a
    hole too errs on the side of warning people.
    """
    shape = polygon_geometry(geometry)
    parts: list[Polygon] = list(shape.geoms) if isinstance(shape, MultiPolygon) else [shape]
    polygons = []
    for part in parts:
        ring = list(part.exterior.coords)  # shapely rings are closed: first == last
        polygons.append(" ".join(f"{_coordinate(lat)},{_coordinate(lon)}" for lon, lat in ring))
    return polygons


# Elements are built with local names under a root carrying its namespace as the default
# (xmlns="..."): ElementTree's own default_namespace option cannot serialise the
# unqualified attributes Atom links need.


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _info(alert: Alert, language: str) -> ET.Element:
    thai = language == "th-TH"
    info = ET.Element("info")
    _add(info, "language", language)
    _add(info, "category", alert.category)
    _add(info, "event", alert.event_th if thai else alert.event_en)
    if alert.response_type:
        _add(info, "responseType", alert.response_type)
    _add(info, "urgency", alert.urgency)
    _add(info, "severity", alert.severity)
    _add(info, "certainty", alert.certainty)
    _add(info, "effective", cap_time(alert.effective))
    _add(info, "expires", cap_time(alert.expires))
    _add(info, "senderName", alert.sender_name_th if thai else alert.sender_name_en)
    headline = alert.headline_th if thai else alert.headline_en
    description = alert.description_th if thai else alert.description_en
    instruction = alert.instruction_th if thai else alert.instruction_en
    if headline:
        _add(info, "headline", headline)
    if description:
        _add(info, "description", description)
    if instruction:
        _add(info, "instruction", instruction)
    for area in alert.areas:
        element = ET.SubElement(info, "area")
        _add(element, "areaDesc", area["name_th"] if thai else area["name_en"])
        for polygon in cap_polygons(area["geometry"]):
            _add(element, "polygon", polygon)
    return info


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def render_alert(alert: Alert) -> bytes:
    """The message as a CAP 1.2 document (UTF-8)."""
    root = ET.Element("alert", {"xmlns": CAP_NS})
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", cap_time(alert.sent))
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add(root, "scope", "Public")
    if alert.note:
        _add(root, "note", alert.note)
    if alert.references:
        _add(root, "references", " ".join(alert.references))
    root.append(_info(alert, "th-TH"))
    if alert.headline_en:
        root.append(_info(alert, "en-US"))
    return _serialize(root)


def entry_id(alert: Alert) -> str:
    return f"urn:safezone:alert:{alert.identifier}"


def render_feed(
    alerts: Iterable[Alert],
    *,
    feed_id: str,
    self_url: str,
    cap_url: Callable[[Alert], str],
    now: datetime,
) -> bytes:
    """An Atom feed with one entry per message, each linking to its CAP document."""
    alerts = list(alerts)
    feed = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: "th"})
    _add(feed, "id", feed_id)
    _add(feed, "title", FEED_TITLE)
    _add(feed, "updated", atom_time(max((a.sent for a in alerts), default=now)))
    author = ET.SubElement(feed, "author")
    _add(author, "name", "SafeZone")
    ET.SubElement(feed, "link", {"rel": "self", "type": ATOM_MEDIA_TYPE, "href": self_url})
    for alert in alerts:
        entry = ET.SubElement(feed, "entry")
        _add(entry, "id", entry_id(alert))
        title = alert.headline_th
        if alert.headline_en:
            title = f"{title} / {alert.headline_en}"
        if alert.msg_type == "Cancel":
            title = CANCELLED_PREFIX + title
        _add(entry, "title", title)
        _add(entry, "updated", atom_time(alert.sent))
        _add(entry, "published", atom_time(alert.sent))
        entry_author = ET.SubElement(entry, "author")
        _add(entry_author, "name", alert.sender_name_th)
        summary = alert.description_th
        if alert.description_en:
            summary = f"{summary}\n\n{alert.description_en}"
        _add(entry, "summary", summary)
        ET.SubElement(
            entry,
            "link",
            {"rel": "alternate", "type": CAP_MEDIA_TYPE, "href": cap_url(alert)},
        )
    return _serialize(feed)
