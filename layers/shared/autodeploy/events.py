"""Incoming EventBridge events as typed, validated models.

Stdlib dataclasses with explicit checks rather than pydantic: pydantic's import alone adds about
a quarter to a handler's cold start here (see README, "Design choices"). Unknown extra fields are
tolerated; a missing or malformed required field is a clean ``InvalidEvent`` that names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from autodeploy.errors import InvalidEvent
from autodeploy.gates.scan import Severity, severity_counts
from autodeploy.image_reference import (
    is_valid_account_id,
    is_valid_digest,
    is_valid_region,
    is_valid_tag,
    repository_name_problem,
)

ECR_SOURCE = "aws.ecr"
ECR_DETAIL_TYPE = "ECR Image Action"
ECS_SOURCE = "aws.ecs"
ECS_DEPLOYMENT_DETAIL_TYPE = "ECS Deployment State Change"
CFN_SOURCE = "aws.cloudformation"
CFN_STACK_DETAIL_TYPE = "CloudFormation Stack Status Change"
ECS_DEPLOYMENT_EVENTS = frozenset(
    {"SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"}
)


def _field(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise InvalidEvent(f"{where}{key} is missing or not a non-empty string (got {shown!r})")
    return value


# EventBridge writes ``2026-11-26T10:15:00Z``; an offset is accepted and converted. ASCII digits only.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
# Event ids become part of ledger keys (``push#<time>#<id>``): EventBridge's are UUIDs, ours are
# ``reconcile-<hex>`` and the like. No ``#``, no spaces, no control characters.
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The ARNs and ids the tracker keys its lookups on, in ASCII (service and cluster names: letters,
# digits, '-', '_'; stack names start with a letter), and CloudFormation's ClientRequestToken and
# StackStatus shapes from botocore's model.
_SERVICE_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}")
_STACK_ARN = re.compile(
    r"arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/[A-Za-z][A-Za-z0-9-]{0,127}/[A-Za-z0-9-]{1,64}"
)
_DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_-]{0,254}")
_REQUEST_TOKEN = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]{0,127}")
_STACK_STATUS = re.compile(r"[A-Z][A-Z_]{0,63}")
ALARM_STATES = frozenset({"OK", "ALARM", "INSUFFICIENT_DATA"})


def _matching(container: Mapping[str, Any], key: str, where: str, grammar: re.Pattern[str], what: str) -> str:
    value = _field(container, key, where)
    if grammar.fullmatch(value) is None:
        raise InvalidEvent(f"{where}{key} {value[:80]!r} is not {what}")
    return value


def _timestamp(text: str, where: str) -> datetime:
    """A timestamp in UTC: pushes are ordered by it, so every offset is converted first."""
    if _TIMESTAMP.fullmatch(text) is None:
        raise InvalidEvent(f"{where} is not an ISO 8601 timestamp: {text[:80]!r}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEvent(f"{where} is not an ISO 8601 timestamp: {text[:80]!r}") from exc
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        if not is_valid_account_id(account):
            raise InvalidEvent(f"account must be 12 digits (got {account[:80]!r})")
        region = _field(event, "region", "")
        if not is_valid_region(region):
            raise InvalidEvent(f"region {region[:80]!r} is not an AWS region name")
        event_id = _field(event, "id", "")
        if _EVENT_ID.fullmatch(event_id) is None:
            raise InvalidEvent(f"id {event_id[:80]!r} is not an event id (letters, digits, '.', '_', ':', '-')")
        envelope = cls(
            id=event_id,
            source=_field(event, "source", ""),
            detail_type=_field(event, "detail-type", ""),
            account=account,
            region=region,
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
        if problem := repository_name_problem(repository):
            raise InvalidEvent(f"detail.repository-name {problem}")
        digest = _field(detail, "image-digest", "detail.")
        if not is_valid_digest(digest):
            raise InvalidEvent(f"detail.image-digest {digest[:80]!r} is not a valid digest")
        tag = detail.get("image-tag")
        if tag in (None, ""):
            tag = None  # a push by digest alone, such as each child manifest of a multi-architecture image
        elif not isinstance(tag, str) or not is_valid_tag(tag):
            shown = tag[:80] if isinstance(tag, str) else tag
            raise InvalidEvent(f"detail.image-tag {shown!r} is not a valid image tag")
        return cls(envelope=envelope, repository=repository, digest=digest, tag=tag)


@dataclass(frozen=True, slots=True)
class EcsDeploymentEvent:
    """ECS Deployment State Change: one service deployment started, completed or failed."""

    envelope: EventEnvelope
    service_arn: str
    name: str  # SERVICE_DEPLOYMENT_IN_PROGRESS / _COMPLETED / _FAILED
    deployment_id: str
    reason: str

    @classmethod
    def from_event(cls, envelope: EventEnvelope, resources: list[str], detail: Mapping[str, Any]) -> EcsDeploymentEvent:
        name = _field(detail, "eventName", "detail.")
        if name not in ECS_DEPLOYMENT_EVENTS:
            raise InvalidEvent(f"detail.eventName {name!r} is not a deployment state change")
        services = [r for r in resources if ":service/" in r]
        if len(services) != 1 or _SERVICE_ARN.fullmatch(services[0]) is None:
            shown = [r[:120] for r in resources[:5]]
            raise InvalidEvent(f"resources must name exactly one ECS service (got {shown!r})")
        return cls(
            envelope=envelope,
            service_arn=services[0],
            name=name,
            deployment_id=_matching(detail, "deploymentId", "detail.", _DEPLOYMENT_ID, "an ECS deployment id"),
            reason=str(detail.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class StackStatusEvent:
    """CloudFormation Stack Status Change."""

    envelope: EventEnvelope
    stack_id: str
    status: str
    status_reason: str
    client_request_token: str | None

    @classmethod
    def from_event(cls, envelope: EventEnvelope, detail: Mapping[str, Any]) -> StackStatusEvent:
        status_details = detail.get("status-details")
        if not isinstance(status_details, Mapping):
            raise InvalidEvent("detail.status-details is missing or not an object")
        token = detail.get("client-request-token")
        if token not in (None, "") and (not isinstance(token, str) or _REQUEST_TOKEN.fullmatch(token) is None):
            shown = token[:80] if isinstance(token, str) else type(token).__name__
            raise InvalidEvent(f"detail.client-request-token {shown!r} is not a ClientRequestToken")
        return cls(
            envelope=envelope,
            stack_id=_matching(detail, "stack-id", "detail.", _STACK_ARN, "a CloudFormation stack ARN"),
            status=_matching(
                status_details, "status", "detail.status-details.", _STACK_STATUS, "a CloudFormation stack status"
            ),
            status_reason=str(status_details.get("status-reason") or ""),
            client_request_token=token or None,
        )


def parse_rollout_event(event: object) -> EcsDeploymentEvent | StackStatusEvent:
    """The tracker's events: ECS deployment state changes and stack status changes."""
    envelope, detail = EventEnvelope.parse(event)
    assert isinstance(event, Mapping)
    if envelope.source == ECS_SOURCE and envelope.detail_type == ECS_DEPLOYMENT_DETAIL_TYPE:
        resources = event.get("resources")
        if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
            raise InvalidEvent("resources is missing or not a list of ARNs")
        return EcsDeploymentEvent.from_event(envelope, resources, detail)
    if envelope.source == CFN_SOURCE and envelope.detail_type == CFN_STACK_DETAIL_TYPE:
        return StackStatusEvent.from_event(envelope, detail)
    raise InvalidEvent(f"not a rollout event: {envelope.source!r} / {envelope.detail_type!r}")


