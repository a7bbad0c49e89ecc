"""Deploy windows: parsing, inside or not, and the next opening, true to the wall clock across DST.

Named DST cases use the IANA rules in force (zoneinfo): Europe/Berlin jumps 02:00 CET -> 03:00 CEST
on 2026-03-29 (01:00 UTC) and goes back 03:00 CEST -> 02:00 CET on 2026-10-25 (01:00 UTC);
America/New_York jumps 02:00 EST -> 03:00 EDT on 2026-03-08 (07:00 UTC).
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import botocore
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodeploy.gates import GateStatus
from autodeploy.gates.window import DeployWindow, DeployWindows, evaluate_window


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


# --- parsing -----------------------------------------------------------------------------------


def test_a_window_reads_days_times_and_zone():
    (window,) = DeployWindows.parse("Mon-Fri 08:00-17:00 Europe/Berlin").windows
    assert window.days == frozenset(range(5))
    assert (window.start, window.end, window.zone.key) == (8 * 3600, 17 * 3600, "Europe/Berlin")
    assert not window.crosses_midnight


def test_several_windows_day_lists_and_wrapping_ranges():
    windows = DeployWindows.parse("Mon Wed Fri 09:00-12:00 UTC + Sat-Mon 22:00-06:00 America/New_York")
    first, second = windows.windows
    assert first.days == frozenset({0, 2, 4})
    assert second.days == frozenset({5, 6, 0}) and second.crosses_midnight
    assert str(windows) == "Mon Wed Fri 09:00-12:00 UTC + Sat-Mon 22:00-06:00 America/New_York"


def test_the_whole_day_and_midnight_end():
    (window,) = DeployWindows.parse("sun 00:00-24:00 UTC").windows
    assert (window.start, window.end, window.days) == (0, 86400, frozenset({6}))


def test_every_problem_is_named_in_one_message():
    with pytest.raises(ValueError, match="cannot be written") as raised:
        DeployWindows.parse("Mon,Wed 8:00-17:00 Mars/Base + + Xyz 10:00-10:00 UTC + Mon 23:00-24:30 UTC + Mon UTC")
    message = str(raised.value)
    for expected in (
        "',' cannot be written in a tag value on an ECS service",
        "window 1: '8:00-17:00' is not HH:MM-HH:MM",
        "window 1: 'Mars/Base' is not an IANA time zone",
        "window 2 is empty",
        "window 3: 'Xyz' is not a day",
        "window 3: '10:00-10:00' starts and ends at once",
        "window 4: '23:00-24:30' is not a time range within a day",
        "window 5 'Mon UTC': expected days, HH:MM-HH:MM and a time zone",
    ):
        assert expected in message


ECS_MODEL = Path(botocore.__file__).parent / "data" / "ecs" / "2014-11-13" / "service-2.json.gz"
CFN_MODEL = Path(botocore.__file__).parent / "data" / "cloudformation" / "2010-05-15" / "service-2.json.gz"


def _tag_value_shape(model: Path) -> dict[str, object]:
    shape: dict[str, object] = json.loads(gzip.decompress(model.read_bytes()))["shapes"]["TagValue"]
    return shape


def test_the_separator_is_one_an_ecs_tag_value_allows_and_comma_is_not():
    """botocore's ecs model: TagValue pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``; its cloudformation
    model: TagValue 1 to 256 characters, no pattern, but a stack's tags propagate to the ECS services
    it creates (CloudFormation User Guide, "Resource tag"), so the grammar keeps to ECS's set."""
    ecs = _tag_value_shape(ECS_MODEL)
    assert ecs["pattern"] == "([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)" and ecs["max"] == 256
    assert "pattern" not in _tag_value_shape(CFN_MODEL)
    allowed_symbols = set("_.:/=+-@")

    def ecs_accepts(value: str) -> bool:
        return all(c.isalpha() or c.isdigit() or c == " " or c in allowed_symbols for c in value)

    written = str(DeployWindows.parse("Mon-Thu 08:00-17:00 Europe/Berlin + Fri 08:00-12:00 Etc/GMT+5"))
    assert ecs_accepts(written)
    assert not ecs_accepts("Mon-Fri 08:00-17:00 Europe/Berlin, Sat 10:00-12:00 Europe/Berlin")


