"""Incoming EventBridge events as typed, validated models.

Stdlib dataclasses with explicit checks rather than pydantic: pydantic's import alone adds about
a quarter to a handler's cold start here (see README, "Design choices"). Unknown extra fields are
tolerated; a missing or malformed required field is a clean ``InvalidEvent`` that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from autodeploy.errors import InvalidEvent
from autodeploy.image_reference import is_valid_digest, is_valid_tag

ECR_SOURCE = "aws.ecr"
ECR_DETAIL_TYPE = "ECR Image Action"


def _field(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{where}{key} is missing or not a non-empty string (got {value!r})")
    return value


def _timestamp(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEvent(f"{where} is not an ISO 8601 timestamp: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """The EventBridge fields every event has."""

    id: str
    source: str
    detail_type: str
    account: str
    region: str
    time: datetime

    @classmethod
    def parse(cls, event: object) -> tuple[EventEnvelope, Mapping[str, Any]]:
        if not isinstance(event, Mapping):
            raise InvalidEvent(f"event is not a JSON object (got {type(event).__name__})")
        detail = event.get("detail")
        if not isinstance(detail, Mapping):
            raise InvalidEvent("detail is missing or not an object")
        account = _field(event, "account", "")
        if not (len(account) == 12 and account.isdigit()):
            raise InvalidEvent(f"account must be 12 digits (got {account!r})")
        envelope = cls(
            id=_field(event, "id", ""),
            source=_field(event, "source", ""),
            detail_type=_field(event, "detail-type", ""),
            account=account,
            region=_field(event, "region", ""),
            time=_timestamp(_field(event, "time", ""), "time"),
        )
        return envelope, detail


@dataclass(frozen=True, slots=True)
class ImagePush:
    """A successful ECR image push. ``tag`` is None for a push by digest alone."""

    envelope: EventEnvelope
    repository: str
    digest: str
    tag: str | None

    @property
    def event_id(self) -> str:
        return self.envelope.id

    @classmethod
    def from_event(cls, event: object) -> ImagePush:
        envelope, detail = EventEnvelope.parse(event)
        if envelope.source != ECR_SOURCE or envelope.detail_type != ECR_DETAIL_TYPE:
            raise InvalidEvent(
                f"expected source {ECR_SOURCE!r} and detail-type {ECR_DETAIL_TYPE!r}, "
                f"got {envelope.source!r} / {envelope.detail_type!r}"
            )
        action = _field(detail, "action-type", "detail.")
        result = _field(detail, "result", "detail.")
        if action != "PUSH" or result != "SUCCESS":
            raise InvalidEvent(f"not a successful push: action-type {action!r}, result {result!r}")
        repository = _field(detail, "repository-name", "detail.")
        digest = _field(detail, "image-digest", "detail.")
        if not is_valid_digest(digest):
            raise InvalidEvent(f"detail.image-digest {digest!r} is not a valid digest")
        tag = detail.get("image-tag")
        if tag in (None, ""):
            tag = None
        elif not isinstance(tag, str) or not is_valid_tag(tag):
            raise InvalidEvent(f"detail.image-tag {tag!r} is not a valid image tag")
        return cls(envelope=envelope, repository=repository, digest=digest, tag=tag)
