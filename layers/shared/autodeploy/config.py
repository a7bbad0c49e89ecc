"""Function configuration, read once from the environment and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from autodeploy.adapters.scheduler import ScheduleTarget
from autodeploy.errors import ConfigurationError


def _required(environ: Mapping[str, str], name: str, purpose: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set: it names {purpose}")
    return value


def _minutes(environ: Mapping[str, str], name: str, default: int, unit: str = "minutes") -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigurationError(f"environment variable {name}={text!r} must be a whole number of {unit}, at least 1")
    return int(text)


def _schedule_target(environ: Mapping[str, str]) -> ScheduleTarget | None:
    """Where gate releases are scheduled: all three variables, or none (then reconcile releases them)."""
    names = ("GATE_SCHEDULE_GROUP", "GATE_RELEASE_FUNCTION_ARN", "GATE_SCHEDULER_ROLE_ARN")
    values = [environ.get(name, "").strip() for name in names]
    if not any(values):
        return None
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise ConfigurationError(
            f"environment variables {', '.join(missing)} are not set: gate releases need all of {', '.join(names)}"
        )
    return ScheduleTarget(*values)


def _count(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < minimum:
        raise ConfigurationError(f"environment variable {name}={text!r} must be a whole number, at least {minimum}")
    return int(text)


@dataclass(frozen=True, slots=True)
class DeploySettings:
    ledger_table: str
    notification_topic_arn: str | None = None
    chat_notification_topic_arn: str | None = None
    rollout_timeout_minutes: int = 60
    resume_after_minutes: int = 5
    scan_timeout_minutes: int = 60
    approval_timeout_hours: int = 24
    schedule_target: ScheduleTarget | None = None

    # DeployFunction hands a large push's targets to this queue (RolloutWorkerFunction reads it).
    work_queue_url: str | None = None
    # The worker's event source mapping's MaximumConcurrency: each worker paces itself to its share.
    worker_concurrency: int = 2

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> DeploySettings:
        return cls(
            ledger_table=_required(environ, "LEDGER_TABLE", "the DynamoDB deployment ledger table"),
            notification_topic_arn=environ.get("NOTIFICATION_TOPIC_ARN", "").strip() or None,
            chat_notification_topic_arn=environ.get("CHAT_NOTIFICATION_TOPIC_ARN", "").strip() or None,
            rollout_timeout_minutes=_minutes(environ, "ROLLOUT_TIMEOUT_MINUTES", 60),
            resume_after_minutes=_minutes(environ, "RESUME_AFTER_MINUTES", 5),
            scan_timeout_minutes=_minutes(environ, "SCAN_TIMEOUT_MINUTES", 60),
            approval_timeout_hours=_minutes(environ, "APPROVAL_TIMEOUT_HOURS", 24, "hours"),
            schedule_target=_schedule_target(environ),
            work_queue_url=environ.get("ROLLOUT_WORK_QUEUE_URL", "").strip() or None,
            worker_concurrency=_count(environ, "ROLLOUT_WORKER_CONCURRENCY", 2, minimum=2),
        )


@dataclass(frozen=True, slots=True)
class ReviewSettingsFromEnv:
    decisions_table: str
    retention_days: int = 30

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> ReviewSettingsFromEnv:
        days = environ.get("DECISION_RETENTION_DAYS", "").strip() or "30"
        if not days.isdigit() or int(days) < 1:
            raise ConfigurationError(
                f"environment variable DECISION_RETENTION_DAYS={days!r} must be a whole number of days"
            )
        return cls(
            decisions_table=_required(environ, "DECISIONS_TABLE", "the DynamoDB scaling decisions table"),
            retention_days=int(days),
        )