# --- inside or not, and the next opening ---------------------------------------------------------

OFFICE = DeployWindows.parse("Mon-Fri 08:00-17:00 Europe/Berlin")


def test_office_hours_in_winter_and_summer():
    assert OFFICE.is_open(utc(2026, 11, 26, 7, 0))  # Thu 08:00 CET
    assert not OFFICE.is_open(utc(2026, 11, 26, 6, 59, 59))
    assert OFFICE.is_open(utc(2026, 7, 2, 6, 0))  # Thu 08:00 CEST
    assert not OFFICE.is_open(utc(2026, 7, 2, 15, 0))  # 17:00 CEST: the end is outside


def test_friday_evening_waits_for_monday_across_the_spring_change():
    friday_evening = utc(2026, 3, 27, 17, 0)  # Fri 18:00 CET; the clocks change on Sunday
    assert OFFICE.next_opening(friday_evening) == utc(2026, 3, 30, 6, 0)  # Mon 08:00 CEST


def test_an_open_window_opens_now():
    now = utc(2026, 11, 26, 9, 30, 15)
    assert OFFICE.next_opening(now) == now


def test_a_start_in_the_skipped_hour_opens_at_the_jump():
    windows = DeployWindows.parse("Sun 02:30-03:30 Europe/Berlin")
    assert windows.next_opening(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert windows.is_open(utc(2026, 3, 29, 1, 29, 59))
    assert not windows.is_open(utc(2026, 3, 29, 1, 30))  # 03:30 CEST


def test_a_window_wholly_in_the_skipped_hour_does_not_open_that_day():
    windows = DeployWindows.parse("Sun 02:00-03:00 Europe/Berlin")
    assert windows.next_opening(utc(2026, 3, 28, 12, 0)) == utc(2026, 4, 5, 0, 0)  # the Sunday after, 02:00 CEST


def test_the_repeated_hour_is_inside_both_times():
    windows = DeployWindows.parse("Sun 02:15-02:45 Europe/Berlin")
    assert windows.next_opening(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 15)  # 02:15 CEST
    assert not windows.is_open(utc(2026, 10, 25, 0, 50))  # 02:50 CEST
    assert windows.next_opening(utc(2026, 10, 25, 0, 50)) == utc(2026, 10, 25, 1, 15)  # 02:15 CET


def test_a_clock_going_back_reenters_a_window_at_the_change():
    windows = DeployWindows.parse("Sun 01:00-02:30 Europe/Berlin")
    assert not windows.is_open(utc(2026, 10, 25, 0, 45))  # 02:45 CEST
    assert windows.next_opening(utc(2026, 10, 25, 0, 45)) == utc(2026, 10, 25, 1, 0)  # back to 02:00 CET


def test_new_york_spring_forward():
    windows = DeployWindows.parse("Sun 02:30-04:00 America/New_York")
    assert windows.next_opening(utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT


def test_a_window_crossing_midnight_belongs_to_its_first_day():
    windows = DeployWindows.parse("Fri 22:00-06:00 America/New_York")
    assert windows.is_open(utc(2026, 11, 28, 8, 0))  # Sat 03:00 EST
    assert not windows.is_open(utc(2026, 11, 28, 12, 0))  # Sat 07:00 EST
    assert windows.next_opening(utc(2026, 11, 28, 12, 0)) == utc(2026, 12, 5, 3, 0)  # Fri 22:00 EST


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="no time zone"):
        OFFICE.is_open(datetime(2026, 11, 26, 9, 0))


def test_the_gate_verdicts():
    assert evaluate_window(None, utc(2026, 11, 26, 3, 0)).open
    inside = evaluate_window(OFFICE, utc(2026, 11, 26, 9, 0))
    assert inside.open and "Mon-Fri 08:00-17:00 Europe/Berlin" in inside.reason
    outside = evaluate_window(OFFICE, utc(2026, 11, 28, 9, 0))  # Saturday
    assert outside.status is GateStatus.WAITING
    assert outside.reopens_at == utc(2026, 11, 30, 7, 0)
    assert outside.reopened_by == "the deploy window's opening"


# --- properties: the wall-clock definition, checked by an independent formulation ---------------

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/Santiago",  # DST changes at midnight
    "Asia/Kathmandu",  # +05:45
    "UTC",
]
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)


