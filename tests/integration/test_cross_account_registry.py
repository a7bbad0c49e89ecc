"""One registry account, many workload accounts and regions: a push forwarded by EventBridge.

AWS facts this relies on, and where they are documented (moto models none of them across
accounts: it keeps one ECR per account and never crosses it):
- A forwarded event keeps its source's ``account`` and ``region``: EventBridge's PutPermission
  reference (botocore ``events`` model, ``Principal``): "Rules with an account field do not match
  any events sent from other accounts". ``events/ecr-push-forwarded.json`` is such an event.
- DescribeImages reads another account's repository when given its ``registryId`` (botocore
  ``ecr`` model: "The Amazon Web Services account ID associated with the registry that contains
  the repository"), and only if that repository's policy allows the caller: "By default, only the
  AWS account that created the repository has access" (Amazon ECR User Guide, "Private repository
  policies"). ``tools.moto_gaps.cross_account_ecr`` answers such calls from the registry account's
  moto after that check; the policy's actions are read from ``stacks/registry.yaml``.
- Regions: moto keeps one ECR per region natively, so the cross-region case runs on moto alone.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest

from autodeploy import wiring
from tests.support.events import ecr_push, load_event
from tools import moto_gaps
from tools.template import ROOT, load_template
from tools.world import ACCOUNT, create_service, digest_for, push_image

REGISTRY_ACCOUNT = load_event("ecr-push-forwarded.json")["account"]
OTHER_REGION = "eu-west-1"
WEB = {"autodeploy:repository": "web"}


def registry_stack_actions() -> list[str]:
    """What stacks/registry.yaml's repository policy allows the workload accounts."""
    repository = load_template(ROOT / "stacks" / "registry.yaml")["Resources"]["Repository"]
    [statement] = repository["Properties"]["RepositoryPolicyText"]["Statement"]
    return list(statement["Action"])


def registry_account_ecr(region: str) -> object:
    """An ECR client acting in the registry account (moto maps assumed-role credentials to it)."""
    role = f"arn:aws:iam::{REGISTRY_ACCOUNT}:role/registry-admin"
    credentials = boto3.client("sts", region_name=region).assume_role(RoleArn=role, RoleSessionName="registry")[
        "Credentials"
    ]
    return boto3.client(
        "ecr",
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def deployer_accepting(monkeypatch, accounts: str = "", regions: str = "") -> None:
    monkeypatch.setenv("ACCEPTED_ACCOUNTS", accounts)
    monkeypatch.setenv("ACCEPTED_REGIONS", regions)
    wiring.reset()


@pytest.fixture
def registry(aws, monkeypatch):
    """The registry account's repository ``web`` with 1.3.0, 1.4.0 and 1.5.0, shared as registry.yaml shares it."""
    ecr = registry_account_ecr("us-east-1")
    ecr.create_repository(repositoryName="web")
    forwarded = load_event("ecr-push-forwarded.json")
    digests = {"1.3.0": push_image(ecr, "web", "1.3.0", digest_for("registry/web", "1.3.0"))}
    time.sleep(1.1)  # ECR (and moto) keep imagePushedAt to the second
    digests["1.4.0"] = push_image(ecr, "web", "1.4.0", digest_for("registry/web", "1.4.0"))
    digests["1.5.0"] = push_image(ecr, "web", "1.5.0", forwarded["detail"]["image-digest"])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": [ACCOUNT]}, "Action": registry_stack_actions()},
        ],
    }
    ecr.set_repository_policy(repositoryName="web", policyText=json.dumps(policy))
    deployer_accepting(monkeypatch, accounts=REGISTRY_ACCOUNT)
    calls: list[dict] = []
    deployer_ecr = wiring.aws_clients().ecr
    deployer_ecr.meta.events.register(
        "provide-client-params.ecr.DescribeImages", lambda params, **_: calls.append(params)
    )
    moto_gaps.cross_account_ecr(deployer_ecr, ACCOUNT, {REGISTRY_ACCOUNT: ecr})
    host = f"{REGISTRY_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    return {"ecr": ecr, "digests": digests, "calls": calls, "host": host}


def test_the_forwarded_sample_is_a_push_from_the_registry_account():
    event = load_event("ecr-push-forwarded.json")
    assert event["account"] != ACCOUNT
    assert (event["source"], event["detail-type"], event["detail"]["image-tag"]) == (
        "aws.ecr",
        "ECR Image Action",
        "1.5.0",
    )


def test_a_push_forwarded_from_the_registry_account_deploys_the_image_from_that_registry(aws, registry, invoke_deploy):
    service = create_service(aws.ecs, "prod", "web", f"{registry['host']}/web:1.4.0", WEB)

    result = invoke_deploy(load_event("ecr-push-forwarded.json"))

    assert [t["status"] for t in result["targets"]] == ["IN_PROGRESS"], result
    pinned = f"{registry['host']}/web@{registry['digests']['1.5.0']}"
    definition = aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == pinned
    assert registry["calls"] and all(c["registryId"] == REGISTRY_ACCOUNT for c in registry["calls"])
    [record] = aws.ledger(service)
    assert (record["image"], record["previous_image"]) == (pinned, f"{registry['host']}/web:1.4.0")


