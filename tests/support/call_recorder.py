"""Records every AWS call a function makes in the integration suite, as IAM would see it.

Each call is recorded with its API parameters as ``tools.api_params.on_api_params`` gives them,
before any handler that answers a call in the emulator's stead (a fault, a moto gap bridge) can
hide it. A call is recorded with which function made it (the handler being
invoked, set by the tests' invoker, never guessed), the IAM action, the resource ARN, the
condition keys the request carries (the resource's tags, read from the emulator at call time) and
the deploy-time parameters that shape the function's role, as the function runs with them (read
from its environment at call time).
Each pytest-xdist worker appends to its own file under ``out/iam-calls/``;
``tests/permissions/check_permissions.py`` checks their union.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID

from tests.support.iam import IAM_PREFIX, PARTITION, Call, privilege, role_parameters, stack_handler_calls
from tools.api_params import on_api_params
from tools.template import ROOT, load_template

RECORDS = ROOT / "out" / "iam-calls"
ACCOUNT = DEFAULT_ACCOUNT_ID

_invoking: ContextVar[tuple[str, str] | None] = ContextVar("invoking", default=None)


@contextlib.contextmanager
def invoking(function: str, test: str) -> Iterator[None]:
    """Calls made inside the block are ``function``'s (the handler being invoked)."""
    token = _invoking.set((function, test))
    try:
        yield
    finally:
        _invoking.reset(token)


def records_file() -> Path:
    RECORDS.mkdir(parents=True, exist_ok=True)
    return RECORDS / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl"