def _offset_changes(zone: str) -> list[datetime]:
    """The hours of 2026 in which the zone's UTC offset changes, by an hourly scan."""
    tz, hour, changes = ZoneInfo(zone), utc(2026, 1, 1), []
    while hour.year == 2026:
        if hour.astimezone(tz).utcoffset() != (hour + timedelta(hours=1)).astimezone(tz).utcoffset():
            changes.append(hour)
        hour += timedelta(hours=1)
    return changes


CHANGES = {zone: _offset_changes(zone) for zone in ZONES}


@st.composite
def windows_and_instants(draw: st.DrawFn) -> tuple[DeployWindow, datetime]:
    """Any window; an instant anywhere in 2025-2030, or within 40 hours of one of its zone's 2026 offset changes."""
    zone = draw(st.sampled_from(ZONES))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(1, 1440).filter(lambda e: e != start))
    window = DeployWindow(days, start * 60, end * 60, ZoneInfo(zone), f"property {zone}")
    near = st.sampled_from(CHANGES[zone]).flatmap(
        lambda change: st.integers(-40 * 3600, 40 * 3600).map(lambda s: change + timedelta(seconds=s))
    )
    instant = draw(st.one_of(INSTANTS, near) if CHANGES[zone] else INSTANTS)
    return window, instant


def reference_is_open(window: DeployWindow, instant: datetime) -> bool:
    """Naive wall-clock intervals: [start of day d + start, + length) for a listed day d."""
    wall = instant.astimezone(window.zone).replace(tzinfo=None)
    length = timedelta(seconds=(window.end - window.start) % 86400 or 86400)
    for back in (0, 1):
        day = wall.date() - timedelta(days=back)
        opens = datetime.combine(day, datetime.min.time()) + timedelta(seconds=window.start)
        if day.weekday() in window.days and opens <= wall < opens + length:
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(windows_and_instants())
def test_inside_means_the_wall_clock_shows_a_listed_day_and_time(case):
    window, instant = case
    assert DeployWindows((window,)).is_open(instant) == reference_is_open(window, instant)


@settings(max_examples=80, deadline=None)
@given(windows_and_instants())
def test_the_next_opening_is_the_first_open_instant(case):
    """Open at the answer, closed at every whole minute before it (zone offsets and window bounds
    are whole minutes in every zone used here), and closed the second before it."""
    window, instant = case
    schedule = DeployWindows((window,))
    opening = schedule.next_opening(instant)
    assert opening is not None and opening >= instant
    assert reference_is_open(window, opening)
    if opening > instant:
        assert not reference_is_open(window, opening - timedelta(seconds=1))
        assert not reference_is_open(window, instant)
        minute = instant.replace(second=0) + timedelta(minutes=1)
        while minute < opening:
            assert not reference_is_open(window, minute), minute
            minute += timedelta(minutes=1)


def test_the_date_in_the_reference_is_not_confused_by_midnight_offsets():
    """Santiago's clocks change at midnight (24:00 -> 01:00 in September): no 00:xx that day."""
    window = DeployWindows.parse("Sun 00:00-00:30 America/Santiago").windows[0]
    sunday = utc(2026, 9, 6, 3, 30)  # Saturday 23:30 -04; the clock then jumps to Sunday 01:00 -03
    opening = DeployWindows((window,)).next_opening(sunday)
    assert opening == utc(2026, 9, 13, 3, 0)  # the Sunday after, 00:00 -03