ALARM_SOURCE = "aws.cloudwatch"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"


@dataclass(frozen=True, slots=True)
class AlarmStateChange:
    envelope: EventEnvelope
    alarm_name: str
    state: str
    previous_state: str | None


SCHEDULE_SOURCE = "aws.events"
SCHEDULE_DETAIL_TYPE = "Scheduled Event"


def parse_schedule_trigger(event: object) -> None:
    """A scheduled run: the rule's constant input ``{}``, or EventBridge's own Scheduled Event."""
    if isinstance(event, Mapping) and not event:
        return
    envelope, _ = EventEnvelope.parse(event)
    if envelope.source != SCHEDULE_SOURCE or envelope.detail_type != SCHEDULE_DETAIL_TYPE:
        raise InvalidEvent(
            f"expected the schedule ({SCHEDULE_SOURCE!r} / {SCHEDULE_DETAIL_TYPE!r}), "
            f"got {envelope.source[:80]!r} / {envelope.detail_type[:80]!r}"
        )


def parse_review_trigger(event: object) -> AlarmStateChange | None:
    """The reviewer's triggers: an alarm state change, or the schedule (None)."""
    if isinstance(event, Mapping) and (not event or event.get("detail-type") == SCHEDULE_DETAIL_TYPE):
        parse_schedule_trigger(event)
        return None
    envelope, detail = EventEnvelope.parse(event)
    if envelope.source != ALARM_SOURCE or envelope.detail_type != ALARM_DETAIL_TYPE:
        raise InvalidEvent(
            f"expected {ALARM_SOURCE!r} / {ALARM_DETAIL_TYPE!r} or the schedule, "
            f"got {envelope.source[:80]!r} / {envelope.detail_type[:80]!r}"
        )
    state = detail.get("state")
    previous = detail.get("previousState")
    if not isinstance(state, Mapping):
        raise InvalidEvent("detail.state is missing or not an object")
    alarm_name = _field(detail, "alarmName", "detail.")
    if len(alarm_name) > 255 or not alarm_name.isprintable():  # botocore's AlarmName: 1 to 255
        raise InvalidEvent(f"detail.alarmName {alarm_name[:80]!r} is not an alarm name")
    value = _field(state, "value", "detail.state.")
    if value not in ALARM_STATES:
        raise InvalidEvent(f"detail.state.value {value[:80]!r} is not one of {sorted(ALARM_STATES)}")
    return AlarmStateChange(
        envelope=envelope,
        alarm_name=alarm_name,
        state=value,
        previous_state=str(previous.get("value")) if isinstance(previous, Mapping) else None,
    )


