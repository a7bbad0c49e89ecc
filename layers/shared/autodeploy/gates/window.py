"""Deploy windows: ``Mon-Fri 08:00-17:00 Europe/Berlin``, several joined by the word ``+``.

One tag value holds one or more windows separated by a standalone ``+``; each window is
- days: one or more words, each a day (``Mon`` ... ``Sun``) or a range (``Mon-Fri``; ``Fri-Mon`` wraps);
- ``HH:MM-HH:MM``: local start and end; an end before the start crosses midnight into the next
  day (the window belongs to the day it starts on); ``24:00`` ends at midnight;
- an IANA time-zone name (``Europe/Berlin``, ``America/New_York``, ``UTC``), read with ``zoneinfo``.

Example: ``Mon-Thu 08:00-17:00 Europe/Berlin + Fri 08:00-12:00 Europe/Berlin``.

Why ``+`` and spaces, never ``,``: an ECS service's tag values allow only letters, digits, spaces
and ``+ - = . _ : / @`` (botocore's ecs model, ``TagValue`` pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``).
A CloudFormation stack's tag values have no pattern (botocore's cloudformation model: 1 to 256
characters), but a stack's tags propagate to the resources it creates (CloudFormation User
Guide, "Resource tag"), its ECS services among them, where ECS's pattern applies; so both kinds
of target use one grammar within ECS's characters.

A window is open whenever a clock on the wall in its zone shows a day and time inside it. That
settles daylight saving time without special cases: on the day the clock jumps forward, a window
starting in the skipped hour opens at the jump (``02:30`` in Berlin on the last Sunday of March
opens at 03:00 CEST) and one lying wholly inside it does not open that day; on the day the clock
goes back, a time in the repeated hour is inside the window both times the clock shows it.
Times are compared to the second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autodeploy.gates.verdict import Gate, GateVerdict

SEPARATOR = "+"
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_INDEX = {name.lower(): index for index, name in enumerate(_DAY_NAMES)}
_TIMES = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_DAY = 86400
# A weekly window opens within a week; one whose only occurrence that week lies wholly in the
# hour a clock skips opens the week after. Two weeks and a day bound every search.
_HORIZON_DAYS = 15


@dataclass(frozen=True, slots=True)
class DeployWindow:
    """One window: days of the week (0 = Monday), local start and end in seconds after midnight."""

    days: frozenset[int]
    start: int
    end: int
    zone: ZoneInfo
    text: str

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def contains(self, instant: datetime) -> bool:
        """Is the wall clock in this window's zone, at ``instant``, inside the window?"""
        local = instant.astimezone(self.zone)
        second = local.hour * 3600 + local.minute * 60 + local.second
        day = local.weekday()
        if not self.crosses_midnight:
            return day in self.days and self.start <= second < self.end
        return (day in self.days and second >= self.start) or ((day - 1) % 7 in self.days and second < self.end)

    def candidate_openings(self, since: datetime) -> Iterator[datetime]:
        """Every instant from a day before ``since`` on at which the window may go from closed to
        open: the start on each listed day (both times on a day the clock shows it twice, the
        jump on a day it skips it), and every change of the zone's UTC offset (a clock going back
        can re-enter a window)."""
        first = since.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(_HORIZON_DAYS + 1):
            day = first + timedelta(days=offset)
            if day.weekday() in self.days:
                wall = datetime.combine(day, time()) + timedelta(seconds=self.start)
                yield _instant(wall, 0, self.zone)
                yield _instant(wall, 1, self.zone)
            if (change := _offset_change(day, self.zone)) is not None:
                yield change

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class DeployWindows:
    """The windows one ``autodeploy:window`` tag declares; open when any of them is."""

    windows: tuple[DeployWindow, ...]

    @classmethod
    def parse(cls, text: str) -> DeployWindows:
        """Read a tag value; a ``ValueError`` names every problem found in it."""
        problems: list[str] = []
        if "," in text:
            problems.append(
                "',' cannot be written in a tag value on an ECS service: separate days with spaces "
                f"and windows with ' {SEPARATOR} '"
            )
            text = text.replace(",", " ")
        groups: list[list[str]] = [[]]
        for word in text.split():
            if word == SEPARATOR:
                groups.append([])
            else:
                groups[-1].append(word)
        windows = []
        for number, words in enumerate(groups, start=1):
            where = f"window {number}" if len(groups) > 1 else "the window"
            if not words:
                problems.append(f"{where} is empty (expected 'Mon-Fri 08:00-17:00 Europe/Berlin')")
                continue
            window = _parse_window(words, where, problems)
            if window is not None:
                windows.append(window)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(tuple(windows))

    def is_open(self, instant: datetime) -> bool:
        _require_aware(instant)
        return any(window.contains(instant) for window in self.windows)

    def next_opening(self, instant: datetime) -> datetime | None:
        """The first instant at or after ``instant`` at which a window is open (``instant`` itself
        when one is open), in UTC; None if none opens within two weeks (never, in practice)."""
        _require_aware(instant)
        if self.is_open(instant):
            return instant.astimezone(UTC)
        found = [
            candidate
            for window in self.windows
            for candidate in window.candidate_openings(instant)
            if candidate >= instant and window.contains(candidate)
        ]
        return min(found, default=None)

    def __str__(self) -> str:
        return f" {SEPARATOR} ".join(str(w) for w in self.windows)


