"""What a person is told about a rollout: a readable subject and a structured JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from autodeploy.records import DeploymentRecord, Status

_SUBJECT_LIMIT = 100  # SNS: at most 100 printable ASCII characters


@dataclass(frozen=True, slots=True)
class Notification:
    subject: str
    body: dict[str, Any]
    status: str


class Notifier(Protocol):
    def publish(self, notifications: list[Notification]) -> None: ...


NOTIFIED = frozenset({Status.IN_PROGRESS, Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK, Status.TIMED_OUT})


def notification_for(record: DeploymentRecord) -> Notification:
    image = f"{record.repository}:{record.tag}" if record.tag else f"{record.repository}@{record.digest[:19]}"
    lead = f" in {record.lead_time_seconds}s" if record.lead_time_seconds is not None else ""
    subject = f"[autodeploy] {record.status.value} {record.target_name}: {image}{lead}"
    subject = subject.encode("ascii", "replace").decode()[:_SUBJECT_LIMIT]
    body = {
        "target": record.target,
        "target_name": record.target_name,
        "target_kind": record.target_kind,
        "status": record.status.value,
        "reason": record.reason,
        "reason_code": record.reason_code.value,
        "repository": record.repository,
        "tag": record.tag,
        "digest": record.digest,
        "image": record.image,
        "previous_image": record.previous_image,
        "lead_time_seconds": record.lead_time_seconds,
        "event_id": record.event_id,
        "pushed_at": record.pushed_at.isoformat(),
        "failure": record.failure or None,
    }
    return Notification(
        subject=subject, body={k: v for k, v in body.items() if v is not None}, status=record.status.value
    )