ECR_SCAN_DETAIL_TYPE = "ECR Image Scan"
INSPECTOR_SOURCE = "aws.inspector2"
INSPECTOR_SCAN_DETAIL_TYPE = "Inspector2 Scan"
# Inspector2 Scan names the repository by its ARN (Amazon ECR and Amazon Inspector user guides).
_REPOSITORY_ARN = re.compile(r"arn:aws[a-z-]*:ecr:([a-z0-9-]+):([0-9]{12}):repository/(.+)")
_SCAN_STATUS = re.compile(r"[A-Z][A-Z_]{0,63}")  # COMPLETE, FAILED, INITIAL_SCAN_COMPLETE, ...


class Scanner(StrEnum):
    BASIC = "basic"  # ECR basic scanning: ECR Image Scan
    ENHANCED = "enhanced"  # Amazon Inspector: Inspector2 Scan


@dataclass(frozen=True, slots=True)
class ImageScanCompleted:
    """One image's vulnerability scan finished: ECR's ``ECR Image Scan`` (basic scanning) or Amazon
    Inspector's ``Inspector2 Scan`` (enhanced scanning, its initial scan of the image).

    ``counts``: ``finding-severity-counts``, which holds only severities with findings (absent: 0);
    Inspector's counts only CRITICAL, HIGH and MEDIUM. ``registry`` and ``region``: where the
    repository is (Inspector's repository ARN names them; ECR's event is the registry's own).
    """

    envelope: EventEnvelope
    scanner: Scanner
    registry: str
    region: str
    repository: str
    digest: str
    tags: tuple[str, ...]
    status: str
    counts: Mapping[Severity, int]

    @classmethod
    def from_event(cls, event: object) -> ImageScanCompleted:
        envelope, detail = EventEnvelope.parse(event)
        kind = (envelope.source, envelope.detail_type)
        if kind == (ECR_SOURCE, ECR_SCAN_DETAIL_TYPE):
            scanner, registry, region = Scanner.BASIC, envelope.account, envelope.region
            repository = _field(detail, "repository-name", "detail.")
        elif kind == (INSPECTOR_SOURCE, INSPECTOR_SCAN_DETAIL_TYPE):
            if "image-digest" not in detail:  # EC2 instances, Lambda functions, machine images
                raise InvalidEvent("not an ECR image's scan: detail.image-digest is missing")
            scanner = Scanner.ENHANCED
            repository = _field(detail, "repository-name", "detail.")
            registry, region = envelope.account, envelope.region
            if (arn := _REPOSITORY_ARN.fullmatch(repository)) is not None:
                region, registry, repository = arn.groups()
        else:
            raise InvalidEvent(
                f"not a scan event: {envelope.source[:80]!r} / {envelope.detail_type[:80]!r} "
                f"(expected {ECR_SCAN_DETAIL_TYPE!r} or {INSPECTOR_SCAN_DETAIL_TYPE!r})"
            )
        if problem := repository_name_problem(repository):
            raise InvalidEvent(f"detail.repository-name {problem}")
        digest = _field(detail, "image-digest", "detail.")
        if not is_valid_digest(digest):
            raise InvalidEvent(f"detail.image-digest {digest[:80]!r} is not a valid digest")
        tags = detail.get("image-tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and is_valid_tag(t) for t in tags):
            raise InvalidEvent(f"detail.image-tags is not a list of image tags (got {str(tags)[:80]!r})")
        raw_counts = detail.get("finding-severity-counts") or {}
        if not isinstance(raw_counts, Mapping):
            raise InvalidEvent("detail.finding-severity-counts is not an object")
        try:
            counts = severity_counts(raw_counts)
        except ValueError as exc:
            raise InvalidEvent(f"detail.finding-severity-counts: {exc}") from exc
        status = _matching(detail, "scan-status", "detail.", _SCAN_STATUS, "a scan status")
        return cls(envelope, scanner, registry, region, repository, digest, tuple(tags), status, counts)
