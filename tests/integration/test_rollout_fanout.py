"""The fan-out on moto: DeployFunction hands a large push to the work queue (moto's SQS), and
RolloutWorkerFunction, fed SQS events shaped as events/rollout-work.json (AWS's SQS -> Lambda event,
Lambda developer guide "Using Lambda with Amazon SQS"), deploys each chunk once, however often SQS
delivers it; what a worker cannot finish in time comes back, and what keeps failing ends in the
failure queue through the work queue's redrive policy, the targets named."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from autodeploy.deploy import dispatch
from autodeploy.deploy.work import RESERVE_MS
from tests.support import call_recorder, faults
from tests.support.events import ecr_push, rollout_work
from tools import world
from tools.lambda_context import FakeLambdaContext
from tools.world import REGISTRY

REPOSITORY = "base"
TAGS = {"autodeploy:repository": REPOSITORY}


class Deadline(FakeLambdaContext):
    """A context whose remaining time falls by ``step`` ms each time it is asked."""

    def __init__(self, start: int, step: int = 0) -> None:
        super().__init__(function_name="RolloutWorkerFunction")
        self.left, self.step = start, step

    def get_remaining_time_in_millis(self) -> int:
        left, self.left = self.left, self.left - self.step
        return left


@pytest.fixture
def fast_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' pace in wall time would only slow the suite; `make bench` measures it on a simulated clock."""
    fast = {service: dict.fromkeys(rates, 1000.0) for service, rates in dispatch.ACCOUNT_RATES.items()}
    monkeypatch.setattr(dispatch, "ACCOUNT_RATES", fast)
    monkeypatch.setenv("ROLLOUT_WORKER_CONCURRENCY", "2")


@pytest.fixture
def invoke_worker(fast_pace: None) -> Any:
    from rollout_worker_function import handler

    def invoke(event: dict[str, Any], context: FakeLambdaContext | None = None) -> dict[str, Any]:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        with call_recorder.invoking("RolloutWorkerFunction", test):
            result: dict[str, Any] = handler(event, context or FakeLambdaContext(function_name="RolloutWorkerFunction"))
        return result

    return invoke


def queue_url(aws: Any, name: str) -> str:
    return str(aws.sqs.get_queue_url(QueueName=name)["QueueUrl"])


def receive(aws: Any, name: str = "RolloutWorkQueue", visibility: int | None = None) -> list[dict[str, Any]]:
    """Every message visible on the queue now (as the event source mapping's poller receives them)."""
    messages = []
    while True:
        extra = {} if visibility is None else {"VisibilityTimeout": visibility}
        batch = aws.sqs.receive_message(QueueUrl=queue_url(aws, name), MaxNumberOfMessages=10, **extra)
        if not batch.get("Messages"):
            return messages
        messages += batch["Messages"]
        if visibility == 0:
            return messages


def services(aws: Any, count: int) -> list[str]:
    world.ensure_repository(aws.ecr, REPOSITORY)
    world.push_image(aws.ecr, REPOSITORY, "1.0.0")
    return [
        world.create_service(aws.ecs, f"fleet{i % 3}", f"svc-{i}", f"{REGISTRY}/{REPOSITORY}:1.0.0", TAGS)
        for i in range(count)
    ]


def image_of(aws: Any, service: str) -> str:
    definition = aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]
    return str(definition["containerDefinitions"][0]["image"])


def revisions(aws: Any, service: str) -> int:
    return len(aws.revisions(service.rsplit("/", 1)[-1]))


def test_a_large_push_is_handed_off_and_each_target_deployed_once_however_often_sqs_delivers_it(
    aws, invoke_deploy, invoke_worker
):
    fleet = services(aws, 25)
    digest = world.push_image(aws.ecr, REPOSITORY, "1.1.0")

    pushed = invoke_deploy(ecr_push("1.1.0", digest, repository=REPOSITORY))

    # The first ten are deployed by the push's invocation, the other fifteen handed off.
    here = [t["target"] for t in pushed["targets"] if t["status"] == "IN_PROGRESS"]
    assert (pushed["handed_off"], len(here)) == (15, 10)
    there = sorted(set(fleet) - set(here))
    assert all(image_of(aws, s).endswith(":1.0.0") for s in there)
    messages = receive(aws)
    bodies = [json.loads(m["Body"]) for m in messages]
    assert sorted(len(b["targets"]) for b in bodies) == [5, 10]
    assert sorted(t["arn"] for b in bodies for t in b["targets"]) == there

    for message in messages:
        assert invoke_worker(rollout_work([message["Body"]])) == {"batchItemFailures": []}

    assert {image_of(aws, s) for s in fleet} == {f"{REGISTRY}/{REPOSITORY}@{digest}"}
    assert {revisions(aws, s) for s in fleet} == {2}
    assert {tuple(r["status"] for r in aws.ledger(s)) for s in fleet} == {("IN_PROGRESS",)}
    assert all(aws.state(s)["in_flight"]["image"] == f"{REGISTRY}/{REPOSITORY}@{digest}" for s in fleet)

    # SQS delivers at least once: the same messages again, in one batch, change nothing.
    again = invoke_worker(rollout_work([m["Body"] for m in messages], receive_count=2))
    assert again == {"batchItemFailures": []}
    assert {revisions(aws, s) for s in fleet} == {2}
    assert {len(aws.ledger(s)) for s in fleet} == {1}
    assert receive(aws) == []


