"""What the CLI prints about an ECS deployment in progress, from responses in AWS's documented shape.

moto never runs a rollout: its deployments stay IN_PROGRESS with no running or pending task and no
service events (EMULATOR.md). So these responses come from botocore's own ECS data instead: the
``DescribeServices`` example of ``botocore/data/ecs/2014-11-13/examples-1.json`` ("To describe a
service"), with a second deployment built from the ``Deployment`` shape's members in
``service-2.json`` (id, status, taskDefinition, desiredCount, pendingCount, runningCount,
failedTasks, rolloutState, rolloutStateReason), served through botocore's ``Stubber``.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore
import pytest
from botocore.stub import Stubber

from autodeploy.adapters.ecs import EcsServices
from autodeploy.cli import render
from autodeploy.cli.commands import _Progress
from autodeploy.cli.environment import CliError, _PlainFormatter, read_samconfig
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.rollout import InFlight, PushRef, TargetState

EXAMPLES = Path(botocore.__file__).parent / "data" / "ecs" / "2014-11-13" / "examples-1.json"
SERVICE_ARN = "arn:aws:ecs:us-east-1:012345678910:service/default/ecs-simple-service"
NEW_REVISION = "arn:aws:ecs:us-east-1:012345678910:task-definition/hello_world:7"


def described(running: int, pending: int, events: list[str]) -> dict[str, Any]:
    """The documented example, mid-rollout: the new revision's deployment PRIMARY, the old one ACTIVE."""
    example = json.loads(EXAMPLES.read_text())["examples"]["DescribeServices"][0]["output"]
    output = copy.deepcopy(example)
    service = output["services"][0]
    service["serviceArn"] = SERVICE_ARN  # the long ARN format that registration requires
    old = service["deployments"][0]
    old["status"] = "ACTIVE"
    new = {
        **old,
        "id": "ecs-svc/1234567890123456789",
        "status": "PRIMARY",
        "taskDefinition": NEW_REVISION,
        "desiredCount": 2,
        "runningCount": running,
        "pendingCount": pending,
        "failedTasks": 0,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": "ECS deployment ecs-svc/1234567890123456789 in progress.",
    }
    service["deployments"] = [new, old]
    service["events"] = [
        {"createdAt": old["createdAt"], "id": str(n), "message": message} for n, message in enumerate(events)
    ] + service["events"]
    return output


def stubbed_ecs(*responses: dict[str, Any]) -> Any:
    client = boto3.client("ecs", region_name="us-east-1")
    stubber = Stubber(client)
    for response in responses:
        stubber.add_response("describe_services", response, {"cluster": "default", "services": [SERVICE_ARN]})
    stubber.activate()
    return client


def test_deployment_progress_reads_the_new_revisions_counts_and_rollout_state():
    service = EcsServices(stubbed_ecs(described(1, 1, []))).describe([SERVICE_ARN])[SERVICE_ARN]

    line = render.deployment_progress(service, NEW_REVISION, None)

    assert line == (
        "ECS deployment ecs-svc/1234567890123456789 (hello_world:7) IN_PROGRESS: desired 2, running 1, pending 1, "
        "failed tasks 0 (ECS deployment ecs-svc/1234567890123456789 in progress.)"
    )
    # by id it finds the same one; with neither it takes the PRIMARY one
    assert render.deployment_progress(service, None, "ecs-svc/1234567890123456789") == line
    assert render.deployment_progress(service, None, None) == line


def test_waiting_prints_a_line_when_something_changes_and_each_service_event_once(capsys):
    started = "(service ecs-simple-service) has started 1 tasks: (task 1a2b)."
    ecs = stubbed_ecs(described(0, 2, []), described(0, 2, []), described(1, 1, [started]))
    record = DeploymentRecord(
        SERVICE_ARN,
        "service",
        "ecs-simple-service",
        "web",
        "1.5.0",
        "sha256:" + "a" * 64,
        Status.IN_PROGRESS,
        Reason.DEPLOYED,
        "rollout started",
        "e1",
        *(2 * [datetime(2026, 11, 26)]),
        task_definition_arn=NEW_REVISION,
    )
    ledger = SimpleNamespace(state=TargetState)
    env = SimpleNamespace(clients=SimpleNamespace(ecs=ecs))
    progress = _Progress(env, SimpleNamespace(ledger=ledger), SERVICE_ARN)  # type: ignore[arg-type]

    for elapsed in (0.0, 5.0, 10.0):
        progress.show(record, elapsed)

    lines = capsys.readouterr().out.splitlines()
    progress_lines = [line for line in lines if "ECS deployment" in line]
    assert len(progress_lines) == 2  # the unchanged second poll printed nothing
    assert progress_lines[0].split()[:2] == ["0s", "IN_PROGRESS"]
    assert progress_lines[1].split()[:2] == ["10s", "IN_PROGRESS"]
    assert "running 0, pending 2" in progress_lines[0]
    assert "running 1, pending 1" in progress_lines[1]
    events = [line.strip() for line in lines if line.strip().startswith("event:")]
    assert events[-1] == f"event: {started}"
    assert len(events) == len(set(events))


def test_state_names_the_rollback_a_person_asked_for():
    from datetime import UTC, datetime

    at = datetime(2026, 11, 26, 10, tzinfo=UTC)
    flying = PushRef("e1", "web", "sha256:" + "b" * 64, "1.6.0", at, "123456789012", "us-east-1")
    waiting = PushRef("e2", "web", "sha256:" + "c" * 64, "1.5.0", at, "123456789012", "us-east-1", "alice")
    state = TargetState(
        SERVICE_ARN,
        in_flight=InFlight(flying, "web@sha256:b", at),
        pending=waiting,
        last_succeeded={"digest": "sha256:" + "c" * 64, "tag": "1.5.0", "at": at.isoformat()},
    )

    text = render.state("service default/ecs-simple-service", state)

    assert text.splitlines()[1:] == [
        "  in flight:  1.6.0 (sha256:bbbbbbbbbbbb) since 2026-11-26 10:00:00",
        "  waiting:    1.5.0 (sha256:cccccccccccc), rollback requested by alice",
        "  last good:  1.5.0 (sha256:cccccccccccc) at 2026-11-26 10:00:00",
    ]


def test_samconfig_environments_are_read_as_sam_reads_them(tmp_path):
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[staging.global.parameters]\nstack_name = "s"\nprofile = "p"\n'
        '[staging.deploy.parameters]\nregion = "eu-west-1"\nstack_name = "s-deploy"\n'
    )
    env = read_samconfig(config, "staging", required=True)
    assert (env.stack, env.region, env.profile) == ("s-deploy", "eu-west-1", "p")
    assert read_samconfig(config, "default", required=False).stack is None
    with pytest.raises(CliError) as refused:
        read_samconfig(config, "prod", required=True)
    assert str(refused.value) == f"--config-env prod: {config} has no such environment (environments: staging)"


def test_the_project_samconfig_names_the_stacks_the_readme_lists():
    root = Path(__file__).resolve().parents[2]
    stacks = {
        name: read_samconfig(root / "samconfig.toml", name, required=True).stack
        for name in ("default", "staging", "prod")
    }
    assert stacks == {"default": "ecs-autodeploy", "staging": "ecs-autodeploy-staging", "prod": "ecs-autodeploy-prod"}


def test_log_lines_are_plain_text_with_their_fields():
    record = logging.makeLogRecord({"msg": "no notification topic configured", "levelname": "WARNING", "dropped": 1})
    assert _PlainFormatter().format(record) == "autodeploy: warning: no notification topic configured dropped=1"
