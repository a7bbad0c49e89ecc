"""Every path reads input and registrations the same strict way: whole-string grammars in ASCII.

Python's ``$`` also matches before a trailing newline and ``\\w`` accepts any Unicode letter, so
each grammar here is checked with exactly those near misses. Lengths and patterns come from
botocore's ECR model (RepositoryName: 2 to 256 characters of its pattern; RegistryId: 12 digits).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from autodeploy.errors import InvalidEvent, InvalidImageReference, MisconfiguredTarget
from autodeploy.events import ImagePush
from autodeploy.image_reference import (
    ImageReference,
    is_valid_account_id,
    is_valid_digest,
    is_valid_region,
    is_valid_tag,
    repository_name_problem,
)
from autodeploy.policy import Deployed, ImageFacts, judge_push_against
from autodeploy.records import push_sort_key
from autodeploy.registration import TagFilter, TagRule, parse_target
from tests.support.events import ecr_push

DIGEST = "sha256:" + "ab" * 32
SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/prod/web"


@pytest.mark.parametrize("tag", ["1.5.0\n", "\uff11.5.0", "v1é", "é", "1.5.0 ", "a" * 129, ""])
def test_tags_are_refused_with_a_trailing_newline_unicode_or_too_long(tag):
    assert not is_valid_tag(tag)


@pytest.mark.parametrize("tag", ["1.5.0", "v2", "latest", "release_2026-11.1", "a" * 128])
def test_tags_of_the_oci_grammar_are_accepted(tag):
    assert is_valid_tag(tag)


@pytest.mark.parametrize("digest", [DIGEST + "\n", DIGEST.upper(), "sha256:" + "ab" * 31, DIGEST[:-1] + "٣"])
def test_digests_are_refused_unless_exact(digest):
    assert not is_valid_digest(digest)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("web", True),
        ("team/web-api", True),
        ("a__b", True),
        ("w", False),  # the model's minimum is 2
        ("web\n", False),
        ("Web", False),
        ("wéb", False),
        ("web/", False),
        ("a" * 256, True),
        ("a" * 257, False),
    ],
)
def test_repository_names_follow_the_ecr_model(name, valid):
    assert (repository_name_problem(name) is None) is valid


@pytest.mark.parametrize(
    ("value", "account", "region"),
    [("123456789012", True, False), ("123456789012\n", False, False), ("\uff1123456789012", False, False)],
)
def test_account_ids_are_twelve_ascii_digits(value, account, region):
    assert is_valid_account_id(value) is account
    assert is_valid_region(value) is region


@pytest.mark.parametrize(("region", "valid"), [("us-east-1", True), ("us-gov-west-1", True), ("us-east-1\n", False)])
def test_regions(region, valid):
    assert is_valid_region(region) is valid


@pytest.mark.parametrize(
    "image",
    ["web:1.5.0\n", "web\n:1.5.0", "wéb:1", "web@" + DIGEST + "\n", "registry.local\n/web:1"],
)
def test_image_references_with_a_newline_or_unicode_are_refused(image):
    with pytest.raises(InvalidImageReference):
        ImageReference.parse(image)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("image-tag", "1.5.0\n", "is not a valid image tag"),
        ("image-tag", "v\uff11", "is not a valid image tag"),
        ("image-digest", DIGEST + "\n", "is not a valid digest"),
        ("repository-name", "web\n", "is not an ECR repository name"),
        ("repository-name", "Web", "is not an ECR repository name"),
        ("repository-name", "a" * 257, "is not 2 to 256 characters long"),
    ],
)
def test_a_push_with_a_malformed_detail_is_refused_with_its_reason(field, value, reason):
    event = ecr_push("1.5.0", DIGEST)
    event["detail"][field] = value
    with pytest.raises(InvalidEvent, match=reason):
        ImagePush.from_event(event)


@pytest.mark.parametrize(
    ("field", "value"),
    [("account", "12345678901\n"), ("region", "us-east-1\n"), ("id", "a#b"), ("id", "x\ny"), ("time", "2026-11-26")],
)
def test_a_malformed_envelope_is_refused(field, value):
    event = ecr_push("1.5.0", DIGEST)
    event[field] = value
    with pytest.raises(InvalidEvent):
        ImagePush.from_event(event)


def test_push_times_are_normalised_to_utc_before_they_order_pushes():
    early = ImagePush.from_event(ecr_push("1.5.0", DIGEST, time="2026-11-26T11:00:00+02:00", id="a"))
    late = ImagePush.from_event(ecr_push("1.5.0", DIGEST, time="2026-11-26T10:00:00Z", id="a"))

    assert early.envelope.time == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert early.envelope.time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert push_sort_key(early.envelope.time, "a") < push_sort_key(late.envelope.time, "a")


def test_sort_keys_are_utc_whatever_the_offset_of_the_time_given():
    from datetime import timedelta, timezone

    plus_two = datetime(2026, 11, 26, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert push_sort_key(plus_two, "e") == "push#2026-11-26T09:00:00+00:00#e"


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({"autodeploy:repository": " web"}, "autodeploy:repository=' web' has surrounding spaces"),
        ({"autodeploy:repository": "web "}, "has surrounding spaces"),
        ({"autodeploy:repository": "Web"}, "is not an ECR repository name"),
        ({"autodeploy:repository": "web", "autodeploy:mode": "apply "}, "autodeploy:mode='apply ' has surrounding"),
        ({"autodeploy:repository": "web", "autodeploy:containers": "web w@rker"}, "cannot be container names"),
        ({"autodeploy:repository": "web", "autodeploy:tags": "prefix:v\u00e9"}, "expected 'any', 'semver'"),
    ],
)
def test_a_registration_discovery_by_push_could_not_match_is_misconfigured_with_its_reason(tags, problem):
    """The tagging API is asked for autodeploy:repository=<pushed name> exactly, so ' web' would
    never be found by a push; reading it leniently elsewhere would deploy it on reconcile only."""
    with pytest.raises(MisconfiguredTarget, match=problem):
        parse_target(SERVICE, tags)


def test_other_autodeploy_tags_are_not_registration_tags():
    target = parse_target(SERVICE, {"autodeploy:repository": "web", "autodeploy:scaling-review": " observe"})
    assert target.tag_filter == TagFilter(TagRule.ANY)


def facts(digest: str, hour: int, *tags: str) -> ImageFacts:
    return ImageFacts(digest, tags, datetime(2026, 11, 26, hour, tzinfo=UTC))


ANY = TagFilter(TagRule.ANY)
SEMVER = TagFilter(TagRule.SEMVER)


@pytest.mark.parametrize("order", [0, 1])
def test_never_backwards_judges_every_container_in_any_order(order):
    """A sidecar from the pushed repository runs a newer image than the main container: the push
    is older than it, so it is refused, and the reason names that container, in either order."""
    pushed = facts("sha256:p", 10, "1.5.0")
    containers = [
        Deployed("container web", facts("sha256:a", 9, "1.4.0")),
        Deployed("container worker", facts("sha256:b", 11, "1.6.0")),
    ]
    if order:
        containers.reverse()

    by_time = judge_push_against(ANY, "1.5.0", pushed, containers)
    by_version = judge_push_against(SEMVER, "1.5.0", pushed, containers)

    assert not by_time.accepted and by_time.reason.startswith("container worker: image 1.5.0 was pushed at")
    assert not by_version.accepted
    assert by_version.reason == "container worker: version 1.5.0 is not newer than the deployed 1.6.0"


def test_never_backwards_accepts_when_every_container_is_older_and_says_what_it_compared():
    pushed = facts("sha256:p", 12, "1.7.0")
    containers = [Deployed("container web", None), Deployed("container worker", facts("sha256:b", 11, "1.6.0"))]

    verdict = judge_push_against(SEMVER, "1.7.0", pushed, containers)

    assert verdict.accepted
    assert verdict.reason == "container worker: version 1.7.0 is newer than the deployed 1.6.0"


def test_one_deployed_image_keeps_the_plain_reason():
    verdict = judge_push_against(
        SEMVER, "1.5.0", facts("p", 1, "1.5.0"), [Deployed("parameter B", facts("d", 0), ("2.0.0",))]
    )
    assert verdict.reason == "version 1.5.0 is not newer than the deployed 2.0.0"