def test_work_sqs_refuses_for_good_fails_those_targets_visibly_and_the_rest_still_deploy(aws, invoke_deploy):
    """SendMessageBatch can refuse entries as the sender's fault (botocore's sqs model,
    BatchResultErrorEntry: Id, SenderFault, Code, Message): those targets are recorded FAILED with
    SQS's reason and notified; the push is not dropped, and the targets kept here roll out."""
    fleet = services(aws, 15)
    digest = world.push_image(aws.ecr, REPOSITORY, "1.1.0")

    def refuse(parsed: dict[str, Any]) -> None:
        ids = [entry["Id"] for entry in parsed.pop("Successful", [])]
        parsed["Failed"] = [
            {"Id": i, "SenderFault": True, "Code": "InvalidParameterValue", "Message": "refused"} for i in ids
        ]

    from autodeploy import wiring

    with faults.amended(wiring.aws_clients().sqs, "SendMessageBatch", refuse):  # DeployFunction's own client
        pushed = invoke_deploy(ecr_push("1.1.0", digest, repository=REPOSITORY))

    statuses = {t["target"]: t["status"] for t in pushed["targets"]}
    assert sorted(statuses.values()) == ["FAILED"] * 5 + ["IN_PROGRESS"] * 10
    assert set(statuses) == set(fleet) and "handed_off" not in pushed
    failed = [t for t in pushed["targets"] if t["status"] == "FAILED"]
    assert all("SQS refused work messages" in t["reason"] for t in failed)
    assert [r["status"] for t in failed for r in aws.ledger(t["target"])] == ["FAILED"] * 5
    assert sorted(n["status"] for n in aws.notifications()).count("FAILED") == 5


def test_a_push_that_fits_one_work_message_is_deployed_where_it_arrived(aws, invoke_deploy):
    fleet = services(aws, dispatch.IN_PROCESS_LIMIT)
    digest = world.push_image(aws.ecr, REPOSITORY, "1.1.0")

    pushed = invoke_deploy(ecr_push("1.1.0", digest, repository=REPOSITORY))

    assert "handed_off" not in pushed
    assert sorted(t["target"] for t in pushed["targets"] if t["status"] == "IN_PROGRESS") == sorted(fleet)
    assert receive(aws) == []


def test_stack_targets_are_handed_off_and_updated_once(aws, invoke_deploy, invoke_worker):
    world.ensure_repository(aws.ecr, REPOSITORY)
    stacks = [
        world.create_stack(aws.cloudformation, f"base-{i}", "1.0.0", TAGS | {"autodeploy:parameter": "BuildNumber"})
        for i in range(12)
    ]
    digest = world.push_image(aws.ecr, REPOSITORY, "1.1.0")

    assert invoke_deploy(ecr_push("1.1.0", digest, repository=REPOSITORY))["handed_off"] == 2
    messages = receive(aws)
    for _ in range(2):  # delivered twice
        assert invoke_worker(rollout_work([m["Body"] for m in messages])) == {"batchItemFailures": []}

    for stack in stacks:
        [described] = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"]
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
        assert parameters["BuildNumber"] == "1.1.0"
        assert [r["status"] for r in aws.ledger(stack)] == ["IN_PROGRESS"]


def test_a_worker_near_its_deadline_sends_the_targets_it_did_not_reach_again_and_they_are_deployed(
    aws, invoke_deploy, invoke_worker
):
    fleet = services(aws, 25)
    digest = world.push_image(aws.ecr, REPOSITORY, "1.1.0")
    invoke_deploy(ecr_push("1.1.0", digest, repository=REPOSITORY))
    first, second = sorted(receive(aws), key=lambda m: -len(json.loads(m["Body"])["targets"]))

    # Time for the first check and three targets, then under the reserve.
    short = Deadline(RESERVE_MS + 3_500, step=1_000)
    assert invoke_worker(rollout_work([first["Body"]]), short) == {"batchItemFailures": []}

    [resent] = receive(aws)
    left = [t["arn"] for t in json.loads(resent["Body"])["targets"]]
    reached = [t["arn"] for t in json.loads(first["Body"])["targets"] if t["arn"] not in left]
    assert 1 <= len(reached) < 10
    assert all(image_of(aws, s).endswith(":1.0.0") for s in left)
    for body in (resent["Body"], second["Body"]):
        assert invoke_worker(rollout_work([body])) == {"batchItemFailures": []}
    assert {image_of(aws, s) for s in fleet} == {f"{REGISTRY}/{REPOSITORY}@{digest}"}
    assert {revisions(aws, s) for s in fleet} == {2}


def test_a_chunk_no_worker_has_time_for_comes_back_and_ends_in_the_failure_queue_with_its_targets(
    aws, invoke_deploy, invoke_worker
):
    fleet = services(aws, 21)
    digest = world.push_image(aws.ecr, REPOSITORY, "1.1.0")
    pushed = invoke_deploy(ecr_push("1.1.0", digest, repository=REPOSITORY))
    there = sorted(set(fleet) - {t["target"] for t in pushed["targets"]})
    # The template's redrive policy (tools/template.py creates the queue with it): maxReceiveCount
    # deliveries, then SQS moves the message to the failure queue.
    attributes = aws.sqs.get_queue_attributes(QueueUrl=queue_url(aws, "RolloutWorkQueue"), AttributeNames=["All"])
    limit = json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"]

    delivered = 0
    while messages := receive(aws, visibility=0):
        failed = invoke_worker(rollout_work([messages[0]["Body"]]), Deadline(RESERVE_MS - 1))
        assert failed == {"batchItemFailures": [{"itemIdentifier": failed["batchItemFailures"][0]["itemIdentifier"]}]}
        delivered += 1
        assert delivered <= 2 * limit

    assert len(there) == 11
    assert all(image_of(aws, s).endswith(":1.0.0") for s in there)
    dead = [json.loads(m["Body"]) for m in receive(aws, "DeployFailureQueue")]
    assert sorted(t["arn"] for body in dead for t in body["targets"]) == there
    assert {body["push"]["detail"]["image-digest"] for body in dead} == {digest}
