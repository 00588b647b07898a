"""The kept CAP 1.2 schema itself: it accepts a standard-shaped message and rejects
wrong ones, so that a test passing against it means something."""

from __future__ import annotations

import pytest
from lxml import etree

# Shaped like the standard's own first example (a Homeland Security Advisory System
# update): every required element, optional ones in their schema order.
ADVISORY = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>advisory-2003-0402-01</identifier>
  <sender>advisories@example.gov</sender>
  <sent>2003-04-02T14:39:01-05:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Security</category>
    <event>Homeland Security Advisory System Update</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <senderName>Example Government, Department of Homeland Security</senderName>
    <headline>Homeland Security Sets Code ORANGE</headline>
    <description>The threat level is elevated to ORANGE / High.</description>
    <instruction>Take the protective measures of your existing plans.</instruction>
    <web>http://www.example.gov/advisory</web>
    <parameter>
      <valueName>HSAS</valueName>
      <value>ORANGE</value>
    </parameter>
    <resource>
      <resourceDesc>Image file (GIF)</resourceDesc>
      <mimeType>image/gif</mimeType>
      <uri>http://www.example.gov/advisory.gif</uri>
    </resource>
    <area>
      <areaDesc>Nationwide and interests worldwide</areaDesc>
    </area>
  </info>
</alert>
"""


def _valid(schema: etree.XMLSchema, document: bytes) -> bool:
    return bool(schema.validate(etree.fromstring(document)))


def test_schema_accepts_the_standard_shaped_example(cap_schema):
    assert _valid(cap_schema, ADVISORY), cap_schema.error_log


def test_schema_accepts_polygons_and_references(cap_schema):
    document = ADVISORY.replace(
        b"<scope>Public</scope>",
        b"<scope>Public</scope><references>a@b,id-1,2003-04-02T14:39:01-05:00</references>",
    ).replace(
        b"<areaDesc>Nationwide and interests worldwide</areaDesc>",
        b"<areaDesc>Market</areaDesc><polygon>16.54,104.725 16.54,104.731 "
        b"16.548,104.731 16.54,104.725</polygon>",
    )
    assert _valid(cap_schema, document), cap_schema.error_log


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # not one of the status values
        (b"<status>Actual</status>", b"<status>Real</status>"),
        # msgType and scope values
        (b"<msgType>Alert</msgType>", b"<msgType>Notice</msgType>"),
        (b"<scope>Public</scope>", b"<scope>Everyone</scope>"),
        # CAP dateTimes need an explicit offset, no 'Z' and no fractions of a second
        (b"2003-04-02T14:39:01-05:00", b"2003-04-02T14:39:01Z"),
        (b"2003-04-02T14:39:01-05:00", b"2003-04-02T14:39:01.5-05:00"),
        (b"2003-04-02T14:39:01-05:00", b"2003-04-02T14:39:01"),
        # enumerations of info
        (b"<category>Security</category>", b"<category>Crime</category>"),
        (b"<urgency>Immediate</urgency>", b"<urgency>Now</urgency>"),
        (b"<severity>Severe</severity>", b"<severity>High</severity>"),
        (b"<certainty>Likely</certainty>", b"<certainty>Very Likely</certainty>"),
        # required elements
        (b"<identifier>advisory-2003-0402-01</identifier>", b""),
        (b"<event>Homeland Security Advisory System Update</event>", b""),
        (b"<category>Security</category>", b""),
        (b"<areaDesc>Nationwide and interests worldwide</areaDesc>", b""),
        # order: sender must follow identifier
        (
            b"<identifier>advisory-2003-0402-01</identifier>\n  <sender>advisories@example.gov"
            b"</sender>",
            b"<sender>advisories@example.gov</sender>\n  <identifier>advisory-2003-0402-01"
            b"</identifier>",
        ),
        # order: headline comes before description
        (
            b"<headline>Homeland Security Sets Code ORANGE</headline>",
            b"<instruction>x</instruction><headline>Homeland Security Sets Code ORANGE</headline>",
        ),
        # an element CAP does not have
        (b"<scope>Public</scope>", b"<scope>Public</scope><priority>1</priority>"),
        # the wrong namespace
        (b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:oasis:names:tc:emergency:cap:1.1"),
    ],
)
def test_schema_rejects_wrong_messages(cap_schema, old, new):
    assert old in ADVISORY
    assert not _valid(cap_schema, ADVISORY.replace(old, new, 1))
