"""Rollout state of one target: what is in flight, what waits, what is quarantined. Pure models."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from autodeploy.events import ECR_DETAIL_TYPE, ECR_SOURCE, EventEnvelope, ImagePush
from autodeploy.records import push_sort_key


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class PushRef:
    """Enough of a push to deploy it later: the pending image, or the one in flight."""

    event_id: str
    repository: str
    digest: str
    tag: str | None
    pushed_at: datetime
    account: str
    region: str
    requested_by: str | None = None  # a rollback a person asked for: deployed past the policy when promoted

    @property
    def sort_key(self) -> str:
        return push_sort_key(self.pushed_at, self.event_id)

    @classmethod
    def of(cls, push: ImagePush, requested_by: str | None = None) -> PushRef:
        e = push.envelope
        return cls(push.event_id, push.repository, push.digest, push.tag, e.time, e.account, e.region, requested_by)

    def to_push(self) -> ImagePush:
        envelope = EventEnvelope(self.event_id, ECR_SOURCE, ECR_DETAIL_TYPE, self.account, self.region, self.pushed_at)
        return ImagePush(envelope, self.repository, self.digest, self.tag)

    def to_item(self) -> dict[str, Any]:
        item = {k: v for k, v in asdict(self).items() if v is not None}
        item["pushed_at"] = self.pushed_at.isoformat()
        item["sk"] = self.sort_key
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> PushRef:
        return cls(
            event_id=item["event_id"],
            repository=item["repository"],
            digest=item["digest"],
            tag=item.get("tag"),
            pushed_at=_time(item["pushed_at"]),
            account=item["account"],
            region=item["region"],
            requested_by=item.get("requested_by"),
        )


@dataclass(frozen=True, slots=True)
class InFlight:
    """The one rollout of a target that has started and not yet ended."""

    push: PushRef
    image: str
    started_at: datetime
    previous_image: str | None = None
    token: str | None = None  # the stack update's ClientRequestToken
    deployment_id: str | None = None  # the ECS deployment UpdateService started (ecs-svc/...)
    task_definition_arn: str | None = None
    service_deployment_arn: str | None = None  # the same deployment in ECS's service-deployment history
    findings: tuple[str, ...] = ()  # what weakens tracking of this target (no circuit breaker, ...)

    @property
    def sort_key(self) -> str:
        return self.push.sort_key

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "push": self.push.to_item(),
            "image": self.image,
            "started_at": self.started_at.isoformat(),
        }
        for key in ("previous_image", "token", "deployment_id", "task_definition_arn", "service_deployment_arn"):
            if getattr(self, key) is not None:
                item[key] = getattr(self, key)
        if self.findings:
            item["findings"] = list(self.findings)
        item["sk"] = self.sort_key
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> InFlight:
        return cls(
            push=PushRef.from_item(item["push"]),
            image=item["image"],
            started_at=_time(item["started_at"]),
            previous_image=item.get("previous_image"),
            token=item.get("token"),
            deployment_id=item.get("deployment_id"),
            task_definition_arn=item.get("task_definition_arn"),
            service_deployment_arn=item.get("service_deployment_arn"),
            findings=tuple(item.get("findings", ())),
        )


@dataclass(frozen=True, slots=True)
class TargetState:
    target: str
    in_flight: InFlight | None = None
    pending: PushRef | None = None
    quarantined: dict[str, str] = field(default_factory=dict)  # digest -> why
    last_succeeded: dict[str, Any] = field(default_factory=dict)  # digest, image, tag, at

    @classmethod
    def from_item(cls, target: str, item: dict[str, Any] | None) -> TargetState:
        if not item:
            return cls(target)
        return cls(
            target=target,
            in_flight=InFlight.from_item(item["in_flight"]) if item.get("in_flight") else None,
            pending=PushRef.from_item(item["pending"]) if item.get("pending") else None,
            quarantined=dict(item.get("quarantined", {})),
            last_succeeded=dict(item.get("last_succeeded", {})),
        )
