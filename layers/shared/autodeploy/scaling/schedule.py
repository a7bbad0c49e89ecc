"""When a scheduled action next runs, by Application Auto Scaling's schedule expressions.

PutScheduledAction (API reference): ``at(yyyy-mm-ddThh:mm:ss)``, ``rate(value unit)`` counted
from the action's start (StartTime, else its creation), and ``cron(minutes hours day-of-month
month day-of-week year)`` with day-of-week 1-7 = SUN-SAT; all in ``Timezone`` (UTC by default).
What this module cannot read (``L``, ``W``, ``#`` in a cron) raises ``ValueError``, so the
review says it did not see the action rather than guess.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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
        allowed = [_field(text, low, high) for text, (low, high) in zip(fields, _RANGES, strict=True)]
        moment = now.astimezone(zone).replace(second=0, microsecond=0)
        if moment < now:
            moment += timedelta(minutes=1)
        while moment <= end:
            dow = (moment.weekday() + 1) % 7 + 1  # Monday=0 -> 2; Sunday=6 -> 1
            values = (moment.minute, moment.hour, moment.day, moment.month, dow, moment.year)
            if all(a is None or v in a for a, v in zip(allowed, values, strict=True)):
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
        raise ValueError(f"cron value {text!r} is not read here (L, W and # are not)")
    return int(text)
