"""The permission contract's recorder (tests/support/call_recorder.py) sees every call a function
makes, with the deploy-time parameters the function ran with: no network, the call is answered
before it would leave the client."""

from __future__ import annotations

from types import SimpleNamespace

import boto3

from tests.support import call_recorder
from tests.support.iam import Call


def test_a_call_answered_in_the_emulators_stead_is_recorded_with_the_functions_parameters(tmp_path, monkeypatch):
    monkeypatch.setattr(call_recorder, "RECORDS", tmp_path)
    monkeypatch.setenv("ACCEPTED_ACCOUNTS", "111122223333")
    monkeypatch.setenv("ACCEPTED_REGIONS", "eu-west-1")
    session = boto3.session.Session(region_name="eu-west-1")
    call_recorder.attach(session, {})
    ecr = session.client("ecr")
    # As a moto gap bridge or an injected fault answers: botocore runs this before any handler of
    # the plain ``before-call`` event and stops at its answer.
    answer = (SimpleNamespace(status_code=200), {"imageDetails": []})
    ecr.meta.events.register_first("before-call.ecr.*", lambda **_: answer)

    ecr.describe_images(registryId="444455556666", repositoryName="web")  # the test's own call
    with call_recorder.invoking("DeployFunction", "a test"):
        ecr.describe_images(registryId="111122223333", repositoryName="web")

    lines = [line for path in tmp_path.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert [Call.from_json(line) for line in lines] == [
        Call(
            "DeployFunction",
            "ecr:DescribeImages",
            "arn:aws:ecr:eu-west-1:111122223333:repository/web",
            {"aws:RequestedRegion": ["eu-west-1"]},
            "ecr.DescribeImages in a test",
            {"AcceptedAccounts": "111122223333", "AcceptedRegions": "eu-west-1"},
        )
    ]
