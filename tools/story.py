"""What the sample events refer to, created on the emulator before `make invoke` delivers them.

`events/*.json` name one world: service `prod/web` (repository `web`, semver tags, reviewed in
observe mode, with the classic +1 step policy and its alarm `web-cpu-high`) and stack
`web-service`. Each invocation creates what its event needs if it is missing (so a second invoke on
the persistent emulator reuses it) and bridges what moto cannot do, saying so on stderr:

- ECS events: moto runs no rollout and emits no event, so the event's `deploymentId` is set to the
  service's PRIMARY deployment (the one our rollout started), as ECS would send it;
- stack events: the sample's stack id and `client-request-token` are set to the seeded stack's and
  to the token of the rollout in flight;
- alarm events: the service's CPU for the last 15 minutes is written to match the alarm's state
  (96% for ALARM, 5% for OK), and the alarm is set to that state.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from autodeploy.image_reference import is_valid_digest
from tools import moto_gaps, world

CLUSTER, SERVICE, STACK = "prod", "web", "web-service"
EVENTS = Path(__file__).resolve().parents[1] / "events"


def push_event(repository: str, tag: str) -> dict[str, Any]:
    """ECR's push event for ``repository:tag``, from events/ecr-push.json, with a fresh id and the time now."""
    event: dict[str, Any] = json.loads((EVENTS / "ecr-push.json").read_text())
    event["id"] = str(uuid.uuid4())
    event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"].update(
        {"repository-name": repository, "image-tag": tag, "image-digest": world.digest_for(repository, tag)}
    )
    return event


def prepare(function: str, event: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Create what ``event`` refers to (if missing), bridge moto's gaps; returns the event to deliver."""
    from autodeploy import wiring

    clients = wiring.aws_clients()  # the handler's own clients: the gap bridges must sit on them
    moto_gaps.aws_like_deployments(clients.ecs)
    moto_gaps.remember_deployment_configuration(clients.ecs)
    moto_gaps.tasks_run_as_desired(clients.ecs)  # the reviewer sizes from running tasks; moto runs none
    moto_gaps.scaling_activities_unavailable(clients.application_autoscaling)
    session: Any = boto3.session.Session()  # untyped: the emulator's clients are built ad hoc here
    event = copy.deepcopy(event)
    source = event.get("source")
    detail = event.get("detail", {}) if isinstance(event.get("detail"), dict) else {}
    if source == "aws.ecr":
        repository = str(detail.get("repository-name") or SERVICE)
        _service(session, repository, say)
        digest, tag = str(detail.get("image-digest", "")), detail.get("image-tag")
        if is_valid_digest(digest) and detail.get("result") == "SUCCESS":
            world.push_image(session.client("ecr"), repository, tag or "untagged", digest)
            say(f"image {repository}:{tag or '(no tag)'} {digest[:19]} in ECR")
    elif source == "aws.ecs":
        service = _service(session, SERVICE, say)
        primary = world.primary_deployment(clients.ecs, service)["id"]
        old = detail.get("deploymentId")
        detail["deploymentId"] = primary
        if "reason" in detail and old:
            detail["reason"] = str(detail["reason"]).replace(str(old), primary)
        event["resources"] = [service]
        say(f"deploymentId {old} -> {primary}, the PRIMARY deployment of {CLUSTER}/{SERVICE} (moto runs no rollout)")
    elif source == "aws.cloudformation":
        stack_id = _stack(session, say)
        token = _in_flight_token(stack_id)
        detail["stack-id"] = stack_id
        event["resources"] = [stack_id]
        if token:
            detail["client-request-token"] = token
        say(f"stack-id -> {stack_id}; client-request-token -> {token or 'unchanged (no rollout in flight)'}")
    elif source == "aws.cloudwatch":
        _service(session, SERVICE, say)
        state = "OK" if detail.get("state", {}).get("value") == "OK" else "ALARM"
        cpu = 96.0 if state == "ALARM" else 5.0
        world.put_cpu(session.client("cloudwatch"), CLUSTER, SERVICE, [cpu] * 15)
        session.client("cloudwatch").set_alarm_state(
            AlarmName=str(detail.get("alarmName", "web-cpu-high")), StateValue=state, StateReason="make invoke"
        )
        say(f"CPU of {CLUSTER}/{SERVICE} at {cpu:.0f}% for 15 minutes; alarm {detail.get('alarmName')} is {state}")
    elif isinstance(event.get("Records"), list):  # the work queue's messages: each carries a push
        _service(session, SERVICE, say)
        _work_pushes(session, event["Records"], say)
    else:  # the schedules: reconcile and review read every registered service
        _service(session, SERVICE, say)
    return event


def _work_pushes(session: Any, records: list[Any], say: Callable[[str], None]) -> None:
    """The images the work messages' pushes name, in ECR (rollout-work.json: the worker deploys them)."""
    for record in records:
        try:
            pushed = json.loads(record.get("body", "")).get("push", {}).get("detail", {})
        except (json.JSONDecodeError, AttributeError):
            continue  # a malformed message is the function's to refuse
        digest, tag = str(pushed.get("image-digest", "")), pushed.get("image-tag")
        repository = str(pushed.get("repository-name") or SERVICE)
        if is_valid_digest(digest):
            world.ensure_repository(session.client("ecr"), repository)
            world.push_image(session.client("ecr"), repository, tag or "untagged", digest)
            say(f"image {repository}:{tag or '(no tag)'} {digest[:19]} in ECR")


def _service(session: Any, repository: str, say: Callable[[str], None]) -> str:
    ecs, ecr = session.client("ecs"), session.client("ecr")
    world.ensure_repository(ecr, repository)
    with contextlib.suppress(ecs.exceptions.ClusterNotFoundException):
        found = ecs.describe_services(cluster=CLUSTER, services=[SERVICE]).get("services", [])
        if found and found[0].get("status") == "ACTIVE":
            return str(found[0]["serviceArn"])
    world.push_image(ecr, SERVICE, "1.0.0")
    arn = world.scalable_service(
        ecs,
        session.client("application-autoscaling"),
        session.client("cloudwatch"),
        CLUSTER,
        SERVICE,
        review="observe",
        extra_tags={"autodeploy:repository": repository, "autodeploy:tags": "semver"},
    )
    say(
        f"service {CLUSTER}/{SERVICE} running {SERVICE}:1.0.0, registered for repository {repository} (semver), "
        "scaling review observe, scalable target 1-8, +1 step policy, alarm web-cpu-high"
    )
    return arn


def _stack(session: Any, say: Callable[[str], None]) -> str:
    cfn = session.client("cloudformation")
    with contextlib.suppress(cfn.exceptions.ClientError):
        found = cfn.describe_stacks(StackName=STACK)["Stacks"]
        if found and found[0]["StackStatus"] != "DELETE_COMPLETE":
            return str(found[0]["StackId"])
    stack_id = world.create_stack(
        cfn, STACK, "1.0.0", {"autodeploy:repository": SERVICE, "autodeploy:parameter": "BuildNumber"}
    )
    say(f"stack {STACK} (BuildNumber 1.0.0) registered for repository {SERVICE}")
    return stack_id


def _in_flight_token(stack_id: str) -> str | None:
    from autodeploy import wiring

    flight = wiring.deploy_on_push().ledger.state(stack_id).in_flight
    return flight.token if flight else None