def evaluate_window(windows: DeployWindows | None, now: datetime) -> GateVerdict:
    """The window gate: open inside a window (or when the target declares none), else wait for the next opening."""
    if windows is None:
        return GateVerdict.opened(Gate.WINDOW, "no deploy window declared")
    if windows.is_open(now):
        return GateVerdict.opened(Gate.WINDOW, f"inside the deploy window {windows}")
    opening = windows.next_opening(now)
    if opening is None:
        return GateVerdict.rejected(Gate.WINDOW, f"the deploy window {windows} never opens")
    return GateVerdict.waiting(
        Gate.WINDOW,
        f"outside the deploy window {windows}; it opens at {opening:%Y-%m-%dT%H:%M:%SZ}",
        reopened_by="the deploy window's opening",
        reopens_at=opening,
    )


def _parse_window(words: list[str], where: str, problems: list[str]) -> DeployWindow | None:
    if len(words) < 3:
        problems.append(f"{where} {' '.join(words)!r}: expected days, HH:MM-HH:MM and a time zone")
        return None
    *day_words, times, zone_name = words
    found = len(problems)
    days: set[int] = set()
    for word in day_words:
        first, dash, last = word.partition("-")
        if first.lower() not in _DAY_INDEX or (dash and last.lower() not in _DAY_INDEX):
            problems.append(f"{where}: {word!r} is not a day or a range of days (Mon ... Sun, e.g. Mon-Fri)")
            continue
        start_day = _DAY_INDEX[first.lower()]
        end_day = _DAY_INDEX[last.lower()] if dash else start_day
        days.update((start_day + step) % 7 for step in range((end_day - start_day) % 7 + 1))
    start = end = 0
    matched = _TIMES.fullmatch(times)
    if matched is None:
        problems.append(f"{where}: {times!r} is not HH:MM-HH:MM")
    else:
        sh, sm, eh, em = (int(g) for g in matched.groups())
        start, end = sh * 3600 + sm * 60, eh * 3600 + em * 60
        if sh > 23 or sm > 59 or em > 59 or end > _DAY:
            problems.append(f"{where}: {times!r} is not a time range within a day (00:00 to 24:00)")
        elif start == end:
            problems.append(f"{where}: {times!r} starts and ends at once (the whole day is 00:00-24:00)")
    zone = _zone(zone_name, where, problems)
    if len(problems) > found or zone is None:
        return None
    return DeployWindow(frozenset(days), start, end, zone, " ".join(words))


def _zone(name: str, where: str, problems: list[str]) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # not found, not a key, not a zone file
        problems.append(f"{where}: {name!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)")
        return None


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None:
        raise ValueError(f"{instant!r} has no time zone; pass an aware datetime (UTC)")


def _instant(wall: datetime, fold: int, zone: ZoneInfo) -> datetime:
    """The instant a wall clock in ``zone`` shows ``wall`` (``fold``: which of two, on a day it shows it twice).

    A wall time the clock skips (PEP 495 gives it two instants, one each side of the jump) is
    taken as the jump itself: the first instant the clock shows a later time.
    """
    instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    before_jump = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)  # read with the offset after the jump
    after_jump = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # read with the offset before it
    return _change_between(before_jump, after_jump, zone)


def _offset_change(day: date, zone: ZoneInfo) -> datetime | None:
    """The instant the zone's UTC offset changes during the 24 hours from ``day``'s local midnight, if it does."""
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = start + timedelta(days=1)
    if start.astimezone(zone).utcoffset() == end.astimezone(zone).utcoffset():
        return None
    return _change_between(start, end, zone)


def _change_between(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second in (low, high] with ``high``'s UTC offset, by bisection (zone data
    changes offsets on whole seconds)."""
    target = high.astimezone(zone).utcoffset()
    low_s, high_s = int(low.timestamp()), int(high.timestamp())
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == target:
            high_s = middle
        else:
            low_s = middle
    return datetime.fromtimestamp(high_s, UTC)
