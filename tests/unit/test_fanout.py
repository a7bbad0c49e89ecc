"""The fan-out's pure parts: chunking, the in-process threshold, the work message, the worker's
deadline handling and the pacing of ECS's throttled calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from autodeploy.adapters.pacing import pace
from autodeploy.deploy.dispatch import (
    ACCOUNT_RATES,
    CHUNK_SIZE,
    FAN_OUT_SHARE,
    IN_PROCESS_LIMIT,
    RolloutWork,
    chunks,
    hands_off,
    tags_of,
    worker_rates,
)
from autodeploy.deploy.outcome import DeployOptions, DeployReport
from autodeploy.deploy.work import RESERVE_MS, RolloutWorker
from autodeploy.errors import InvalidEvent, RetryableError
from autodeploy.events import ImagePush
from autodeploy.registration import parse_target
from tests.support.events import ecr_push, load_event
from tools.template import load_template

DIGEST = "sha256:" + "a" * 64


def service(i: int, **tags: str) -> Any:
    arn = f"arn:aws:ecs:us-east-1:123456789012:service/fleet/svc-{i}"
    return parse_target(arn, {"autodeploy:repository": "base", **tags})


def push() -> ImagePush:
    return ImagePush.from_event(ecr_push("2.0.0", DIGEST, repository="base", time="2026-11-26T10:15:00.250Z"))


def test_targets_are_chunked_by_ten_the_services_describe_services_takes_a_call():
    targets = [service(i) for i in range(25)]
    assert [len(c) for c in chunks(targets)] == [10, 10, 5]
    assert [t for c in chunks(targets) for t in c] == targets
    assert chunks([]) == []
    with pytest.raises(ValueError, match="at least one"):
        chunks(targets, 0)


def test_a_push_that_fits_one_message_stays_in_process_and_only_a_push_from_ecr_is_handed_off():
    assert IN_PROCESS_LIMIT == CHUNK_SIZE
    assert not hands_off([service(i) for i in range(IN_PROCESS_LIMIT)], DeployOptions())
    assert hands_off([service(i) for i in range(IN_PROCESS_LIMIT + 1)], DeployOptions())
    many = [service(i) for i in range(50)]
    assert not hands_off(many, DeployOptions(promoted=True))
    assert not hands_off(many, DeployOptions(record_noops=False, require_known_deployed=True))
    assert not hands_off(many, DeployOptions.rollback("alice"))


def test_the_in_process_threshold_fits_the_deploy_functions_timeout_at_the_headroom_the_workers_leave():
    """Worst case: a fan-out in flight emptied ECS's RegisterTaskDefinition bucket and takes
    FAN_OUT_SHARE of its refill; the in-process targets get the rest, one registration each."""
    template = load_template()
    deploy = template["Resources"]["DeployFunction"]["Properties"]
    timeout = deploy.get("Timeout", template["Globals"]["Function"]["Timeout"])
    left_per_second = ACCOUNT_RATES["ecs"]["RegisterTaskDefinition"] * (1 - FAN_OUT_SHARE)
    # 100 s of registrations at most, 20 s of the 120 s left for the push's few other calls.
    assert round(IN_PROCESS_LIMIT / left_per_second, 6) <= timeout - 20


def test_the_workers_together_take_the_fan_out_share_of_each_rate_whatever_their_concurrency():
    template = load_template()
    concurrency = template["Parameters"]["RolloutWorkerConcurrency"]
    mapping = template["Resources"]["RolloutWorkerFunction"]["Properties"]["Events"]["Work"]["Properties"]
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "RolloutWorkerConcurrency"}
    for workers in range(concurrency["MinValue"], concurrency["MaxValue"] + 1):
        rates = worker_rates(workers)
        for service_name, operations in ACCOUNT_RATES.items():
            for operation, rate in operations.items():
                assert rates[service_name][operation] * workers == pytest.approx(rate * FAN_OUT_SHARE)
    with pytest.raises(ValueError, match="at least 1"):
        worker_rates(0)


def test_the_work_queue_redrives_to_the_failure_queue_and_outlasts_the_workers_timeout():
    """Lambda developer guide, "Using Lambda with Amazon SQS": the queue's visibility timeout at
    least six times the function's timeout; a redrive policy keeps what fails every delivery."""
    template = load_template()
    queue = template["Resources"]["RolloutWorkQueue"]["Properties"]
    worker = template["Resources"]["RolloutWorkerFunction"]["Properties"]
    timeout = worker.get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeployFailureQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5
    assert worker["Events"]["Work"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_a_work_message_carries_the_push_and_each_targets_registration_both_ways():
    targets = (
        service(1, **{"autodeploy:tags": "prefix:release- prefix:hotfix-", "autodeploy:containers": "app worker"}),
        service(2, **{"autodeploy:mode": "dry-run", "autodeploy:tags": "semver"}),
        parse_target(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/base-stack/1a2b",
            {"autodeploy:repository": "base", "autodeploy:parameter": "ImageUri", "autodeploy:value": "image"},
        ),
    )
    work = RolloutWork(push(), targets)
    again = RolloutWork.from_message(work.to_message())
    assert again == work
    assert again.push.envelope.time == datetime(2026, 11, 26, 10, 15, 0, 250000, tzinfo=UTC)
    assert [parse_target(t.arn, tags_of(t)) for t in targets] == list(targets)
    ten = RolloutWork(push(), tuple(service(i) for i in range(CHUNK_SIZE)))
    assert len(ten.to_message().encode()) < 8_192  # far under SQS's message size


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "not JSON"),
        ("[]", "an object"),
        (json.dumps({"push": {}, "targets": []}), "detail"),
        (json.dumps({"push": load_event("ecr-push.json"), "targets": []}), "names no target"),
        (json.dumps({"push": load_event("ecr-push.json"), "targets": ["arn:aws:ecs:x"]}), "'arn'"),
        (
            json.dumps({"push": load_event("ecr-push.json"), "targets": [{"arn": "arn:aws:ecs:a:b:c", "tags": {}}]}),
            "do not register",
        ),
        (json.dumps({"push": ecr_push(None, DIGEST), "targets": []}), "no tag"),
    ],
)
def test_a_malformed_work_message_is_refused_with_its_reason(body, problem):
    with pytest.raises(InvalidEvent, match=problem):
        RolloutWork.from_message(body)


