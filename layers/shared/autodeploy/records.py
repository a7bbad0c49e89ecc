"""The ledger's record of one push for one target: what was decided, done, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"  # the rollout was started; the tracker moves it to a terminal state
    PLANNED = "PLANNED"  # dry-run: the full plan, nothing changed
    SKIPPED = "SKIPPED"  # not applicable: no tag, tag filter, already running, target gone
    REJECTED = "REJECTED"  # the target's policy refused it: never go backwards
    FAILED = "FAILED"  # a permanent error: misconfigured target, invalid definition


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

    @property
    def sort_key(self) -> str:
        return f"{self.pushed_at.isoformat()}#{self.event_id}"

    def to_item(self) -> dict[str, Any]:
        """Plain values for the ledger; None fields are left out."""
        item = {k: v for k, v in asdict(self).items() if v is not None and v != {}}
        item["pushed_at"] = self.pushed_at.isoformat()
        item["recorded_at"] = self.recorded_at.isoformat()
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
        values["status"] = Status(item["status"])
        values["reason_code"] = Reason(item["reason_code"])
        return cls(**values)
