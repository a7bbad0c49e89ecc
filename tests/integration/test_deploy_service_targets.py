"""DeployFunction on moto, service targets: the real handler, the template's environment."""

from __future__ import annotations

import time

import pytest

from autodeploy.adapters.ecs_model import task_definition_model
from autodeploy.errors import RetryableError
from tests.support.events import ecr_push, load_event
from tests.support.faults import failing
from tools import world
from tools.world import REGISTRY, create_service, push_image

WEB = {"autodeploy:repository": "web"}


def pinned(digest: str) -> str:
    return f"{REGISTRY}/web@{digest}"


@pytest.fixture
def web_service(aws):
    push_image(aws.ecr, "web", "1.4.0")
    return create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", WEB)


def test_push_registers_a_revision_pinned_by_digest_and_updates_the_service(aws, invoke_deploy, web_service):
    before = aws.service(web_service)
    old = aws.task_definition(before["taskDefinition"])
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert [t["status"] for t in result["targets"]] == ["IN_PROGRESS"]
    after = aws.service(web_service)
    assert after["taskDefinition"] != before["taskDefinition"]
    assert after["desiredCount"] == before["desiredCount"]
    new = aws.task_definition(after["taskDefinition"])
    web, sidecar = new["taskDefinition"]["containerDefinitions"]
    assert web["image"] == pinned(digest)
    assert sidecar["image"] == old["taskDefinition"]["containerDefinitions"][1]["image"]
    # Nothing else changed: compare the whole definitions with only the image put back.
    web["image"] = old["taskDefinition"]["containerDefinitions"][0]["image"]
    strip = lambda d: {k: v for k, v in d.items() if k not in task_definition_model().describe_only}  # noqa: E731
    assert strip(new["taskDefinition"]) == strip(old["taskDefinition"])
    new_tags = {t["key"]: t["value"] for t in new["tags"]}
    assert new_tags["team"] == "web"
    assert new_tags["autodeploy:digest"] == digest
    assert new_tags["autodeploy:cloned-from"] == before["taskDefinition"]

    [record] = aws.ledger(web_service)
    assert record["status"] == "IN_PROGRESS"
    assert record["previous_image"] == f"{REGISTRY}/web:1.4.0"
    assert record["image"] == pinned(digest)
    assert record["event_id"] == result["event_id"]
    # The rollout holds the service's lock until the tracker sees it end.
    in_flight = aws.state(web_service)["in_flight"]
    assert (in_flight["sk"], in_flight["image"]) == (record["sk"], pinned(digest))


