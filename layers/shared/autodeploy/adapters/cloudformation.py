"""CloudFormation service stacks: read their parameters, update one of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import aws_call, error_code, translate
from autodeploy.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef


@dataclass(frozen=True, slots=True)
class StackState:
    stack_id: str
    name: str
    status: str
    parameters: dict[str, str]
    capabilities: list[str] = field(default_factory=list)
    last_updated: datetime | None = None
    role_arn: str | None = None  # read for `autodeploy verify`; UpdateStack reuses it without being told


class NoUpdateNeeded(Exception):
    """CloudFormation found nothing to change: the stack already has the value."""


class CloudFormationStacks:
    def __init__(self, cloudformation: CloudFormationClient) -> None:
        self._cfn = cloudformation

    def describe(self, stack: str) -> StackState | None:
        """The stack's state, or None when it no longer exists."""
        try:
            response = self._cfn.describe_stacks(StackName=stack)
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                return None
            translate(exc, f"describing stack {stack}")
        except BotoCoreError as exc:
            translate(exc, f"describing stack {stack}")
        found = response.get("Stacks", [])
        if not found or found[0]["StackStatus"] == "DELETE_COMPLETE":
            return None
        s = found[0]
        return StackState(
            stack_id=s["StackId"],
            name=s["StackName"],
            status=s["StackStatus"],
            parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters", [])},
            capabilities=list(s.get("Capabilities", [])),
            last_updated=s.get("LastUpdatedTime") or s.get("CreationTime"),
            role_arn=s.get("RoleARN"),
        )

    def update_parameter(self, stack: StackState, parameter: str, value: str, token: str) -> str:
        """UpdateStack with the previous template; only ``parameter`` changes.

        Nothing else is sent, because CloudFormation keeps it when omitted (botocore's
        cloudformation service model, UpdateStackInput): no ``RoleARN`` ("uses the role that was
        previously associated with the stack"), no ``Tags`` ("doesn't modify the stack's tags"),
        no ``NotificationARNs`` (only an empty list removes them). So the deployer needs no
        ``iam:PassRole`` for a stack's service role. ``token`` (ClientRequestToken) makes a
        retried request for the same push a no-op for CloudFormation instead of a second update.
        """
        parameters: list[ParameterTypeDef] = [
            {"ParameterKey": key, "ParameterValue": value}
            if key == parameter
            else {"ParameterKey": key, "UsePreviousValue": True}
            for key in stack.parameters
        ]
        with aws_call(f"updating stack {stack.name}"):
            try:
                response = self._cfn.update_stack(
                    StackName=stack.stack_id,
                    UsePreviousTemplate=True,
                    Parameters=parameters,
                    Capabilities=stack.capabilities,  # type: ignore[arg-type]
                    ClientRequestToken=token,
                )
            except ClientError as exc:  # these two are ValidationErrors told apart by their message
                message = str(exc)
                if "No updates are to be performed" in message:
                    raise NoUpdateNeeded(message) from exc
                if "_IN_PROGRESS state and can not be updated" in message:
                    raise RetryableError(f"stack {stack.name} is busy: {message}") from exc
                raise
        return response["StackId"]

    def service_arns(self, stack: str) -> frozenset[str]:
        """The ECS services the stack created (ListStackResources): what it owns, whatever their tags.

        AWS puts no ``aws:cloudformation:*`` tag on ECS services, so ownership is read from the
        stack itself. A stack that no longer exists owns nothing.
        """
        found: set[str] = set()
        try:
            pages = self._cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
            for page in pages:
                for resource in page.get("StackResourceSummaries", []):
                    if resource.get("ResourceType") == "AWS::ECS::Service":
                        # The physical id is the service ARN; a composite identifier joins it with "|".
                        found.update(p for p in resource.get("PhysicalResourceId", "").split("|") if ":service/" in p)
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                return frozenset()
            translate(exc, f"listing the resources of stack {stack}")
        except BotoCoreError as exc:
            translate(exc, f"listing the resources of stack {stack}")
        return frozenset(found)

    def failed_resources(self, stack_id: str, token: str | None, limit: int = 5) -> list[dict[str, str]]:
        """The resources whose update failed in the operation ``token`` started, with their reasons."""
        with aws_call(f"reading the events of stack {stack_id}"):
            events = self._cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])
        failed = [
            {
                "resource": e.get("LogicalResourceId", ""),
                "status": e.get("ResourceStatus", ""),
                "reason": e.get("ResourceStatusReason", ""),
            }
            for e in events
            if str(e.get("ResourceStatus", "")).endswith("_FAILED")
            and (token is None or e.get("ClientRequestToken") == token)
        ]
        return failed[:limit]
