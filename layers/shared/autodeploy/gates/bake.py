"""The bake gate: a digest promotes downstream once it ran its bake time on the upstream with the
upstream's alarms never in ALARM meanwhile.

Alarm history comes as CloudWatch DescribeAlarmHistory returns it (``HistoryItemType``
``StateUpdate``): ``AlarmName``, ``Timestamp`` and ``HistoryData``, a JSON string with
``oldState.stateValue`` and ``newState.stateValue`` (AWS CLI Command Reference,
``cloudwatch describe-alarm-history``, example output). CloudWatch keeps 30 days of it, more
than the longest bake (7 days).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from autodeploy.gates.verdict import Gate, GateVerdict

ALARM = "ALARM"


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """One alarm's change of state at one instant."""

    alarm: str
    at: datetime
    old_state: str
    new_state: str

    @classmethod
    def from_history_item(cls, item: Mapping[str, Any]) -> AlarmTransition | None:
        """A DescribeAlarmHistory item; None for items that are not state changes (configuration
        updates, actions). A state change whose data cannot be read is a ``ValueError``."""
        if item.get("HistoryItemType") != "StateUpdate":
            return None
        name, at, data = item.get("AlarmName"), item.get("Timestamp"), item.get("HistoryData")
        if not isinstance(name, str) or not isinstance(at, datetime) or at.tzinfo is None:
            raise ValueError(f"alarm history item without a name or an aware Timestamp: {name!r} {at!r}")
        try:
            states: Any = json.loads(data) if isinstance(data, str) else None
            old, new = states["oldState"]["stateValue"], states["newState"]["stateValue"]
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"alarm {name}: HistoryData at {at.isoformat()} has no old and new state") from exc
        return cls(name, at, str(old), str(new))


def evaluate_bake(
    succeeded_at: datetime | None,
    bake: timedelta,
    history: Iterable[AlarmTransition],
    now: datetime,
    upstream: str,
) -> GateVerdict:
    """``succeeded_at``: when the digest's rollout SUCCEEDED on ``upstream`` (None: not yet).

    ``history``: the upstream's alarms' state changes from before ``succeeded_at`` on (an alarm
    already in ALARM when the bake began fails it too). REJECTED names the first alarm in ALARM
    during the bake and when; open once ``bake`` has passed with none; else wait for the bake's end.
    """
    if succeeded_at is None:
        return GateVerdict.waiting(
            Gate.BAKE,
            f"the digest has not succeeded on {upstream} yet",
            reopened_by=f"the digest's rollout succeeding on {upstream}",
        )
    end = succeeded_at + bake
    fired = first_alarm_during(history, succeeded_at, min(now, end))
    if fired is not None:
        name, at = fired
        return GateVerdict.rejected(
            Gate.BAKE,
            f"upstream alarm {name} was in ALARM at {at:%Y-%m-%dT%H:%M:%SZ}, during the bake on {upstream} "
            f"({succeeded_at:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ})",
        )
    if now >= end:
        return GateVerdict.opened(Gate.BAKE, f"baked {_span(bake)} on {upstream} with no alarm in ALARM")
    return GateVerdict.waiting(
        Gate.BAKE,
        f"baking on {upstream} until {end:%Y-%m-%dT%H:%M:%SZ}",
        reopened_by="the bake's end",
        reopens_at=end,
    )


def first_alarm_during(
    history: Iterable[AlarmTransition], start: datetime, end: datetime
) -> tuple[str, datetime] | None:
    """The first (alarm, instant) in ALARM within [start, end): already in ALARM at ``start`` (its
    last change before then went to ALARM: reported at ``start``), or going to ALARM within it."""
    found: list[tuple[datetime, str]] = []
    state_at_start: dict[str, AlarmTransition] = {}
    for change in sorted(history, key=lambda c: c.at):
        if change.at < start:
            state_at_start[change.alarm] = change
        elif change.at < end and change.new_state == ALARM:
            found.append((change.at, change.alarm))
    found.extend((start, name) for name, last in state_at_start.items() if last.new_state == ALARM)
    if not found:
        return None
    at, name = min(found)
    return name, at


def _span(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
