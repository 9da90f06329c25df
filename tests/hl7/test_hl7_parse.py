"""HL7 parsing rules: local times and DST, the fields read, AE/AR classification, the ACK."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from strokealert.hl7.ack import build_ack
from strokealert.hl7.parse import Hl7Error, parse_message, parse_ts, read_header
from tests.hl7.mllp_client import message

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
REASONS = ["CODE STROKE"]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("value", "zone", "expected", "noted"), [
    ("202611200920", NEW_YORK, utc(2026, 11, 20, 14, 20), False),  # EST
    ("20260714092000", NEW_YORK, utc(2026, 7, 14, 13, 20), False),  # EDT
    ("20260714092000.5", BERLIN, utc(2026, 7, 14, 7, 20, 0, 500000), False),
    ("20261120092000+0100", NEW_YORK, utc(2026, 11, 20, 8, 20), False),  # offset wins
    ("20261101013000", NEW_YORK, utc(2026, 11, 1, 5, 30), True),  # fold: the earlier (EDT)
    ("20261025023000", BERLIN, utc(2026, 10, 25, 0, 30), True),  # fold: the earlier (CEST)
    ("20260308023000", NEW_YORK, utc(2026, 3, 8, 7, 30), True),  # gap: shifted forward
    ("20260329023000", BERLIN, utc(2026, 3, 29, 1, 30), True),
])
def test_local_times_read_in_the_site_zone(value: str, zone: ZoneInfo, expected: datetime,
                                           noted: bool) -> None:
    moment, note = parse_ts(value, zone)
    assert moment == expected
    assert (note is not None) == noted


@pytest.mark.parametrize(("value", "zone"), [
    ("2026112009", NEW_YORK),  # hours only
    ("2026112X0920", NEW_YORK),
    ("20261120092000+01", NEW_YORK),
])
def test_unreadable_or_imprecise_times_are_refused(value: str, zone: ZoneInfo) -> None:
    with pytest.raises(ValueError):
        parse_ts(value, zone)


def test_sample_messages_map_to_the_timeline() -> None:
    arrival, needle, puncture = (parse_message(message("code_stroke.hl7", i).replace("\n", "\r"),
                                               zone=NEW_YORK, code_stroke_reasons=REASONS)
                                 for i in range(3))
    assert (arrival.mrn, arrival.visit_number, arrival.code_stroke) == ("MRN4711", "VN0815", True)
    assert arrival.times == {"arrival_at": utc(2026, 11, 20, 14, 20)}
    assert needle.times == {"needle_at": utc(2026, 11, 20, 14, 52)}
    assert needle.thrombolytic_agent == "tenecteplase" and needle.time_notes == ()
    assert (puncture.accession_number, puncture.times) == (
        "ACC9001", {"groin_puncture_at": utc(2026, 11, 20, 15, 31)})


@pytest.mark.parametrize(("change", "ack", "code"), [
    (("RXA|0|1|20261120095200", "RXA|0|1|"), "AE", 101),  # thrombolytic without a start time
    (("MRN4711^^^MAINHOSP^MR~123-45-6789^^^SSA^SS", ""), "AE", 101),  # no PID-3
    (("RAS^O17^RAS_O17", "ADT^A40^ADT_A39"), "AR", 200),  # a type not handled
    (("|CS0002|P|", "|CS0002|X|"), "AR", 202),  # processing id
    (("|CS0002|P|", "||P|"), "AR", 101),  # no control id
])
def test_errors_say_ae_or_ar(change: tuple[str, str], ack: str, code: int) -> None:
    raw = message("code_stroke.hl7", 1).replace(*change).replace("\n", "\r")
    with pytest.raises(Hl7Error) as caught:
        parse_message(raw, zone=NEW_YORK, code_stroke_reasons=REASONS)
    assert (caught.value.ack, caught.value.code) == (ack, code)


def test_a_refused_administration_gives_no_needle_time() -> None:
    raw = message("code_stroke.hl7", 1).replace("||CP", "||RE")
    parsed = parse_message(raw.replace("\n", "\r"), zone=NEW_YORK, code_stroke_reasons=REASONS)
    assert parsed.times == {} and parsed.notes


def test_ack_echoes_the_control_id_and_says_why() -> None:
    header = read_header(message("code_stroke.hl7", 1).replace("\n", "\r"))
    accepted = build_ack(header).split("\r")
    assert accepted[0].startswith("MSH|^~\\&|STROKEALERT|MAINHOSP|EPIC|MAINHOSP|")
    assert accepted[0].split("|")[8] == "ACK^O17^ACK"
    assert accepted[1] == "MSA|AA|CS0002"
    error = build_ack(header, Hl7Error("AE", 102, "RXA-3: not a valid | date")).split("\r")
    assert error[1] == "MSA|AE|CS0002"
    assert error[2].split("|")[3] == "102^RXA-3: not a valid   date^HL70357"
