"""Registration: how ECS services and CloudFormation stacks declare themselves with tags.

Tag values allow only letters, digits, spaces and ``+ - = . _ : / @``, so the contract uses
space-separated words and ``prefix:<text>``, never a regular expression.

A tag means the same to every path: discovery by push asks the tagging API for the exact value
``autodeploy:repository=<pushed repository>``, so a value that query cannot match (surrounding
spaces, an upper-case letter) is refused here too, with its reason, rather than read leniently
by the paths that list every target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from autodeploy.errors import MisconfiguredTarget
from autodeploy.image_reference import repository_name_problem

TAG_PREFIX = "autodeploy:"
REPOSITORY_TAG = "autodeploy:repository"
TAGS_TAG = "autodeploy:tags"
MODE_TAG = "autodeploy:mode"
PARAMETER_TAG = "autodeploy:parameter"
VALUE_TAG = "autodeploy:value"
CONTAINERS_TAG = "autodeploy:containers"
# CloudFormation parameter names are alphanumeric; ECS container names are letters, digits, '_'
# and '-', up to 255; a tag prefix is the start of an OCI tag.
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9]{1,255}")
_CONTAINER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_TAG_PREFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class TargetKind(StrEnum):
    SERVICE = "service"
    STACK = "stack"


class Mode(StrEnum):
    APPLY = "apply"
    DRY_RUN = "dry-run"


class ParameterValue(StrEnum):
    TAG = "tag"
    DIGEST = "digest"
    IMAGE = "image"


class TagRule(StrEnum):
    ANY = "any"
    SEMVER = "semver"
    PREFIX = "prefix"


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Which pushed tags a target deploys: any, semantic versions, or tags with given prefixes."""

    rule: TagRule = TagRule.ANY
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TagFilter:
        words = text.split()
        if not words or words == ["any"]:
            return cls(TagRule.ANY)
        if words == ["semver"]:
            return cls(TagRule.SEMVER)
        prefixes = []
        for word in words:
            rule, sep, prefix = word.partition(":")
            if rule != "prefix" or not sep or _TAG_PREFIX.fullmatch(prefix) is None:
                raise ValueError(
                    f"{TAGS_TAG}={text!r}: expected 'any', 'semver' or words 'prefix:<text>', got {word!r}"
                )
            prefixes.append(prefix)
        return cls(TagRule.PREFIX, tuple(prefixes))

    def __str__(self) -> str:
        if self.rule is TagRule.PREFIX:
            return " ".join(f"prefix:{p}" for p in self.prefixes)
        return self.rule.value


@dataclass(frozen=True, slots=True)
class Target:
    """A registered deployment target, validated from its tags."""

    arn: str
    kind: TargetKind
    repository: str
    tag_filter: TagFilter = TagFilter()
    mode: Mode = Mode.APPLY
    parameter: str | None = None
    value: ParameterValue = ParameterValue.TAG
    containers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """Service name or stack name, for people."""
        return resource_path(self.arn).split("/")[-1 if self.kind is TargetKind.SERVICE else 1]

    @property
    def cluster(self) -> str:
        """The cluster of a service target (service ARNs in the long format carry it)."""
        return resource_path(self.arn).split("/")[1]


def resource_path(arn: str) -> str:
    """The resource part of an ARN: ``service/cluster/name`` or ``stack/name/id``."""
    return arn.split(":", 5)[5]


def kind_of(arn: str) -> TargetKind | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    service, resource = parts[2], parts[5]
    if service == "ecs" and resource.startswith("service/") and resource.count("/") == 2:
        return TargetKind.SERVICE
    if service == "cloudformation" and resource.startswith("stack/") and resource.count("/") == 2:
        return TargetKind.STACK
    return None


def parse_target(arn: str, tags: Mapping[str, str]) -> Target:
    """Validate one resource's ``autodeploy:*`` tags; every problem is named in one message."""
    kind = kind_of(arn)
    if kind is None:
        raise MisconfiguredTarget(
            f"{arn}: only ECS services (long ARN format, service/<cluster>/<name>) and "
            "CloudFormation stacks can be registered"
        )
    problems = [f"{key}={value!r} has surrounding spaces" for key, value in sorted(tags.items()) if _padded(key, value)]
    repository = tags.get(REPOSITORY_TAG, "")
    if not repository:
        problems.append(f"{REPOSITORY_TAG} is required")
    elif not _padded(REPOSITORY_TAG, repository) and (problem := repository_name_problem(repository)):
        problems.append(f"{REPOSITORY_TAG}: {problem}")

    tag_filter = TagFilter()
    try:
        tag_filter = TagFilter.parse(tags.get(TAGS_TAG, "any"))
    except ValueError as exc:
        problems.append(str(exc))

    mode = _enum(Mode, MODE_TAG, tags, Mode.APPLY, problems)
    value = _enum(ParameterValue, VALUE_TAG, tags, ParameterValue.TAG, problems)
    parameter = tags.get(PARAMETER_TAG, "").strip() or None
    if parameter is not None and _PARAMETER_NAME.fullmatch(parameter) is None:
        problems.append(f"{PARAMETER_TAG}={parameter!r}: a stack parameter name is letters and digits")
    containers = tuple(tags.get(CONTAINERS_TAG, "").split())
    bad_names = [c for c in containers if _CONTAINER_NAME.fullmatch(c) is None]
    if bad_names:
        problems.append(f"{CONTAINERS_TAG}: {', '.join(map(repr, bad_names))} cannot be container names")

    if kind is TargetKind.STACK and parameter is None:
        problems.append(f"{PARAMETER_TAG} is required on a stack target")
    if kind is TargetKind.SERVICE and parameter is not None:
        problems.append(f"{PARAMETER_TAG} applies to stack targets only")
    if kind is TargetKind.STACK and containers:
        problems.append(f"{CONTAINERS_TAG} applies to service targets only")
    if problems:
        raise MisconfiguredTarget(f"{arn}: " + "; ".join(problems))
    return Target(arn, kind, repository, tag_filter, mode, parameter, value, containers)


_REGISTRATION_KEYS = frozenset({REPOSITORY_TAG, TAGS_TAG, MODE_TAG, PARAMETER_TAG, VALUE_TAG, CONTAINERS_TAG})


def _padded(key: str, value: str) -> bool:
    return key in _REGISTRATION_KEYS and value != value.strip()


E = TypeVar("E", bound=StrEnum)


def _enum(enum: type[E], key: str, tags: Mapping[str, str], default: E, problems: list[str]) -> E:
    text = tags.get(key, "").strip()
    if not text:
        return default
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        problems.append(f"{key}={text!r}: expected one of {allowed}")
        return default
