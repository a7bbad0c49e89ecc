"""What deploying a push decides per target, and the report a push's invocation returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autodeploy.events import ImagePush
from autodeploy.gates.scan import ScanReport
from autodeploy.records import DeploymentRecord, Reason, Status


@dataclass(frozen=True, slots=True)
class DeployOptions:
    """How a push is deployed. The defaults are those of a push arriving from ECR."""

    enforce_policy: bool = True  # False for a rollback a person asked for
    record_noops: bool = True  # False for reconcile: "already running" every 15 minutes is noise
    promoted: bool = False  # the push was the target's pending one, recorded QUEUED already
    resuming: bool = False  # the push holds the target's lock already (reconcile finishing a rollout)
    reason_prefix: str = ""
    require_known_deployed: bool = False  # reconcile: never act when the running image is not in ECR
    requested_by: str | None = None  # a rollback: remembered with the push if it has to wait
    promoted_by: str | None = None  # `autodeploy promote`: a person took the digest past the bake gate
    scan: ScanReport | None = None  # the image's scan as its completion event reported it
    gates_only: bool = False  # a release while a rollout is in flight: ask the gates, deploy later

    @classmethod
    def rollback(cls, requested_by: str, promoted: bool = False) -> DeployOptions:
        """A rollback a person asked for: past the tag filter and "never backwards", now or when its turn comes."""
        return cls(
            enforce_policy=False,
            promoted=promoted,
            reason_prefix=f"rollback requested by {requested_by}: ",
            requested_by=requested_by,
        )


@dataclass(frozen=True, slots=True)
class Recorded:
    record: DeploymentRecord
    first_time: bool  # False: this push was already recorded for the target (a redelivery)


@dataclass(slots=True)
class DeployReport:
    push: ImagePush
    recorded: list[Recorded] = field(default_factory=list)
    retryable: list[str] = field(default_factory=list)
    ignored: str | None = None  # why the push concerned no target at all (counted, not recorded)
    handed_off: list[str] = field(default_factory=list)  # targets the rollout workers deploy (dispatch.py)

    def summary(self) -> dict[str, Any]:
        return {
            **({"ignored": self.ignored} if self.ignored else {}),
            "event_id": self.push.event_id,
            "repository": self.push.repository,
            "tag": self.push.tag,
            "digest": self.push.digest,
            "targets": [_summary_of(r) for r in self.recorded],
            "retrying": self.retryable,
            **({"handed_off": len(self.handed_off)} if self.handed_off else {}),
        }

    def merge(self, other: DeployReport) -> None:
        self.recorded.extend(other.recorded)
        self.retryable.extend(other.retryable)
        self.handed_off.extend(other.handed_off)


def _summary_of(recorded: Recorded) -> dict[str, Any]:
    """One target's outcome; a redelivered event says so and quotes what was recorded the first time."""
    record = recorded.record
    if recorded.first_time:
        return {"target": record.target, "tag": record.tag, "status": record.status.value, "reason": record.reason}
    return {
        "target": record.target,
        "tag": record.tag,
        "status": Status.SKIPPED.value,
        "reason": f"duplicate delivery: already recorded {record.status.value} ({record.reason})",
        "recorded_status": record.status.value,
        "duplicate": True,
    }


@dataclass(frozen=True, slots=True)
class Decision:
    """A target's outcome. ``recorded``: the ledger already has it (written with the lock)."""

    status: Status
    code: Reason
    reason: str
    fields: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False
    first_time: bool = True


class Decided(Exception):
    """A target's decision reached before acting (skip, reject, fail), raised out of a step."""

    def __init__(self, status: Status, code: Reason, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.decision = Decision(status, code, reason, fields)
