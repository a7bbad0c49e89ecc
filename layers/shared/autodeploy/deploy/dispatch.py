"""The hand-off between deciding and doing: which free targets this invocation deploys, and which
it hands to the rollout workers through the work queue.

The push's invocation keeps discovery, accept and queue (the rollout lock and the pending push
mean what they always meant). When the free targets fit one work message it deploys them all
itself (no hand-off); else it deploys the first ``IN_PROCESS_LIMIT`` itself, on ECS's burst, and
hands the rest off in chunks of ``CHUNK_SIZE`` targets: a worker describes a chunk's services in
one DescribeServices call (ten at most) and paces its calls at its share of the account's rates
(``worker_rates``), so that the workers together never take more than ``FAN_OUT_SHARE`` of a rate.

Why ten targets in-process at most: a push's invocation has 120 s. ECS refills RegisterTaskDefinition
at 1 a second (burst 20) per account and region. The workers consume less than the refill, so they
never empty the bucket; should in-process pushes empty it, the workers still leave
1 - FAN_OUT_SHARE of the refill, and ten registrations get their tokens within
10 / (1 - 0.9) = 100 s. Usually the bucket is full and they go at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from typing import Any

from autodeploy.deploy.outcome import DeployOptions, DeployReport
from autodeploy.deploy.recorder import Recorder
from autodeploy.errors import InvalidEvent, MisconfiguredTarget
from autodeploy.events import ECR_DETAIL_TYPE, ECR_SOURCE, ImagePush
from autodeploy.registration import (
    CONTAINERS_TAG,
    MODE_TAG,
    PARAMETER_TAG,
    REPOSITORY_TAG,
    TAGS_TAG,
    VALUE_TAG,
    Target,
    parse_target,
)

CHUNK_SIZE = 10  # targets per work message: DescribeServices describes ten services a call
IN_PROCESS_LIMIT = CHUNK_SIZE  # a push that fits one message is deployed where it arrived: no hand-off

# Per account and region. ECS: "Request throttling for the Amazon ECS API" (ECS API reference):
# RegisterTaskDefinition 1 a second sustained (burst 20), UpdateService 5 a second (burst 50).
# CloudFormation's quotas page publishes no request rate for UpdateStack; a stack target's update
# replaces its task definition, which CloudFormation registers on the same ECS bucket (1 a second),
# so UpdateStack is paced at that rate.
ACCOUNT_RATES: Mapping[str, Mapping[str, float]] = {
    "ecs": {"RegisterTaskDefinition": 1.0, "UpdateService": 5.0},
    "cloudformation": {"UpdateStack": 1.0},
}
ACCOUNT_BURSTS: Mapping[str, Mapping[str, int]] = {"ecs": {"RegisterTaskDefinition": 20, "UpdateService": 50}}
# What the workers together may take of each rate; the rest is headroom for in-process pushes.
FAN_OUT_SHARE = 0.9


def worker_rates(concurrency: int) -> dict[str, dict[str, float]]:
    """Each worker's pace (calls a second, by service and operation) when ``concurrency`` run at once."""
    if concurrency < 1:
        raise ValueError(f"worker concurrency must be at least 1, not {concurrency}")
    return {
        service: {operation: rate * FAN_OUT_SHARE / concurrency for operation, rate in rates.items()}
        for service, rates in ACCOUNT_RATES.items()
    }


def hands_off(targets: Sequence[Target], options: DeployOptions) -> bool:
    """A push from ECR with more free targets than fit one work message is handed off (but its first ones).

    Only a push as ECR sent it: a promoted, resumed or requested rollout concerns one target, and
    reconcile's catch-up keeps its own options, so both stay in-process.
    """
    return options == DeployOptions() and len(targets) > IN_PROCESS_LIMIT


def chunks(targets: Sequence[Target], size: int = CHUNK_SIZE) -> list[list[Target]]:
    if size < 1:
        raise ValueError(f"a chunk holds at least one target, not {size}")
    return [list(targets[i : i + size]) for i in range(0, len(targets), size)]