def test_duplicate_delivery_registers_nothing_more(aws, invoke_deploy, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    event = ecr_push("1.5.0", digest)
    invoke_deploy(event)
    revisions = aws.revisions("web")

    again = invoke_deploy(event)

    assert aws.revisions("web") == revisions
    assert again["targets"][0]["duplicate"] is True
    assert [r["status"] for r in aws.ledger(web_service)] == ["IN_PROGRESS"]


def complete_rollout(aws, invoke_track, service):
    from tests.support.events import ecs_deployment
    from tools.world import primary_deployment

    invoke_track(ecs_deployment("ecs-deployment-completed.json", service, primary_deployment(aws.ecs, service)["id"]))


def test_a_new_event_for_the_running_digest_is_a_no_op(aws, invoke_deploy, invoke_track, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    invoke_deploy(ecr_push("1.5.0", digest))
    rolling = invoke_deploy(ecr_push("1.5.0", digest))  # while it still rolls out
    complete_rollout(aws, invoke_track, web_service)
    revisions = aws.revisions("web")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert aws.revisions("web") == revisions
    assert result["targets"][0]["status"] == "SKIPPED"
    assert "already running" in result["targets"][0]["reason"]
    assert rolling["targets"][0]["reason"] == f"already rolling out {digest}"


def test_semver_target_rejects_an_out_of_order_older_push(aws, invoke_deploy, invoke_track):
    push_image(aws.ecr, "web", "1.0.1")
    arn = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.0.1", WEB | {"autodeploy:tags": "semver"})
    newer, older = push_image(aws.ecr, "web", "1.0.3"), push_image(aws.ecr, "web", "1.0.2")
    invoke_deploy(ecr_push("1.0.3", newer))
    complete_rollout(aws, invoke_track, arn)
    running = aws.service(arn)["taskDefinition"]

    result = invoke_deploy(ecr_push("1.0.2", older))

    assert result["targets"][0]["status"] == "REJECTED"
    assert "not newer than the deployed 1.0.3" in result["targets"][0]["reason"]
    assert aws.service(arn)["taskDefinition"] == running


def test_any_target_never_goes_back_to_an_earlier_pushed_image(aws, invoke_deploy, invoke_track, web_service):
    earlier = push_image(aws.ecr, "web", "blue")
    time.sleep(1.1)  # ECR (and moto) keep imagePushedAt to the second
    later = push_image(aws.ecr, "web", "green")
    invoke_deploy(ecr_push("green", later))
    complete_rollout(aws, invoke_track, web_service)

    result = invoke_deploy(ecr_push("blue", earlier))

    assert result["targets"][0]["status"] == "REJECTED"
    assert "never going back" in result["targets"][0]["reason"]


def test_dry_run_records_the_plan_and_changes_nothing(aws, invoke_deploy):
    push_image(aws.ecr, "web", "1.4.0")
    arn = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", WEB | {"autodeploy:mode": "dry-run"})
    before = aws.service(arn)["taskDefinition"]
    digest = push_image(aws.ecr, "web", "1.5.0")

    invoke_deploy(ecr_push("1.5.0", digest))

    assert aws.service(arn)["taskDefinition"] == before
    assert aws.revisions("web") == [before]
    [record] = aws.ledger(arn)
    assert record["status"] == "PLANNED"
    assert record["mode"] == "dry-run"
    assert record["plan"]["containers"] == [
        {"container": "web", "before": f"{REGISTRY}/web:1.4.0", "after": pinned(digest)}
    ]


def test_tag_filters_skip_undeployable_tags_with_the_reason(aws, invoke_deploy):
    push_image(aws.ecr, "web", "release-1")
    arn = create_service(
        aws.ecs, "prod", "web", f"{REGISTRY}/web:release-1", WEB | {"autodeploy:tags": "prefix:release- prefix:hotfix-"}
    )
    digest = push_image(aws.ecr, "web", "feature-x")

    result = invoke_deploy(ecr_push("feature-x", digest))

    assert result["targets"][0]["status"] == "SKIPPED"
    assert (
        aws.ledger(arn)[0]["reason"] == "tag 'feature-x' matches none of autodeploy:tags=prefix:release- prefix:hotfix-"
    )


def test_a_multi_architecture_push_is_counted_once_per_child_not_recorded_per_target(
    aws, invoke_deploy, web_service, monkeypatch
):
    """A multi-architecture push: ECR sends one event per child manifest, without a tag, and one
    for the image index with the tag (ecr-push-without-tag.json is such a child's event)."""
    second = create_service(aws.ecs, "staging", "web", f"{REGISTRY}/web:1.4.0", WEB)
    children = [world.digest_for("web", "1.5.0", arch) for arch in ("amd64", "arm64")]
    for child in children:
        push_image(aws.ecr, "web", f"untagged-{child[-6:]}", digest=child)
    index = push_image(aws.ecr, "web", "1.5.0")
    from autodeploy.observability import metrics

    counted: list[str] = []
    add_metric = metrics.add_metric
    monkeypatch.setattr(metrics, "add_metric", lambda name, **kw: (counted.append(name), add_metric(name=name, **kw)))

    ignored = [invoke_deploy(ecr_push(None, child)) for child in children]
    deployed = invoke_deploy(ecr_push("1.5.0", index))

    assert [r["targets"] for r in ignored] == [[], []]
    assert all("multi-architecture" in r["ignored"] for r in ignored)
    assert counted.count("UntaggedPushesIgnored") == 2
    assert sorted((t["target"], t["status"]) for t in deployed["targets"]) == sorted(
        [(web_service, "IN_PROGRESS"), (second, "IN_PROGRESS")]
    )
    assert [r["digest"] for r in aws.ledger(web_service)] == [index]
    assert [r["digest"] for r in aws.ledger(second)] == [index]


def test_the_sample_push_without_tag_records_nothing(aws, invoke_deploy, web_service):
    event = load_event("ecr-push-without-tag.json")
    push_image(aws.ecr, "web", "untagged", digest=event["detail"]["image-digest"])

    result = invoke_deploy(event)

    assert result["targets"] == [] and result["ignored"]
    assert aws.ledger(web_service) == []


def test_only_targets_of_the_pushed_repository_are_touched(aws, invoke_deploy, web_service):
    aws.ecr.create_repository(repositoryName="web-admin")
    push_image(aws.ecr, "web-admin", "2.0.0")
    admin = create_service(
        aws.ecs, "prod", "web-admin", f"{REGISTRY}/web-admin:2.0.0", {"autodeploy:repository": "web-admin"}
    )
    second = create_service(aws.ecs, "staging", "web", f"{REGISTRY}/web:1.4.0", WEB)
    admin_before = aws.service(admin)["taskDefinition"]
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert sorted(t["target"] for t in result["targets"]) == sorted([web_service, second])
    assert aws.service(admin)["taskDefinition"] == admin_before
    assert aws.ledger(admin) == []


def test_named_containers_are_the_only_ones_updated(aws, invoke_deploy):
    push_image(aws.ecr, "web", "1.4.0")
    arn = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", WEB | {"autodeploy:containers": "web"})
    digest = push_image(aws.ecr, "web", "1.5.0")

    invoke_deploy(ecr_push("1.5.0", digest))

    containers = aws.task_definition(aws.service(arn)["taskDefinition"])["taskDefinition"]["containerDefinitions"]
    assert [c["image"] for c in containers] == [pinned(digest), containers[1]["image"]]
    assert containers[1]["name"] == "log-router"


def test_misconfigured_targets_are_recorded_as_failed_and_others_still_deploy(aws, invoke_deploy, web_service):
    push_image(aws.ecr, "web", "1.4.0")
    bad_mode = create_service(aws.ecs, "prod", "api", f"{REGISTRY}/web:1.4.0", WEB | {"autodeploy:mode": "yolo"})
    missing_container = create_service(
        aws.ecs, "prod", "worker", f"{REGISTRY}/web:1.4.0", WEB | {"autodeploy:containers": "nope"}
    )
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    statuses = {t["target"]: t["status"] for t in result["targets"]}
    assert statuses == {web_service: "IN_PROGRESS", bad_mode: "FAILED", missing_container: "FAILED"}
    assert "autodeploy:mode='yolo': expected one of 'apply', 'dry-run'" in aws.ledger(bad_mode)[0]["reason"]
    assert "autodeploy:containers names nope" in aws.ledger(missing_container)[0]["reason"]


def test_a_service_without_a_container_from_the_repository_is_misconfigured(aws, invoke_deploy):
    arn = create_service(aws.ecs, "prod", "web", "nginx:1.27", WEB)
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "FAILED"
    assert "no container of task definition web uses an image from" in aws.ledger(arn)[0]["reason"]


def test_deployed_image_missing_from_ecr_does_not_block_the_push(aws, invoke_deploy):
    arn = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:0.9.0", WEB | {"autodeploy:tags": "semver"})
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "IN_PROGRESS"
    assert aws.service(arn)["taskDefinition"].endswith(":2")


def test_pushed_image_deleted_before_deploy_is_skipped(aws, invoke_deploy, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    aws.ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageDigest": digest}])

    result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "SKIPPED"
    assert aws.ledger(web_service)[0]["reason_code"] == "image-gone"


def test_service_deleted_between_push_and_deploy_is_skipped(aws, invoke_deploy, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    # Resource Groups Tagging still lists it (its index lags on AWS too); the update finds it gone.
    with failing(aws.ecs, "UpdateService", "ServiceNotFoundException", "Service not found."):
        result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "SKIPPED"
    assert aws.ledger(web_service)[0]["reason_code"] == "target-gone"


def test_throttling_raises_for_a_retry_and_the_retry_reuses_the_registered_revision(aws, invoke_deploy, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    event = ecr_push("1.5.0", digest)
    # The function registered the revision, then UpdateService was throttled past botocore's retries.
    with failing(aws.ecs, "UpdateService", "ThrottlingException", "Rate exceeded"), pytest.raises(RetryableError):
        invoke_deploy(event)
    assert len(aws.revisions("web")) == 2
    [record] = aws.ledger(web_service)
    assert record["status"] == "IN_PROGRESS"  # it holds the lock, so no other push can start meanwhile
    assert aws.state(web_service)["in_flight"]["sk"] == record["sk"]

    result = invoke_deploy(event)  # Lambda's retry of the same event

    assert result["targets"][0]["status"] == "IN_PROGRESS"
    assert len(aws.revisions("web")) == 2
    assert aws.service(web_service)["taskDefinition"] == aws.revisions("web")[-1]


def test_access_denied_is_permanent_recorded_and_not_retried(aws, invoke_deploy, web_service):
    digest = push_image(aws.ecr, "web", "1.5.0")
    with failing(aws.ecs, "RegisterTaskDefinition", "AccessDeniedException", "not authorized to perform iam:PassRole"):
        result = invoke_deploy(ecr_push("1.5.0", digest))

    assert result["targets"][0]["status"] == "FAILED"
    assert "iam:PassRole" in aws.ledger(web_service)[0]["reason"]


def test_during_a_rollout_an_older_push_is_superseded_at_once(aws, invoke_deploy, web_service):
    newer, older = push_image(aws.ecr, "web", "1.0.3"), push_image(aws.ecr, "web", "1.0.2")
    invoke_deploy(ecr_push("1.0.3", newer, time="2026-11-26T10:00:10Z"))

    result = invoke_deploy(ecr_push("1.0.2", older, time="2026-11-26T10:00:05Z"))

    assert result["targets"][0]["status"] == "SUPERSEDED"
    assert result["targets"][0]["reason"] == "the newer push 1.0.3 is rolling out"
    assert len(aws.revisions("web")) == 2


def test_a_definition_field_unknown_to_the_sdk_fails_the_target_with_its_name(
    aws, invoke_deploy, web_service, monkeypatch
):
    """What the ECS adapter reports when ECS sent a field the shipped botocore's model lacks (the wire
    comparison itself is tested on a recorded response in tests/unit/test_task_definition.py)."""
    from dataclasses import replace

    from autodeploy.adapters.ecs import EcsServices

    describe = EcsServices.task_definition
    monkeypatch.setattr(
        EcsServices, "task_definition", lambda self, name: replace(describe(self, name), unmodeled=("brandNewField",))
    )
    revisions = aws.revisions("web")
    digest = push_image(aws.ecr, "web", "1.5.0")

    result = invoke_deploy(ecr_push("1.5.0", digest))

    [target] = result["targets"]
    assert target["status"] == "FAILED"
    [record] = aws.ledger(web_service)
    assert (record["status"], record["reason_code"]) == ("FAILED", "misconfigured")
    assert "task definition web has brandNewField, unknown to the AWS SDK" in record["reason"]
    assert aws.revisions("web") == revisions  # nothing registered
    assert aws.state(web_service).get("in_flight") is None  # the lock is free for the next push
