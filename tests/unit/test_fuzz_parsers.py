"""Hostile input: property-based fuzzing of every parser of outside data.

Each parser gets 10,000 generated inputs: near-valid events with fields removed, retyped or
replaced, and arbitrary JSON. A parser either returns its model or refuses with our error and a
reason; nothing else may escape.
"""

from __future__ import annotations

import copy
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodeploy.errors import InvalidEvent, InvalidImageReference, MisconfiguredTarget
from autodeploy.events import ImagePush, ImageScanCompleted, parse_review_trigger, parse_rollout_event
from autodeploy.image_reference import ImageReference
from autodeploy.registration import TagFilter, parse_target
from tests.support.events import load_event

EXAMPLES = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# AWS tag values allow letters, digits, spaces and + - = . _ : / @
TAG_ALPHABET = string.ascii_letters + string.digits + " +-=._:/@"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def paths(event: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in event.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found += paths(value, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, samples: list[str]) -> Any:
    """A sample event with a few of its fields deleted or replaced by arbitrary JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    event = copy.deepcopy(load_event(draw(st.sampled_from(samples))))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths(event) or [("id",)]))
        parent = event
        for key in path[:-1]:
            parent = parent.get(key, {}) if isinstance(parent, dict) else {}
        if not isinstance(parent, dict):
            continue
        if draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(json_values | st.text(alphabet=TAG_ALPHABET, max_size=80))
    return event


def refused_with_a_reason(error: Exception) -> None:
    assert str(error).strip(), f"{type(error).__name__} without a reason"


ECR = ["ecr-push.json", "ecr-push-with-media-types.json", "ecr-push-without-tag.json", "ecr-push-invalid-digest.json"]
ROLLOUT = [
    "ecs-deployment-in-progress.json",
    "ecs-deployment-completed.json",
    "ecs-deployment-failed.json",
    "cfn-stack-update-complete.json",
    "cfn-stack-update-rollback-complete.json",
]
REVIEW = ["cloudwatch-alarm-state-change.json", "cloudwatch-alarm-ok.json", "review-schedule.json"]
SCAN = ["ecr-image-scan.json", "ecr-image-scan-critical.json", "inspector2-scan.json"]


@EXAMPLES
@given(mutated(ECR))
def test_ecr_push_parser(event):
    try:
        push = ImagePush.from_event(event)
    except InvalidEvent as error:
        refused_with_a_reason(error)
        return
    assert push.repository
    assert push.digest.startswith("sha")


@EXAMPLES
@given(mutated(SCAN))
def test_scan_event_parser(event):
    try:
        scan = ImageScanCompleted.from_event(event)
    except InvalidEvent as error:
        refused_with_a_reason(error)
        return
    assert scan.repository and scan.status
    assert scan.digest.startswith("sha")
    assert all(isinstance(count, int) and count >= 0 for count in scan.counts.values())


@EXAMPLES
@given(mutated(ROLLOUT))
def test_rollout_event_parser(event):
    try:
        parsed = parse_rollout_event(event)
    except InvalidEvent as error:
        refused_with_a_reason(error)
        return
    assert parsed.envelope.id


@EXAMPLES
@given(mutated(REVIEW))
def test_review_trigger_parser(event):
    try:
        parsed = parse_review_trigger(event)
    except InvalidEvent as error:
        refused_with_a_reason(error)
        return
    assert parsed is None or parsed.alarm_name


tag_values = st.text(alphabet=TAG_ALPHABET, max_size=60)
registration_tags = st.dictionaries(
    st.sampled_from(
        [
            "autodeploy:repository",
            "autodeploy:tags",
            "autodeploy:mode",
            "autodeploy:parameter",
            "autodeploy:value",
            "autodeploy:containers",
            "autodeploy:after",
            "autodeploy:bake",
            "autodeploy:scan",
            "autodeploy:window",
            "autodeploy:approval",
            "team",
        ]
    ),
    tag_values
    | st.sampled_from(["any", "semver", "prefix:v", "apply", "dry-run", "tag", "digest", "image", "web"])
    | st.sampled_from(["staging/web", "30m", "7d", "critical", "required", "Mon-Fri 08:00-17:00 Europe/Berlin"]),
)
arns = st.sampled_from(
    [
        "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/web/0a1b2c3d",
        "arn:aws:ecs:us-east-1:123456789012:service/web",
    ]
) | st.text(alphabet=TAG_ALPHABET, max_size=80)


@EXAMPLES
@given(arns, registration_tags)
def test_registration_tags(arn, tags):
    try:
        target = parse_target(arn, tags)
    except MisconfiguredTarget as error:
        refused_with_a_reason(error)
        return
    assert target.repository == tags["autodeploy:repository"].strip()


references = st.text(alphabet=string.ascii_letters + string.digits + "./:@-_ ", max_size=120) | st.builds(
    lambda registry, path, tag, digest: f"{registry}{path}{tag}{digest}",
    st.sampled_from(["", "localhost/", "registry.local:5000/", "123456789012.dkr.ecr.us-east-1.amazonaws.com/"]),
    st.from_regex(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+)*", fullmatch=True),
    st.sampled_from(["", ":latest", ":1.2.3", ":-bad"]),
    st.sampled_from(["", "@sha256:" + "a" * 64, "@sha256:short"]),
)


@EXAMPLES
@given(references)
def test_image_references(text):
    try:
        ref = ImageReference.parse(text)
    except InvalidImageReference as error:
        refused_with_a_reason(error)
        return
    assert ImageReference.parse(str(ref)) == ref


@EXAMPLES
@given(tag_values)
def test_tag_filters(text):
    try:
        parsed = TagFilter.parse(text)
    except ValueError as error:
        refused_with_a_reason(error)
        return
    assert TagFilter.parse(str(parsed)) == parsed
