"""What the shipped SDK's ECS model knows of task definitions, and what ECS sent beyond it.

botocore's parser keeps only the fields its model names, so a field newer than the SDK would
vanish from a described task definition without a trace. The describe-only fields and the known
fields are derived from the model itself (never a hand list), and the raw response is compared
with it, so the clone can refuse such a field by name instead of dropping it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session

from autodeploy.task_definition import KnownShape, TaskDefinitionModel, unknown_fields

if TYPE_CHECKING:
    from botocore.model import Shape

UNMODELED_FIELDS = "AutodeployUnmodeledFields"  # the key the response hook adds to the parsed response
_HOOK_ID = "autodeploy-unmodeled-task-definition-fields"


def known_shape(shape: Shape, seen: dict[str, KnownShape] | None = None) -> KnownShape:
    """The names a botocore shape knows, all the way down (lists and maps by their items)."""
    seen = {} if seen is None else seen
    if shape.name in seen:  # a recursive shape: the first visit's answer serves again
        return seen[shape.name]
    if shape.type_name == "structure":
        members: dict[str, KnownShape] = {}
        known = seen[shape.name] = KnownShape(members=members)
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            members[name] = known_shape(member, seen)
        return known
    if shape.type_name == "list":
        return KnownShape(items=known_shape(shape.member, seen))  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return KnownShape(items=known_shape(shape.value, seen))  # type: ignore[attr-defined]
    return KnownShape()


@cache
def task_definition_model() -> TaskDefinitionModel:
    """DescribeTaskDefinition's ``TaskDefinition`` against RegisterTaskDefinition's input, from botocore's ecs model."""
    ecs = botocore.session.get_session().get_service_model("ecs")
    described = ecs.operation_model("DescribeTaskDefinition").output_shape.members["taskDefinition"]  # type: ignore[union-attr]
    register = ecs.operation_model("RegisterTaskDefinition").input_shape
    return TaskDefinitionModel(described=known_shape(described), registrable=frozenset(register.members))  # type: ignore[union-attr]


def note_unmodeled_fields(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """botocore ``after-call`` hook: name the task-definition fields ECS sent that the parser dropped."""
    raw = getattr(http_response, "raw", None)
    if raw is None or not isinstance(parsed, dict) or "taskDefinition" not in parsed:
        return  # a stubbed response has no wire to compare with
    try:
        wire = json.loads(http_response.content).get("taskDefinition")
    except (ValueError, AttributeError):
        return  # not the JSON document ECS sends: the parser has said what it had to say
    parsed[UNMODELED_FIELDS] = sorted(unknown_fields(wire, task_definition_model().described))


def watch_for_unmodeled_fields(ecs: Any) -> None:
    """Install the hook on an ECS client (idempotent)."""
    ecs.meta.events.register("after-call.ecs.DescribeTaskDefinition", note_unmodeled_fields, unique_id=_HOOK_ID)
