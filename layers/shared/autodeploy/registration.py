"""Registration: how ECS services and CloudFormation stacks declare themselves with tags.

Tag values allow only letters, digits, spaces and ``+ - = . _ : / @``, so the contract uses
space-separated words and ``prefix:<text>``, never a regular expression. That is ECS's rule
(botocore's ecs model, ``TagValue``); CloudFormation's stack tags allow any character, but a
stack's tags propagate to the ECS services it creates, so stacks keep to the same set. Hence no
``,`` anywhere: several deploy windows are joined by a standalone ``+`` (``autodeploy.gates.window``).

Release gates (``autodeploy:after``, ``bake``, ``scan``, ``window``, ``approval``) are read here
with the rest, into ``Target.gates``; what each gate then decides is ``autodeploy.gates``.

A tag means the same to every path: discovery by push asks the tagging API for the exact value
``autodeploy:repository=<pushed repository>``, so a value that query cannot match (surrounding
spaces, an upper-case letter) is refused here too, with its reason, rather than read leniently
by the paths that list every target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from autodeploy.errors import MisconfiguredTarget
from autodeploy.gates.scan import ScanThreshold
from autodeploy.gates.verdict import Gate
from autodeploy.gates.window import DeployWindows
from autodeploy.image_reference import repository_name_problem

TAG_PREFIX = "autodeploy:"
REPOSITORY_TAG = "autodeploy:repository"
TAGS_TAG = "autodeploy:tags"
MODE_TAG = "autodeploy:mode"
PARAMETER_TAG = "autodeploy:parameter"
VALUE_TAG = "autodeploy:value"
CONTAINERS_TAG = "autodeploy:containers"
AFTER_TAG = "autodeploy:after"
BAKE_TAG = "autodeploy:bake"
SCAN_TAG = "autodeploy:scan"
WINDOW_TAG = "autodeploy:window"
APPROVAL_TAG = "autodeploy:approval"
MIN_BAKE = timedelta(minutes=1)
MAX_BAKE = timedelta(days=7)
# CloudFormation parameter names are alphanumeric; ECS container names are letters, digits, '_'
# and '-', up to 255; a tag prefix is the start of an OCI tag.
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9]{1,255}")
_CONTAINER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_TAG_PREFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# ECS cluster and service names (letters, digits, '-', '_', up to 255); stack names (a letter,
# then letters, digits and '-', up to 128); a duration is a count of minutes, hours or days.
_ECS_NAME = r"[A-Za-z0-9_-]{1,255}"
_SERVICE_PATH = re.compile(rf"({_ECS_NAME})/({_ECS_NAME})")
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_DURATION = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


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
class Upstream:
    """The target an ``autodeploy:after`` tag names: ``cluster/service``, a stack name, or either's ARN."""

    kind: TargetKind
    text: str
    name: str
    cluster: str | None = None  # services
    arn: str | None = None  # when written as an ARN

    @classmethod
    def parse(cls, text: str) -> Upstream:
        if (kind := kind_of(text)) is not None:
            parts = resource_path(text).split("/")
            if kind is TargetKind.SERVICE:
                return cls(kind, text, parts[2], parts[1], text)
            return cls(kind, text, parts[1], None, text)
        if (service := _SERVICE_PATH.fullmatch(text)) is not None:
            return cls(TargetKind.SERVICE, text, service.group(2), service.group(1))
        if _STACK_NAME.fullmatch(text) is not None:
            return cls(TargetKind.STACK, text, text)
        raise ValueError(f"{AFTER_TAG}={text!r}: expected <cluster>/<service>, a stack name, or a service or stack ARN")

    def matches(self, arn: str) -> bool:
        """Is the registered target ``arn`` this upstream? An ARN matches exactly; a name by kind and name."""
        if self.arn is not None:
            return arn == self.arn
        if kind_of(arn) is not self.kind:
            return False
        parts = resource_path(arn).split("/")
        if self.kind is TargetKind.SERVICE:
            return (parts[1], parts[2]) == (self.cluster, self.name)
        return parts[1] == self.name

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Gates:
    """The release gates a target declares; the defaults declare none."""

    after: Upstream | None = None
    bake: timedelta | None = None
    scan: ScanThreshold = ScanThreshold.OFF
    window: DeployWindows | None = None
    approval: bool = False

    @property
    def bake_time(self) -> timedelta:
        """How long a digest runs on the upstream before it promotes here (``after`` alone: no time)."""
        return self.bake or timedelta(0)

    @property
    def declared(self) -> tuple[Gate, ...]:
        """The gates a push must pass here, in the order they are asked."""
        flags = (
            (Gate.SCAN, self.scan is not ScanThreshold.OFF),
            (Gate.BAKE, self.after is not None),  # `after` alone: SUCCEEDED upstream, a bake of zero
            (Gate.WINDOW, self.window is not None),
            (Gate.APPROVAL, self.approval),
        )
        return tuple(gate for gate, on in flags if on)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d``: from 1 minute to 7 days."""
    matched = _DURATION.fullmatch(text)
    span = timedelta(**{_UNITS[matched.group(2)]: int(matched.group(1))}) if matched else None
    if span is None or not MIN_BAKE <= span <= MAX_BAKE:
        raise ValueError(f"{BAKE_TAG}={text!r}: expected a duration such as 30m, 2h or 1d, from 1m to 7d")
    return span


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
    gates: Gates = field(default_factory=Gates)

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


def display_name(arn: str) -> str:
    """What people and the CLI call a target: cluster/service for a service, its name for a stack, else the ARN."""
    kind = kind_of(arn)
    parts = resource_path(arn).split("/") if kind else []
    if kind is TargetKind.SERVICE:
        return f"{parts[1]}/{parts[2]}"
    if kind is TargetKind.STACK:
        return parts[1]
    return arn


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
    gates = _gates(arn, tags, problems)
    if problems:
        raise MisconfiguredTarget(f"{arn}: " + "; ".join(problems))
    return Target(arn, kind, repository, tag_filter, mode, parameter, value, containers, gates)


def _gates(arn: str, tags: Mapping[str, str], problems: list[str]) -> Gates:
    """The release-gate tags; each problem is appended, defaults stand in for the bad values."""
    after = bake = window = None
    if text := tags.get(AFTER_TAG, "").strip():
        try:
            after = Upstream.parse(text)
        except ValueError as exc:
            problems.append(str(exc))
        if after is not None and after.matches(arn):
            problems.append(f"{AFTER_TAG}={text!r} names this target itself")
    if text := tags.get(BAKE_TAG, "").strip():
        try:
            bake = parse_duration(text)
        except ValueError as exc:
            problems.append(str(exc))
        if not tags.get(AFTER_TAG, "").strip():
            problems.append(f"{BAKE_TAG} needs {AFTER_TAG}: the bake is time run on the upstream")
    if text := tags.get(WINDOW_TAG, "").strip():
        try:
            window = DeployWindows.parse(text)
        except ValueError as exc:
            problems.append(f"{WINDOW_TAG}={text!r}: {exc}")
    scan = _enum(ScanThreshold, SCAN_TAG, tags, ScanThreshold.OFF, problems)
    approval = tags.get(APPROVAL_TAG, "").strip()
    if approval not in ("", "required"):
        problems.append(f"{APPROVAL_TAG}={approval!r}: expected 'required' (or no tag)")
    return Gates(after, bake, scan, window, approval == "required")


_REGISTRATION_KEYS = frozenset(
    {
        REPOSITORY_TAG,
        TAGS_TAG,
        MODE_TAG,
        PARAMETER_TAG,
        VALUE_TAG,
        CONTAINERS_TAG,
        AFTER_TAG,
        BAKE_TAG,
        SCAN_TAG,
        WINDOW_TAG,
        APPROVAL_TAG,
    }
)


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