def test_never_backwards_compares_with_the_image_in_the_registry_account(aws, registry, invoke_deploy):
    service = create_service(aws.ecs, "prod", "web", f"{registry['host']}/web:1.4.0", WEB)
    older = ecr_push("1.3.0", registry["digests"]["1.3.0"], account=REGISTRY_ACCOUNT)

    result = invoke_deploy(older)

    [target] = result["targets"]
    assert target["status"] == "REJECTED"
    assert "before the deployed image" in target["reason"]
    assert aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]["revision"] == 1


def test_without_the_registry_policy_the_lookup_is_denied_and_nothing_deploys(aws, registry, invoke_deploy):
    service = create_service(aws.ecs, "prod", "web", f"{registry['host']}/web:1.4.0", WEB)
    registry["ecr"].delete_repository_policy(repositoryName="web")

    result = invoke_deploy(load_event("ecr-push-forwarded.json"))

    [target] = result["targets"]
    assert target["status"] == "FAILED"
    assert "AccessDeniedException" in target["reason"] and "ecr:DescribeImages" in target["reason"]
    assert aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]["revision"] == 1


def test_a_push_from_an_account_not_accepted_is_ignored(aws, registry, invoke_deploy, monkeypatch):
    service = create_service(aws.ecs, "prod", "web", f"{registry['host']}/web:1.4.0", WEB)
    deployer_accepting(monkeypatch)

    result = invoke_deploy(load_event("ecr-push-forwarded.json"))

    assert result["status"] == "ignored" and "AcceptedAccounts" in result["reason"]
    assert aws.ledger(service) == []


def test_a_push_forwarded_from_another_region_is_looked_up_in_that_region(aws, invoke_deploy, monkeypatch):
    """The home region's repository ``web`` exists but lacks these images: a lookup there would
    find nothing and skip the push as "no longer in ECR"."""
    elsewhere = boto3.client("ecr", region_name=OTHER_REGION)
    elsewhere.create_repository(repositoryName="web")
    host = f"{ACCOUNT}.dkr.ecr.{OTHER_REGION}.amazonaws.com"
    push_image(elsewhere, "web", "1.4.0")
    digest = push_image(elsewhere, "web", "1.5.0")
    service = create_service(aws.ecs, "prod", "web", f"{host}/web:1.4.0", WEB)
    deployer_accepting(monkeypatch, regions=OTHER_REGION)
    regions: list[str] = []
    client = wiring.aws_clients().ecr_in(OTHER_REGION)
    client.meta.events.register("before-call.ecr.DescribeImages", lambda **_: regions.append(client.meta.region_name))

    result = invoke_deploy(ecr_push("1.5.0", digest, region=OTHER_REGION))

    assert [t["status"] for t in result["targets"]] == ["IN_PROGRESS"], result
    assert regions and set(regions) == {OTHER_REGION}
    definition = aws.task_definition(aws.service(service)["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == f"{host}/web@{digest}"
    assert wiring.aws_clients().ecr_in(OTHER_REGION) is client  # one client per region, kept
    assert wiring.aws_clients().ecr_in("us-east-1") is wiring.aws_clients().ecr


def test_a_scan_gate_reads_the_findings_in_the_registry_account(aws, registry, invoke_deploy):
    """DescribeImageScanFindings with the registry's ``registryId`` (botocore's ecr model), allowed by
    the repository policy of stacks/registry.yaml (answered by the registry account's moto, as above)."""
    create_service(aws.ecs, "prod", "web", f"{registry['host']}/web:1.4.0", WEB | {"autodeploy:scan": "critical"})
    forwarded = load_event("ecr-push-forwarded.json")
    digest = forwarded["detail"]["image-digest"]
    registry["ecr"].start_image_scan(repositoryName="web", imageId={"imageDigest": digest})  # moto: COMPLETE, HIGH 1

    result = invoke_deploy(forwarded)

    assert [t["status"] for t in result["targets"]] == ["IN_PROGRESS"], result


def test_a_scan_gate_reads_the_findings_in_the_region_of_the_push(aws, invoke_deploy, monkeypatch):
    """A push forwarded from another region of this account: its scan is read there, as its image is."""
    elsewhere = boto3.client("ecr", region_name=OTHER_REGION)
    elsewhere.create_repository(repositoryName="web")
    host = f"{ACCOUNT}.dkr.ecr.{OTHER_REGION}.amazonaws.com"
    push_image(elsewhere, "web", "1.4.0")
    digest = push_image(elsewhere, "web", "1.5.0")
    elsewhere.start_image_scan(repositoryName="web", imageId={"imageDigest": digest})  # moto: COMPLETE, HIGH 1
    create_service(aws.ecs, "prod", "web", f"{host}/web:1.4.0", WEB | {"autodeploy:scan": "high"})
    deployer_accepting(monkeypatch, regions=OTHER_REGION)

    result = invoke_deploy(ecr_push("1.5.0", digest, region=OTHER_REGION))

    [decided] = result["targets"]
    assert decided["status"] == "REJECTED"  # the home region has no scan of it: only eu-west-1's HIGH 1 refuses it
    assert decided["reason"].startswith("scan gate: scan found HIGH 1 (at or above high)")
