"""When a scheduled action next runs, by Application Auto Scaling's schedule expressions.

PutScheduledAction (API reference): ``at(yyyy-mm-ddThh:mm:ss)``, ``rate(value unit)`` counted
from the action's start (StartTime, else its creation), and ``cron(minutes hours day-of-month
month day-of-week year)`` with day-of-week 1-7 = SUN-SAT; all in ``Timezone`` (UTC by default).

The day fields' wildcards, as the EventBridge user guide's "Cron expressions reference" (which
Application Auto Scaling's cron follows) gives them: ``L`` in day-of-month is the month's last
day, ``nW`` the weekday (MON-FRI) nearest day n within the month; ``L`` in day-of-week is the
week's last day (SAT), ``nL`` the month's last day n (``6L``: its last Friday), ``n#k`` the k-th
day n of the month (``3#2``: its second Tuesday), alone in its field. What this module cannot
read (``LW``, a name it does not know) raises ``ValueError``, so the review says it did not see
the action rather than guess.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_NAMES = {
    **{d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))},
    **{
        m: i + 1
        for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
    },
}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))
DayRule = Callable[[date], bool]


def next_run(
    expression: str,
    now: datetime,
    horizon: timedelta,
    start: datetime | None = None,
    created: datetime | None = None,
    timezone: str | None = None,
) -> datetime | None:
    """The first run in [now, now + horizon], or None."""
    zone = ZoneInfo(timezone) if timezone else UTC
    end = now + horizon
    if found := _AT.match(expression):
        at = datetime.fromisoformat(found.group(1)).replace(tzinfo=zone)
        return at if now <= at <= end else None
    if found := _RATE.match(expression):
        unit = found.group(2).rstrip("s")
        step = timedelta(**{f"{unit}s": int(found.group(1))})
        origin = start or created
        if origin is None or step <= timedelta(0):
            raise ValueError(f"{expression}: no start to count the rate from")
        runs = max(0, -(-(now - origin) // step))  # ceil: the first run at or after now
        at = origin + runs * step
        return at if at <= end else None
    if found := _CRON.match(expression):
        fields = found.group(1).split()
        if len(fields) != 6:
            raise ValueError(f"{expression}: a cron has 6 fields")
        minutes, hours, months, years = (_field(fields[i], *_RANGES[i]) for i in (0, 1, 3, 5))
        days = [rule for rule in (_day_of_month(fields[2]), _day_of_week(fields[4])) if rule is not None]
        moment = now.astimezone(zone).replace(second=0, microsecond=0)
        if moment < now:
            moment += timedelta(minutes=1)
        while moment <= end:
            values = ((minutes, moment.minute), (hours, moment.hour), (months, moment.month), (years, moment.year))
            if all(a is None or v in a for a, v in values) and all(rule(moment.date()) for rule in days):
                return moment.astimezone(UTC)
            moment += timedelta(minutes=1)
        return None
    raise ValueError(f"{expression}: not an at(), rate() or cron() expression")


def _field(text: str, low: int, high: int) -> set[int] | None:
    """The values a cron field allows; None: any."""
    if text in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        if base in ("*", ""):
            first, last = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _value(a), _value(b)
        else:
            first = _value(base)
            last = high if step_text else first
        step = int(step_text) if step_text else 1
        allowed.update(range(first, last + 1, step))
    return allowed


def _value(text: str) -> int:
    if text.upper() in _NAMES:
        return _NAMES[text.upper()]
    if not text.isdigit():
        raise ValueError(f"cron value {text!r} is not read here")
    return int(text)


def _day_of_month(text: str) -> DayRule | None:
    """The days a day-of-month field allows (L, nW included); None: any."""
    if text in ("*", "?"):
        return None
    rules: list[DayRule] = []
    for part in text.split(","):
        if part == "L":
            rules.append(_is_last_day)
        elif part.endswith("W") and part[:-1].isdigit():
            rules.append(_nearest_weekday_to(int(part[:-1])))
        else:
            rules.append(_days_in(_field(part, 1, 31) or set(), _day))
    return _any(rules)


def _day_of_week(text: str) -> DayRule | None:
    """The days a day-of-week field allows (L, nL, n#k included); None: any."""
    if text in ("*", "?"):
        return None
    if "#" in text:
        if "," in text:
            raise ValueError(f"cron day-of-week {text!r}: with '#', one expression only")
        day, _, nth = text.partition("#")
        return _nth_weekday(_value(day), _value(nth))
    rules: list[DayRule] = []
    for part in text.split(","):
        if part == "L":
            rules.append(_days_in({7}, _weekday))  # the week's last day: SAT
        elif part.endswith("L"):
            rules.append(_last_weekday(_value(part[:-1])))
        else:
            rules.append(_days_in(_field(part, 1, 7) or set(), _weekday))
    return _any(rules)


def _any(rules: list[DayRule]) -> DayRule:
    return lambda day: any(rule(day) for rule in rules)


def _days_in(allowed: set[int], of: Callable[[date], int]) -> DayRule:
    return lambda day: of(day) in allowed


def _is_last_day(day: date) -> bool:
    return day.day == _last_day(day)


def _nearest_weekday_to(n: int) -> DayRule:
    return lambda day: day.day == _nearest_weekday(day, n)


def _nth_weekday(weekday: int, k: int) -> DayRule:
    return lambda day: _weekday(day) == weekday and (day.day - 1) // 7 + 1 == k


def _last_weekday(weekday: int) -> DayRule:
    return lambda day: _weekday(day) == weekday and day.day + 7 > _last_day(day)


def _day(day: date) -> int:
    return day.day


def _weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Monday=0 -> 2; Sunday=6 -> 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, n: int) -> int | None:
    """The weekday nearest day ``n`` of ``day``'s month, never crossing into another month."""
    last = _last_day(day)
    if n > last:
        return None
    weekday = date(day.year, day.month, n).weekday()  # MON=0 .. SUN=6
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return n - 1 if n > 1 else n + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return n + 1 if n < last else n - 2
    return n
