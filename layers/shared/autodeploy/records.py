"""The ledger's record of one push for one target: what was decided, done, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"  # the rollout was started; the tracker moves it to a terminal state
    QUEUED = "QUEUED"  # another rollout of the target is in flight; this push deploys after it
    WAITING = "WAITING"  # held at a release gate (scan, bake, window, approval) as the target's pending push
    PLANNED = "PLANNED"  # dry-run: the full plan, nothing changed
    SKIPPED = "SKIPPED"  # not applicable: no tag, tag filter, already running, target gone
    REJECTED = "REJECTED"  # the target's policy refused it: never go backwards
    SUPERSEDED = "SUPERSEDED"  # a newer push replaced it while it waited
    SUCCEEDED = "SUCCEEDED"  # the rollout reached a steady state on the new image
    FAILED = "FAILED"  # the rollout failed, or a permanent error: misconfigured target, invalid definition
    ROLLED_BACK = "ROLLED_BACK"  # the rollout failed and ECS or CloudFormation restored the previous image
    TIMED_OUT = "TIMED_OUT"  # no terminal state within the configured time

    @property
    def is_terminal(self) -> bool:
        return self not in (Status.IN_PROGRESS, Status.QUEUED, Status.WAITING)

    @property
    def is_pending(self) -> bool:
        """The push holds the target's pending slot: queued behind a rollout, or waiting at a gate."""
        return self in (Status.QUEUED, Status.WAITING)


class Reason(StrEnum):
    """Short, stable reason codes: metric dimensions and Logs Insights filters."""

    DEPLOYED = "deployed"
    DRY_RUN = "dry-run"
    NO_TAG = "no-tag"
    TAG_FILTER = "tag-filter"
    ALREADY_RUNNING = "already-running"
    NOT_NEWER = "not-newer"
    TARGET_GONE = "target-gone"
    IMAGE_GONE = "image-gone"
    MISCONFIGURED = "misconfigured"
    REJECTED_BY_AWS = "rejected-by-aws"
    QUEUED = "queued"
    SUPERSEDED = "superseded"
    ROLLOUT_SUCCEEDED = "rollout-succeeded"
    ROLLOUT_FAILED = "rollout-failed"
    ROLLED_BACK = "rolled-back"
    DEPLOYMENT_STOPPED = "deployment-stopped"  # ECS stopped our deployment: a later one replaced it
    REPLACED = "replaced"  # the service was deployed by someone else before our UpdateService ran
    TIMED_OUT = "timed-out"
    ROLLBACK_REQUESTED = "rollback-requested"
    UNKNOWN_DEPLOYED = "unknown-deployed"
    GATE_WAITING = "gate-waiting"  # held at a release gate; ``gate`` names which
    GATE_REJECTED = "gate-rejected"  # a release gate refused the digest for good (findings, upstream alarm, denied)


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """One item per target per push. ``sort_key`` orders a target's history by push time."""

    target: str
    target_kind: str
    target_name: str
    repository: str
    tag: str | None
    digest: str
    status: Status
    reason_code: Reason
    reason: str
    event_id: str
    pushed_at: datetime
    recorded_at: datetime
    mode: str = "apply"
    image: str | None = None
    previous_image: str | None = None
    task_definition_arn: str | None = None
    deployment_id: str | None = None
    stack_id: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    finished_at: datetime | None = None
    lead_time_seconds: int | None = None
    failure: dict[str, Any] = field(default_factory=dict)  # stopped tasks, service or stack events
    findings: tuple[str, ...] = ()  # what about the target weakens tracking (no circuit breaker, ...)
    gate: str | None = None  # WAITING, or REJECTED by a gate: scan, bake, window or approval
    reopened_by: str | None = None  # WAITING: what releases it (an event, a time, a command to run)
    reopens_at: datetime | None = None  # WAITING: when it is looked at again even if no event comes

    @property
    def sort_key(self) -> str:
        return push_sort_key(self.pushed_at, self.event_id)

    def to_item(self) -> dict[str, Any]:
        """Plain values for the ledger; None fields are left out."""
        item = {k: v for k, v in asdict(self).items() if v is not None and v not in ({}, ())}
        if self.findings:
            item["findings"] = list(self.findings)
        item["pushed_at"] = self.pushed_at.isoformat()
        item["recorded_at"] = self.recorded_at.isoformat()
        if self.finished_at is not None:
            item["finished_at"] = self.finished_at.isoformat()
        if self.reopens_at is not None:
            item["reopens_at"] = self.reopens_at.isoformat()
        item["status"] = self.status.value
        item["reason_code"] = self.reason_code.value
        item["sk"] = self.sort_key
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DeploymentRecord:
        values = {k: v for k, v in item.items() if k in cls.__dataclass_fields__}
        values.setdefault("tag", None)  # a push by digest alone; None attributes are not stored
        values["pushed_at"] = datetime.fromisoformat(item["pushed_at"])
        values["recorded_at"] = datetime.fromisoformat(item["recorded_at"])
        if "finished_at" in item:
            values["finished_at"] = datetime.fromisoformat(item["finished_at"])
        if "reopens_at" in item:
            values["reopens_at"] = datetime.fromisoformat(item["reopens_at"])
        if "lead_time_seconds" in item:
            values["lead_time_seconds"] = int(item["lead_time_seconds"])
        values["findings"] = tuple(item.get("findings", ()))
        values["status"] = Status(item["status"])
        values["reason_code"] = Reason(item["reason_code"])
        return cls(**values)


PUSH_PREFIX = "push#"
STATE_KEY = "state"


def push_sort_key(pushed_at: datetime, event_id: str) -> str:
    """History items sort by push time; the event id makes a redelivery map to the same item.

    The time is in UTC: keys compare as strings, and ``+02:00`` would sort a push out of order.
    """
    utc = pushed_at.astimezone(UTC) if pushed_at.tzinfo else pushed_at.replace(tzinfo=UTC)
    return f"{PUSH_PREFIX}{utc.isoformat()}#{event_id}"