class FakeDeployer:
    """Acts on targets while ``keep_going`` says so; reports what it reached."""

    def __init__(self, retryable: list[str] | None = None) -> None:
        self.acted: list[str] = []
        self.retryable = retryable or []

    def deploy_handed_off(self, push: ImagePush, targets: list[Any], keep_going: Any) -> tuple[DeployReport, list[Any]]:
        report = DeployReport(push, retryable=list(self.retryable))
        for done, target in enumerate(targets):
            if not keep_going():
                return report, targets[done:]
            self.acted.append(target.arn)
        return report, []


class Countdown:
    """The invocation's remaining time: ``start`` ms, less ``step`` ms each time it is asked."""

    def __init__(self, start: int, step: int) -> None:
        self.left, self.step = start, step

    def __call__(self) -> int:
        left, self.left = self.left, self.left - self.step
        return left


def test_a_worker_near_its_deadline_stops_taking_targets_and_sends_the_rest_again():
    sent: list[str] = []
    deployer = FakeDeployer()
    worker = RolloutWorker(deployer, sent.extend)  # type: ignore[arg-type]
    work = RolloutWork(push(), tuple(service(i) for i in range(10)))
    done = worker.work(work, Countdown(RESERVE_MS + 3_500, 1_000))  # time for the check and three targets
    assert deployer.acted == work.arns()[:3]
    assert done.resent == work.arns()[3:]
    [message] = sent
    assert RolloutWork.from_message(message) == RolloutWork(work.push, work.targets[3:])


def test_a_worker_that_reaches_no_target_fails_the_message_so_sqs_delivers_it_again():
    sent: list[str] = []
    worker = RolloutWorker(FakeDeployer(), sent.extend)  # type: ignore[arg-type]
    work = RolloutWork(push(), (service(1), service(2)))
    with pytest.raises(RetryableError, match="no time left for 2 targets"):
        worker.work(work, Countdown(RESERVE_MS - 1, 0))
    with pytest.raises(RetryableError, match=r"svc-1, .*svc-2"):
        worker.work(work, Countdown(RESERVE_MS, 1))  # the first check passes, no target does
    assert sent == []


def test_a_transient_failure_fails_the_whole_message_and_sends_nothing():
    sent: list[str] = []
    worker = RolloutWorker(FakeDeployer(retryable=["svc-1: throttled"]), sent.extend)  # type: ignore[arg-type]
    with pytest.raises(RetryableError, match="throttled"):
        worker.work(RolloutWork(push(), (service(1),)), Countdown(10 * RESERVE_MS, 0))
    assert sent == []


class SteppingClock:
    """botocore's bucket Clock, a second further on each reading: the bucket never has to wait."""

    def __init__(self) -> None:
        self.now = 0.0

    def current_time(self) -> float:
        self.now += 1.0
        return self.now

    def sleep(self, amount: float) -> None:
        self.now += amount


def test_every_attempt_of_a_paced_operation_takes_a_token_before_it_is_sent_retries_included():
    client = boto3.session.Session().client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    clock = SteppingClock()
    pace(client, {"RegisterTaskDefinition": 1.0}, clock=clock)  # type: ignore[arg-type]
    seen: list[str] = []
    answers = [400, 200]  # throttled once (ECS's ThrottlingException), then accepted

    def ecs(request: Any, **_: Any) -> AWSResponse:
        seen.append(f"sent at {clock.now:.0f}")
        status = answers.pop(0)
        body = (
            {"__type": "ThrottlingException", "message": "Rate exceeded"}
            if status == 400
            else {"taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/a:1"}}
        )
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        response = AWSResponse(request.url, status, headers, None)
        response._content = json.dumps(body).encode()  # botocore reads the body from here
        return response

    client.meta.events.register("before-send.ecs.RegisterTaskDefinition", ecs)
    client.register_task_definition(family="a", containerDefinitions=[{"name": "a", "image": "a"}])
    # Each attempt took a token (the bucket read its clock, a second on) before it reached "ECS".
    assert seen == ["sent at 2", "sent at 3"]
