"""One-time gate-release schedules, checked against botocore's scheduler model (moto accepts any
ScheduleExpression and any ActionAfterCompletion, measured on moto 5.2.5, and never fires a schedule).

botocore's ``scheduler`` service model, CreateSchedule: ``ScheduleExpression`` documents
``at(yyyy-mm-ddThh:mm:ss)`` for one-time schedules; ``ActionAfterCompletion`` is ``NONE`` or
``DELETE``; ``FlexibleTimeWindow.Mode`` is ``OFF`` or ``FLEXIBLE``; ``Name`` is 1 to 64 of
``[0-9a-zA-Z-_.]+``; ``Target.RoleArn`` matches ``arn:aws[a-z-]*:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+``;
``RetryPolicy.MaximumEventAgeInSeconds`` is 60 to 86400. The Stubber validates every request
against the same model.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from autodeploy.adapters.scheduler import GateSchedules, ScheduleTarget, at_expression, schedule_name
from autodeploy.deploy.gate import release_payload
from autodeploy.errors import RetryableError

MODEL = boto3.session.Session().client("scheduler", region_name="us-east-1").meta.service_model
CREATE = MODEL.operation_model("CreateSchedule").input_shape
WHERE = ScheduleTarget(
    "GateScheduleGroup",
    "arn:aws:lambda:us-east-1:123456789012:function:ecs-autodeploy-gate-release",
    "arn:aws:iam::123456789012:role/GateSchedulerRole",
)
TARGET = "arn:aws:ecs:us-east-1:123456789012:service/main/prod"
SORT_KEY = "push#2026-11-26T10:15:00+00:00#a1b2c3d4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"


def test_the_at_expression_is_the_models_format_in_utc_rounded_up_to_the_second():
    at = datetime(2026, 11, 26, 11, 45, 0, 250_000, tzinfo=UTC)
    assert at_expression(at) == "at(2026-11-26T11:45:01)"
    assert re.fullmatch(r"at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)", at_expression(at))
    assert "at(yyyy-mm-ddThh:mm:ss)" in CREATE.members["ScheduleExpression"].documentation


def test_names_fit_the_models_pattern_and_differ_per_push_and_instant():
    pattern = CREATE.members["Name"].metadata["pattern"]
    at = datetime(2026, 11, 26, 11, 45, tzinfo=UTC)
    name = schedule_name(TARGET, SORT_KEY, at)
    assert re.fullmatch(pattern, name) and len(name) <= CREATE.members["Name"].metadata["max"]
    assert name != schedule_name(TARGET, SORT_KEY.replace("a1b2", "ffff"), at)
    assert name != schedule_name(TARGET, SORT_KEY, at.replace(minute=46))
    assert re.fullmatch(CREATE.members["Target"].members["RoleArn"].metadata["pattern"], WHERE.role_arn)


def test_the_request_deletes_the_schedule_after_its_one_invocation():
    client = boto3.client("scheduler", region_name="us-east-1")
    at = datetime(2026, 11, 26, 11, 45, tzinfo=UTC)
    payload = release_payload(TARGET, SORT_KEY, "bake")
    expected = {
        "Name": schedule_name(TARGET, SORT_KEY, at),
        "GroupName": "GateScheduleGroup",
        "ScheduleExpression": "at(2026-11-26T11:45:00)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "State": "ENABLED",
        "Description": ANY,
        "Target": {
            "Arn": WHERE.function_arn,
            "RoleArn": WHERE.role_arn,
            "Input": json.dumps(payload, sort_keys=True),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
        },
    }
    assert "DELETE" in CREATE.members["ActionAfterCompletion"].enum
    with Stubber(client) as stub:
        stub.add_response(
            "create_schedule",
            {"ScheduleArn": "arn:aws:scheduler:us-east-1:123456789012:schedule/GateScheduleGroup/x"},
            expected,
        )
        stub.add_client_error("create_schedule", "ConflictException", "Schedule already exists.", 409)
        stub.add_client_error("create_schedule", "ThrottlingException", "Rate exceeded", 429)
        schedules = GateSchedules(client, WHERE)
        assert schedules.release_at(at, expected["Name"], payload) is True
        assert schedules.release_at(at, expected["Name"], payload) is False  # there already: a redelivery
        with pytest.raises(RetryableError):
            schedules.release_at(at, expected["Name"], payload)