def attach(session: boto3.session.Session, physical: dict[str, str]) -> None:
    """Record the calls of every client created from ``session`` from now on."""
    lookup = _Lookup(physical)

    def record(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        current = _invoking.get()
        if current is None:
            return  # the test's own setup and checks, not a function's call
        function, test = current
        service = model.service_model.service_name
        region = context.get("client_region") or "us-east-1"
        calls = lookup.calls(function, service, model.name, dict(params), region, f"{service}.{model.name} in {test}")
        parameters = deployed_with(function)
        calls = [dataclasses.replace(c, parameters=parameters) for c in calls]
        with records_file().open("a") as out:
            out.writelines(call.to_json() + "\n" for call in calls)

    on_api_params(session.events, record, first=True)


def deployed_with(function: str) -> dict[str, str]:
    """The deploy-time parameters that shape ``function``'s role, read back from the environment
    the function runs with (the template hands each to it as ``VARIABLE: !Ref Parameter``); one it
    cannot see is taken at its default, as tests/unit/test_permissions.py checks none is."""
    defaults = {k: str(v.get("Default", "")) for k, v in load_template().get("Parameters", {}).items()}
    return {
        parameter: os.environ.get(variable, defaults[parameter]) if variable else defaults[parameter]
        for parameter, variable in role_parameters(function).items()
    }


def _name(value: str) -> str:
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


class _Lookup:
    """Maps one API call to the IAM requests it makes (the call itself and what AWS documents it implies)."""

    def __init__(self, physical: dict[str, str]) -> None:
        self._physical = physical
        self._session = boto3.session.Session()  # no recorder: its reads are the test's, not a function's
        self._clients: dict[str, Any] = {}

    def _client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self._session.client(name, region_name="us-east-1")
        return self._clients[name]

    def _tags(self, resource: str) -> dict[str, list[str]]:
        """The resource's tags as ``aws:ResourceTag/<key>`` context (ECS and CloudFormation resources)."""
        tags: dict[str, str] = {}
        with contextlib.suppress(Exception):  # a resource that does not exist (yet) has no tags
            if ":ecs:" in resource:
                found = self._client("ecs").list_tags_for_resource(resourceArn=resource).get("tags", [])
                tags = {t["key"]: t["value"] for t in found}
            elif ":cloudformation:" in resource:
                stack = self._client("cloudformation").describe_stacks(StackName=resource)["Stacks"][0]
                tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
        return {f"aws:ResourceTag/{k}": [v] for k, v in tags.items()}

    def _stack(self, name: str) -> dict[str, Any]:
        stacks: list[dict[str, Any]] = []
        with contextlib.suppress(Exception):
            stacks = self._client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        return stacks[0] if stacks else {}

    def calls(
        self, function: str, service: str, operation: str, params: dict[str, Any], region: str, origin: str
    ) -> list[Call]:
        prefix = IAM_PREFIX.get(service, service)
        base = f"arn:{PARTITION}:{prefix}:{region}:{ACCOUNT}"
        mapper: Callable[..., list[tuple[str, str, dict[str, list[str]]]]] | None = getattr(
            self, f"_{service.replace('-', '_')}_{operation}", None
        )
        if mapper is None:
            # No mapping: the check reports it, naming the operation (an action with no resource
            # type is still checked exactly; others need a mapping here).
            unscoped = set((privilege(f"{prefix}:{operation}") or {}).get("resource_types", {"?": None})) == {""}
            requests = [(f"{prefix}:{operation}", "*" if unscoped else "?", {})]
        else:
            requests = mapper(params=params, base=base, region=region)
        calls = []
        for action, resource, extra in requests:
            context = self._tags(resource) if resource.startswith("arn:") else {}
            calls.append(Call(function, action, resource, context | extra, origin))
        # aws:RequestedRegion is in every request's context (IAM user guide, "AWS global condition
        # context keys"): the region the call is made to, which for what a service does on our
        # behalf (the implied calls) is the region of the call that implies it.
        region_context = {"aws:RequestedRegion": [region]}
        return [
            dataclasses.replace(c, context=region_context | c.context)
            for c in calls + self._implied(function, service, operation, params, origin)
        ]

    # --- what AWS documents a call implies
    def _implied(self, function: str, service: str, operation: str, params: dict[str, Any], origin: str) -> list[Call]:
        implied = []
        if service == "ecs" and operation == "RegisterTaskDefinition":
            # ECS developer guide, "Grant permission to tag resources on creation": tags in the
            # request are authorized as ecs:TagResource with ecs:CreateAction; and the task's
            # roles are passed to ECS tasks (IAM user guide, "Grant a user permissions to pass a role").
            arn = f"arn:{PARTITION}:ecs:us-east-1:{ACCOUNT}:task-definition/{params.get('family')}:1"
            if params.get("tags"):
                context = {"ecs:CreateAction": ["RegisterTaskDefinition"]}
                context |= {f"aws:RequestTag/{t['key']}": [t["value"]] for t in params["tags"]}
                context["aws:TagKeys"] = [t["key"] for t in params["tags"]]
                implied.append(Call(function, "ecs:TagResource", arn, context, f"tags on create, {origin}"))
            for role in {params.get("taskRoleArn"), params.get("executionRoleArn")} - {None}:
                passed = {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}
                implied.append(Call(function, "iam:PassRole", str(role), passed, f"task role, {origin}"))
        if service == "scheduler" and operation == "CreateSchedule":
            # IAM authorization data: CreateSchedule's dependent action iam:PassRole (the EventBridge
            # Scheduler user guide, "Set up the execution role": the caller passes the schedule's role).
            passed = {"iam:PassedToService": ["scheduler.amazonaws.com"]}
            implied.append(
                Call(function, "iam:PassRole", params["Target"]["RoleArn"], passed, f"schedule role, {origin}")
            )
        if service == "sns" and operation in {"Publish", "PublishBatch"}:
            # SNS developer guide, "Configuring AWS KMS permissions": a publisher to a topic under
            # a customer managed key needs kms:GenerateDataKey and kms:Decrypt on the key.
            key = self._topic_key(params["TopicArn"])
            if key:
                for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    implied.append(Call(function, action, key, {}, f"encrypted topic, {origin}"))
        if service == "cloudformation" and operation == "UpdateStack":
            stack = self._stack(params["StackName"])
            if stack and "RoleARN" not in stack and "RoleARN" not in params:
                # No service role: CloudFormation acts with the caller's credentials (botocore's
                # UpdateStack documentation, RoleARN), so the reference service stack's handlers run as us.
                tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
                for parameter in params.get("Parameters", []):
                    if "ParameterValue" in parameter:
                        implied += stack_handler_calls(function, parameter["ParameterKey"], tags, ACCOUNT, origin)
        return implied

    def _topic_key(self, topic_arn: str) -> str | None:
        resources = load_template()["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::SNS::Topic" and self._physical.get(logical_id) == topic_arn:
                key = resource["Properties"].get("KmsMasterKeyId")
                if key:
                    return f"arn:{PARTITION}:kms:us-east-1:{ACCOUNT}:key/{key['Ref']}"
        return None

    # --- one mapper per operation the functions call: (action, resource ARN, extra context)
    def _ecs_service_arns(self, params: dict[str, Any], base: str) -> list[str]:
        cluster = _name(params.get("cluster", "default"))
        services = params.get("services") or [params["service"]]
        return [s if s.startswith("arn:") else f"{base}:service/{cluster}/{s}" for s in services]

    def _ecs_DescribeServices(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return [("ecs:DescribeServices", arn, {}) for arn in self._ecs_service_arns(params, base)]

    def _ecs_UpdateService(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return [("ecs:UpdateService", arn, {}) for arn in self._ecs_service_arns(params, base)]

    def _ecs_ListServiceDeployments(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return [("ecs:ListServiceDeployments", arn, {}) for arn in self._ecs_service_arns(params, base)]

    def _ecs_DescribeServiceDeployments(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        # Authorized on the deployment and on its service (both required resource types).
        requests = []
        for arn in params["serviceDeploymentArns"]:
            cluster, service = arn.split("/")[1:3]
            requests += [
                ("ecs:DescribeServiceDeployments", arn, {}),
                ("ecs:DescribeServiceDeployments", f"{base}:service/{cluster}/{service}", {}),
            ]
        return requests

    def _ecs_DescribeTaskDefinition(self, **_: Any) -> list[Any]:
        return [("ecs:DescribeTaskDefinition", "*", {})]

    def _ecs_RegisterTaskDefinition(self, **_: Any) -> list[Any]:
        return [("ecs:RegisterTaskDefinition", "*", {})]

    def _ecs_ListTasks(self, **_: Any) -> list[Any]:
        return [("ecs:ListTasks", "*", {})]

    def _ecs_DescribeTasks(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        cluster = _name(params.get("cluster", "default"))
        return [
            ("ecs:DescribeTasks", t if t.startswith("arn:") else f"{base}:task/{cluster}/{t}", {})
            for t in params["tasks"]
        ]

    def _ecr_DescribeImages(self, params: dict[str, Any], region: str, **_: Any) -> list[Any]:
        account = params.get("registryId", ACCOUNT)
        return [
            ("ecr:DescribeImages", f"arn:{PARTITION}:ecr:{region}:{account}:repository/{params['repositoryName']}", {})
        ]

    def _ecr_BatchGetImage(self, params: dict[str, Any], region: str, **_: Any) -> list[Any]:
        account = params.get("registryId", ACCOUNT)
        return [
            ("ecr:BatchGetImage", f"arn:{PARTITION}:ecr:{region}:{account}:repository/{params['repositoryName']}", {})
        ]

    def _ecr_DescribeImageScanFindings(self, params: dict[str, Any], region: str, **_: Any) -> list[Any]:
        account = params.get("registryId", ACCOUNT)
        arn = f"arn:{PARTITION}:ecr:{region}:{account}:repository/{params['repositoryName']}"
        return [("ecr:DescribeImageScanFindings", arn, {})]

    def _scheduler_CreateSchedule(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        group = params.get("GroupName", "default")
        return [("scheduler:CreateSchedule", f"{base}:schedule/{group}/{params['Name']}", {})]

    def _resourcegroupstaggingapi_GetResources(self, **_: Any) -> list[Any]:
        return [("tag:GetResources", "*", {})]

    def _stack_arn(self, name: str) -> str:
        return name if name.startswith("arn:") else str(self._stack(name).get("StackId", f"stack/{name}"))

    def _cloudformation_DescribeStacks(self, params: dict[str, Any], **_: Any) -> list[Any]:
        return [("cloudformation:DescribeStacks", self._stack_arn(params["StackName"]), {})]

    def _cloudformation_UpdateStack(self, params: dict[str, Any], **_: Any) -> list[Any]:
        return [("cloudformation:UpdateStack", self._stack_arn(params["StackName"]), {})]

    def _cloudformation_ListStackResources(self, params: dict[str, Any], **_: Any) -> list[Any]:
        return [("cloudformation:ListStackResources", self._stack_arn(params["StackName"]), {})]

    def _cloudformation_DescribeStackEvents(self, params: dict[str, Any], **_: Any) -> list[Any]:
        return [("cloudformation:DescribeStackEvents", self._stack_arn(params["StackName"]), {})]

    def _table(self, name: str, base: str) -> str:
        return name if name.startswith("arn:") else f"{base}:table/{name}"

    def _dynamodb_single(self, action: str, params: dict[str, Any], base: str) -> list[Any]:
        return [(action, self._table(params["TableName"], base), {})]

    def _dynamodb_GetItem(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return self._dynamodb_single("dynamodb:GetItem", params, base)

    def _dynamodb_PutItem(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return self._dynamodb_single("dynamodb:PutItem", params, base)

    def _dynamodb_UpdateItem(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return self._dynamodb_single("dynamodb:UpdateItem", params, base)

    def _dynamodb_Query(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return self._dynamodb_single("dynamodb:Query", params, base)

    def _dynamodb_BatchGetItem(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return [("dynamodb:BatchGetItem", self._table(t, base), {}) for t in params["RequestItems"]]

    def _dynamodb_BatchWriteItem(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return [("dynamodb:BatchWriteItem", self._table(t, base), {}) for t in params["RequestItems"]]

    def _dynamodb_TransactWriteItems(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        # DynamoDB developer guide, "Using IAM with DynamoDB transactions": each item is authorized
        # as its own action; there is no TransactWriteItems IAM action.
        actions = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [
            (f"dynamodb:{actions[kind]}", self._table(item[kind]["TableName"], base), {})
            for item in params["TransactItems"]
            for kind in item
        ]

    def _sns_Publish(self, params: dict[str, Any], **_: Any) -> list[Any]:
        return [("sns:Publish", params["TopicArn"], {})]

    def _sns_PublishBatch(self, params: dict[str, Any], **_: Any) -> list[Any]:
        # SNS API reference, PublishBatch: authorized as sns:Publish (there is no PublishBatch action).
        return [("sns:Publish", params["TopicArn"], {})]

    def _sqs_queue_arn(self, url: str, region: str) -> str:
        account, name = url.rstrip("/").rsplit("/", 2)[-2:]
        return f"arn:{PARTITION}:sqs:{region}:{account}:{name}"

    def _sqs_SendMessage(self, params: dict[str, Any], region: str, **_: Any) -> list[Any]:
        return [("sqs:SendMessage", self._sqs_queue_arn(params["QueueUrl"], region), {})]

    def _sqs_SendMessageBatch(self, params: dict[str, Any], region: str, **_: Any) -> list[Any]:
        # SQS API reference, SendMessageBatch: authorized as sqs:SendMessage (there is no SendMessageBatch action).
        return [("sqs:SendMessage", self._sqs_queue_arn(params["QueueUrl"], region), {})]

    def _cloudwatch_DescribeAlarms(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        names = params.get("AlarmNames") or [f"{params.get('AlarmNamePrefix', '')}*"]
        return [("cloudwatch:DescribeAlarms", f"{base}:alarm:{n}", {}) for n in names]

    def _cloudwatch_DescribeAlarmHistory(self, params: dict[str, Any], base: str, **_: Any) -> list[Any]:
        return [("cloudwatch:DescribeAlarmHistory", f"{base}:alarm:{params.get('AlarmName', '*')}", {})]

    def _cloudwatch_GetMetricData(self, **_: Any) -> list[Any]:
        return [("cloudwatch:GetMetricData", "*", {})]

    def _application_autoscaling_DescribeScalableTargets(self, **_: Any) -> list[Any]:
        return [("application-autoscaling:DescribeScalableTargets", "*", {})]

    def _application_autoscaling_DescribeScalingPolicies(self, **_: Any) -> list[Any]:
        return [("application-autoscaling:DescribeScalingPolicies", "*", {})]

    def _application_autoscaling_DescribeScalingActivities(self, **_: Any) -> list[Any]:
        return [("application-autoscaling:DescribeScalingActivities", "*", {})]