@dataclass(frozen=True, slots=True)
class RolloutWork:
    """One work message: a push and the free targets a worker deploys it to."""

    push: ImagePush
    targets: tuple[Target, ...]

    def to_message(self) -> str:
        return json.dumps(
            {"push": push_event(self.push), "targets": [{"arn": t.arn, "tags": tags_of(t)} for t in self.targets]},
            separators=(",", ":"),
        )

    @classmethod
    def from_message(cls, body: str) -> RolloutWork:
        """Parse a work message; a malformed one is an InvalidEvent naming what is wrong."""
        try:
            message = json.loads(body)
        except json.JSONDecodeError as exc:
            raise InvalidEvent(f"a work message is not JSON: {exc}") from exc
        if not isinstance(message, dict) or not isinstance(message.get("targets"), list):
            raise InvalidEvent("a work message is an object with 'push' (an ECR push event) and 'targets' (a list)")
        push = ImagePush.from_event(message.get("push"))
        if push.tag is None:
            raise InvalidEvent("a work message's push has no tag: it deploys nothing")
        targets = []
        for item in message["targets"]:
            arn, tags = (item.get("arn"), item.get("tags")) if isinstance(item, dict) else (None, None)
            if not isinstance(arn, str) or not isinstance(tags, dict):
                raise InvalidEvent(f"a work message's target is {{'arn': ..., 'tags': {{...}}}}, got {item!r:.200}")
            try:
                targets.append(parse_target(arn, {str(k): str(v) for k, v in tags.items()}))
            except MisconfiguredTarget as exc:
                raise InvalidEvent(f"a work message names a target its tags do not register: {exc}") from exc
        if not targets:
            raise InvalidEvent("a work message names no target")
        return cls(push, tuple(targets))

    def arns(self) -> list[str]:
        return [t.arn for t in self.targets]


def work_messages(push: ImagePush, targets: Iterable[Target]) -> list[RolloutWork]:
    return [RolloutWork(push, tuple(chunk)) for chunk in chunks(list(targets))]


def tags_of(target: Target) -> dict[str, str]:
    """The registration tags that ``parse_target`` reads back into ``target``."""
    tags = {
        REPOSITORY_TAG: target.repository,
        TAGS_TAG: str(target.tag_filter),
        MODE_TAG: target.mode.value,
        VALUE_TAG: target.value.value,
    }
    if target.parameter is not None:
        tags[PARAMETER_TAG] = target.parameter
    if target.containers:
        tags[CONTAINERS_TAG] = " ".join(target.containers)
    return tags


def push_event(push: ImagePush) -> dict[str, Any]:
    """The push as ECR's EventBridge event carries it (what ``ImagePush.from_event`` reads)."""
    detail: dict[str, Any] = {
        "action-type": "PUSH",
        "result": "SUCCESS",
        "repository-name": push.repository,
        "image-digest": push.digest,
    }
    if push.tag is not None:
        detail["image-tag"] = push.tag
    return {
        "version": "0",
        "id": push.event_id,
        "detail-type": ECR_DETAIL_TYPE,
        "source": ECR_SOURCE,
        "account": push.envelope.account,
        "time": push.envelope.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "region": push.envelope.region,
        "resources": [],
        "detail": detail,
    }


class Dispatch:
    """Step 3b, dispatch: after queue, hand the free targets off when they are too many for here."""

    def __init__(self, send: Callable[[Sequence[str]], None] | None, recorder: Recorder) -> None:
        self._send = send  # WorkQueue.send, or None where no work queue is configured
        self._recorder = recorder

    def hand_off(
        self, report: DeployReport, push: ImagePush, targets: list[Target], options: DeployOptions
    ) -> list[Target]:
        """The targets this invocation deploys; the others are handed to the work queue (the workers
        record their outcomes).

        A hand-off that fails is those targets' decision, never the push's: SQS throttling or an
        outage retries the push (the targets deployed here are no-ops then), a refusal for good is
        recorded FAILED for each target handed, with SQS's reason, and the targets kept here go on.
        """
        if self._send is None or not hands_off(targets, options):
            return targets
        here, there = targets[:IN_PROCESS_LIMIT], targets[IN_PROCESS_LIMIT:]
        bodies = [w.to_message() for w in work_messages(push, there)]
        if self._recorder.for_all(report, push, there, options, partial(self._sent, bodies)):
            report.handed_off.extend(t.arn for t in there)
        return here

    def _sent(self, bodies: list[str]) -> bool:
        assert self._send is not None
        self._send(bodies)
        return True
