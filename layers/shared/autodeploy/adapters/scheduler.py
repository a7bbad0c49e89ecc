"""EventBridge Scheduler: one-time schedules that release a push waiting at a release gate.

A schedule ``at(yyyy-mm-ddThh:mm:ss)`` in UTC invokes the release function once with a fixed
input, and ``ActionAfterCompletion: DELETE`` has Scheduler delete it after that invocation
(botocore's scheduler model: CreateSchedule's ``ScheduleExpression``, ``ScheduleExpressionTimezone``,
``FlexibleTimeWindow`` and ``ActionAfterCompletion``). The name is derived from the push, the
target and the instant, so a redelivered wait finds its schedule there already (ConflictException)
and a wait that moves to another instant gets another schedule: the stale one fires once, finds
nothing waiting for it, and is gone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import error_code, translate

_NAME_LIMIT = 64  # botocore's scheduler model: Name, 1 to 64 of [0-9a-zA-Z-_.]+


@dataclass(frozen=True, slots=True)
class ScheduleTarget:
    """Where the schedules go and what they invoke: the product's schedule group, the release
    function, and the role Scheduler assumes to invoke it."""

    group: str
    function_arn: str
    role_arn: str


def schedule_name(target: str, sort_key: str, at: datetime) -> str:
    digest = hashlib.sha256(f"{target}\n{sort_key}".encode()).hexdigest()[:24]
    return f"gate-{digest}-{at.astimezone(UTC):%Y%m%dT%H%M%S}"[:_NAME_LIMIT]


def at_expression(at: datetime) -> str:
    """``at(...)`` with the instant rounded up to the next whole second (Scheduler takes seconds)."""
    utc = at.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({utc:%Y-%m-%dT%H:%M:%S})"


class GateSchedules:
    def __init__(self, scheduler: Any, where: ScheduleTarget) -> None:
        self._scheduler = scheduler
        self._where = where

    def release_at(self, at: datetime, name: str, payload: dict[str, Any]) -> bool:
        """Invoke the release function with ``payload`` once at ``at``; False when that schedule exists already."""
        action = f"scheduling the release {name} at {at.isoformat()}"
        try:
            self._scheduler.create_schedule(
                Name=name,
                GroupName=self._where.group,
                ScheduleExpression=at_expression(at),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                State="ENABLED",
                Description=f"ecs-autodeploy: {payload.get('gate', 'gate')} release of a waiting push"[:512],
                Target={
                    "Arn": self._where.function_arn,
                    "RoleArn": self._where.role_arn,
                    "Input": json.dumps(payload, sort_keys=True),
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConflictException":
                return False
            translate(exc, action)
        except BotoCoreError as exc:
            translate(exc, action)
        return True
