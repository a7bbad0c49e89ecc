"""Reads template.yaml the way `sam local invoke` does: handlers, layers, environment, tables.

Used by `make invoke`, the tests and the demo, so that all of them run the functions exactly as
the template declares them.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import loads

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EMULATED_ACCOUNT = "123456789012"  # moto's default account (moto.core.DEFAULT_ACCOUNT_ID)


@cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = loads(path.read_text(), str(path))
    return template


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    module: str
    function: str
    layer_paths: tuple[Path, ...]
    environment: dict[str, str]


class Resolver:
    """Resolves the intrinsic functions that appear in environment variables."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str], physical: dict[str, str]) -> None:
        self.template = template
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        } | parameters
        self.physical = physical

    def value(self, node: Any) -> Any:
        if not isinstance(node, dict) or len(node) != 1:
            return node
        ((key, arg),) = node.items()
        if key == "Ref":
            if arg in self.parameters:
                return self.parameters[arg]
            return self.physical.get(arg, arg)  # sam local invoke also falls back to the logical id
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return self.value(when_true if self.condition(condition) else when_false)
        if key == "Fn::GetAtt":
            resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"{self.physical.get(resource, resource)}.{attribute}"
        if key == "Fn::Sub" and isinstance(arg, str):
            # Pseudo parameters as in the emulated account, resources by their physical name.
            pseudo = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": EMULATED_ACCOUNT}
            pseudo["AWS::StackName"] = "ecs-autodeploy"
            return re.sub(
                r"\$\{([^}!.]+)\}", lambda m: pseudo.get(m.group(1)) or str(self.value({"Ref": m.group(1)})), arg
            )
        raise ValueError(f"cannot resolve {key} locally")

    def condition(self, name: str) -> bool:
        node = self.template["Conditions"][name]
        ((key, arg),) = node.items()
        if key == "Fn::Equals":
            return bool(self.value(arg[0]) == self.value(arg[1]))
        raise ValueError(f"cannot evaluate condition {name} ({key}) locally")


def function_spec(
    logical_id: str, parameters: dict[str, str] | None = None, physical: dict[str, str] | None = None
) -> FunctionSpec:
    template = load_template()
    resolver = Resolver(template, parameters or {}, physical or {})
    globals_ = template.get("Globals", {}).get("Function", {})
    resource = template["Resources"].get(logical_id)
    if resource is None or resource["Type"] != "AWS::Serverless::Function":
        functions = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]
        raise SystemExit(f"{logical_id} is not a function of template.yaml; functions: {', '.join(functions)}")
    properties = resource["Properties"]
    module, _, function = properties["Handler"].rpartition(".")
    variables = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **properties.get("Environment", {}).get("Variables", {}),
    }
    layers = []
    for layer in [*globals_.get("Layers", []), *properties.get("Layers", [])]:
        layer_id = layer["Ref"]
        layers.append(ROOT / template["Resources"][layer_id]["Properties"]["ContentUri"])
    return FunctionSpec(
        logical_id=logical_id,
        code_uri=ROOT / properties["CodeUri"],
        module=module,
        function=function,
        layer_paths=tuple(layers),
        environment={k: str(resolver.value(v)) for k, v in variables.items()},
    )


def table_definitions() -> dict[str, dict[str, Any]]:
    """Every DynamoDB table of the template, by logical id, with its properties."""
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }


def create_tables(dynamodb: Any, names: dict[str, str] | None = None) -> dict[str, str]:
    """Create the template's tables on an emulator (name = logical id unless given); returns the names."""
    created = {}
    for logical_id, properties in table_definitions().items():
        name = (names or {}).get(logical_id, logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in properties:
                request[key] = properties[key]
        # Already there from an earlier run against the same emulator: keep it.
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**request)
        if "TimeToLiveSpecification" in properties:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=properties["TimeToLiveSpecification"])
        created[logical_id] = name
    return created


def create_topics(sns: Any) -> dict[str, str]:
    """Create the template's SNS topics on an emulator; returns their ARNs by logical id."""
    return {
        logical_id: sns.create_topic(Name=logical_id)["TopicArn"]
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::SNS::Topic"
    }


def create_schedule_groups(scheduler: Any) -> dict[str, str]:
    """Create the template's EventBridge Scheduler groups on an emulator, named by logical id."""
    groups = {}
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] == "AWS::Scheduler::ScheduleGroup":
            with contextlib.suppress(scheduler.exceptions.ConflictException):
                scheduler.create_schedule_group(Name=logical_id)
            groups[logical_id] = logical_id
    return groups


def create_queues(sqs: Any) -> dict[str, str]:
    """Create the template's SQS queues on an emulator (name = logical id) with their visibility timeout
    and redrive policy (its dead-letter queue created first); returns their URLs by logical id."""
    queues = {k: v for k, v in load_template()["Resources"].items() if v["Type"] == "AWS::SQS::Queue"}
    urls: dict[str, str] = {}
    for logical_id, resource in sorted(queues.items(), key=lambda q: "RedrivePolicy" in q[1]["Properties"]):
        properties = resource["Properties"]
        attributes = {k: str(properties[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod") if k in properties}
        if "RedrivePolicy" in properties:
            redrive = dict(properties["RedrivePolicy"])
            dead_letters = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            redrive["deadLetterTargetArn"] = sqs.get_queue_attributes(
                QueueUrl=urls[dead_letters], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(redrive)
        urls[logical_id] = sqs.create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]
    return urls


def create_resources(session: Any) -> dict[str, str]:
    """What the functions need of the template on an emulator: tables, topics, queues and schedule groups,
    by logical id."""
    return (
        create_tables(session.client("dynamodb"))
        | create_topics(session.client("sns"))
        | create_queues(session.client("sqs"))
        | create_schedule_groups(session.client("scheduler"))
    )


@dataclass(frozen=True)
class EventRule:
    function: str
    name: str
    pattern: dict[str, Any]


def event_rules() -> list[EventRule]:
    """Every EventBridge rule the template gives its functions, with its pattern as written."""
    rules = []
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for name, event in resource["Properties"].get("Events", {}).items():
            if event["Type"] == "EventBridgeRule":
                rules.append(EventRule(logical_id, name, event["Properties"]["Pattern"]))
    return rules
