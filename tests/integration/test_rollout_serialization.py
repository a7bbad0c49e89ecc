"""One rollout at a time per target, newest push wins: racing invocations and a throttled burst."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import wraps

import pytest
from moto.dynamodb.models import DynamoDBBackend

from autodeploy import wiring
from autodeploy.errors import RetryableError
from autodeploy.events import ImagePush
from tests.support.events import ecr_push, ecs_deployment
from tests.support.faults import failing
from tools.world import REGISTRY, create_service, primary_deployment, push_image

TERMINAL = {"SUCCEEDED", "SUPERSEDED", "REJECTED", "SKIPPED"}


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB makes each conditional write atomic; moto does not across threads, so serialize them."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "transact_write_items", "get_item", "query", "batch_get_item"):
        original = getattr(DynamoDBBackend, name)

        @wraps(original)
        def atomic(*args, __original=original, **kwargs):
            with lock:
                return __original(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


def running_image(aws, service: str) -> str:
    definition = aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]
    return str(definition["containerDefinitions"][0]["image"])


def drain(aws, invoke_track, services: list[str]) -> int:
    """Complete every rollout in flight until none is left; returns how many completed."""
    completed = 0
    for _ in range(10 * len(services)):
        busy = [s for s in services if aws.state(s).get("in_flight")]
        if not busy:
            return completed
        for service in busy:
            invoke_track(
                ecs_deployment("ecs-deployment-completed.json", service, primary_deployment(aws.ecs, service)["id"])
            )
            completed += 1
    raise AssertionError("rollouts never drained")


def test_racing_pushes_start_exactly_one_rollout_and_the_last_pushed_image_wins(aws, invoke_track, atomic_dynamodb):
    push_image(aws.ecr, "web", "1.0.0")
    service = create_service(
        aws.ecs, "prod", "web", f"{REGISTRY}/web:1.0.0", {"autodeploy:repository": "web", "autodeploy:tags": "semver"}
    )
    tags = [f"1.1.{i}" for i in range(8)]
    events = [
        ecr_push(tag, push_image(aws.ecr, "web", tag), time=f"2026-11-26T10:00:{i:02d}Z") for i, tag in enumerate(tags)
    ]
    deployer = wiring.deploy_on_push()

    with ThreadPoolExecutor(max_workers=8) as pool:
        reports = list(pool.map(lambda e: deployer.handle(ImagePush.from_event(e)), events))

    started = [r for report in reports for r in report.recorded if r.record.status.value == "IN_PROGRESS"]
    assert len(started) == 1
    assert len(aws.revisions("web")) == 2  # only the rollout in flight registered a revision
    drain(aws, invoke_track, [service])
    assert running_image(aws, service) == f"{REGISTRY}/web@{events[-1]['detail']['image-digest']}"
    statuses = {r["tag"]: r["status"] for r in aws.ledger(service)}
    assert set(statuses) == set(tags)
    assert set(statuses.values()) <= TERMINAL
    assert statuses[tags[-1]] == "SUCCEEDED"


def test_a_throttled_burst_loses_no_push_and_each_service_ends_on_the_last_image(aws, invoke_deploy, invoke_track):
    services = [
        create_service(
            aws.ecs,
            f"cluster-{i}",
            "web",
            f"{REGISTRY}/web:1.0.0",
            {"autodeploy:repository": "web", "autodeploy:tags": "semver"},
        )
        for i in range(4)
    ]
    push_image(aws.ecr, "web", "1.0.0")
    tags = [f"2.0.{i}" for i in range(15)]
    events = [
        ecr_push(tag, push_image(aws.ecr, "web", tag), time=f"2026-11-26T11:00:{i:02d}Z") for i, tag in enumerate(tags)
    ]
    deliveries = events + random.Random(7).sample(events, 6)  # EventBridge: out of order, some twice
    random.Random(11).shuffle(deliveries)
    retries = 0

    # RegisterTaskDefinition sustains about one call a second: the burst meets throttling past
    # botocore's own retries, and Lambda retries the event (up to twice) as the template sets.
    with failing(aws.ecs, "RegisterTaskDefinition", "ThrottlingException", "Rate exceeded", times=3) as throttled:
        for event in deliveries:
            for attempt in range(3):
                try:
                    invoke_deploy(event)
                    break
                except RetryableError:
                    retries += 1
                    assert attempt < 2, "a push would have gone to the failure queue"
    drain(aws, invoke_track, services)

    assert len(throttled) == 3  # three services' registrations throttled, all in the first rollout's invocation
    assert retries == 1  # so Lambda retried that one event once, and it finished every service
    last = f"{REGISTRY}/web@{events[-1]['detail']['image-digest']}"
    for service in services:
        assert running_image(aws, service) == last
        family = aws.service(service)["taskDefinition"].rsplit("/", 1)[1].rsplit(":", 1)[0]
        records = aws.ledger(service)
        assert sorted(r["tag"] for r in records) == sorted(tags)  # every push recorded once
        assert {r["status"] for r in records} <= TERMINAL
        assert family == "web"
    registrations = len(aws.revisions("web")) - len(services)
    assert registrations <= 2 * len(services)
