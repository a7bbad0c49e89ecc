"""Every kind of bad input ends cleanly: a reason in the log and the response, no retry."""

from __future__ import annotations

import pytest

from autodeploy import wiring
from autodeploy.errors import ConfigurationError


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ("ecr-push-invalid-digest.json", "detail.image-digest 'sha256:not-a-digest' is not a valid digest"),
        ("ecr-push-missing-repository.json", "detail.repository-name is missing or not a non-empty string"),
        ("ecr-push-failed.json", "not a successful push: action-type 'PUSH', result 'FAILURE'"),
    ],
)
def test_malformed_events_are_rejected_with_the_reason(aws, invoke_deploy, sample, reason, caplog):
    from tests.support.events import load_event

    result = invoke_deploy(load_event(sample))

    assert result["status"] == "rejected"
    assert reason in result["reason"]
    [logged] = [r for r in caplog.records if r.getMessage() == "push not deployable"]
    assert reason in logged.reason  # type: ignore[attr-defined]  # the structured log line says it too


@pytest.mark.parametrize(
    "event",
    [None, [], {"detail": {}}, {"id": "x", "source": "aws.ecr", "detail-type": "ECR Image Action", "detail": "no"}],
)
def test_events_of_the_wrong_shape_are_rejected(aws, invoke_deploy, event):
    assert invoke_deploy(event)["status"] == "rejected"


def test_a_missing_ledger_table_setting_fails_loudly(aws, invoke_deploy, monkeypatch):
    from tests.support.events import load_event

    monkeypatch.delenv("LEDGER_TABLE")
    wiring.reset()
    with pytest.raises(ConfigurationError, match="LEDGER_TABLE is not set"):
        invoke_deploy(load_event("ecr-push.json"))


def test_a_push_to_a_repository_nobody_registered_records_nothing(aws, invoke_deploy):
    from tests.support.events import load_event

    result = invoke_deploy(load_event("ecr-push-with-media-types.json"))

    assert result["targets"] == []
    assert aws.dynamodb.scan(TableName=aws.ledger_table)["Count"] == 0


def test_events_from_another_account_or_region_are_ignored_unless_allowed(aws, invoke_deploy, monkeypatch):
    from tests.support.events import ecr_push
    from tools.world import REGISTRY, create_service, push_image

    push_image(aws.ecr, "web", "1.4.0")
    service = create_service(aws.ecs, "prod", "web", f"{REGISTRY}/web:1.4.0", {"autodeploy:repository": "web"})
    digest = push_image(aws.ecr, "web", "1.5.0")

    foreign = invoke_deploy(ecr_push("1.5.0", digest, account="999999999999"))
    elsewhere = invoke_deploy(ecr_push("1.5.0", digest, region="eu-west-1"))

    assert foreign["status"] == "ignored"
    assert foreign["reason"].endswith(
        "not this function's (123456789012); allow it with the AcceptedAccounts parameter"
    )
    assert elsewhere["reason"].endswith("not this function's (us-east-1); allow it with the AcceptedRegions parameter")
    assert aws.ledger(service) == []

    monkeypatch.setenv("ACCEPTED_REGIONS", "eu-west-1")
    wiring.reset()
    allowed = invoke_deploy(ecr_push("1.5.0", digest, region="eu-west-1"))
    assert "status" not in allowed  # processed: a summary of targets, not a refusal
