from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autodeploy.policy import ImageFacts, judge_push, parse_version, tag_matches
from autodeploy.registration import TagFilter, TagRule

ANY = TagFilter(TagRule.ANY)
SEMVER = TagFilter(TagRule.SEMVER)
NOON = datetime(2026, 11, 26, 12, tzinfo=UTC)


def image(*tags: str, pushed_at: datetime = NOON) -> ImageFacts:
    return ImageFacts(digest="sha256:" + "0" * 64, tags=tags, pushed_at=pushed_at)


@pytest.mark.parametrize(
    ("tag", "version"),
    [("1.2.3", "1.2.3"), ("v1.2.3", "1.2.3"), ("V2.0.0-rc.1", "2.0.0-rc.1"), ("1.0.0+build.7", "1.0.0+build.7")],
)
def test_semantic_versions_with_an_optional_v(tag, version):
    assert str(parse_version(tag)) == version


@pytest.mark.parametrize("tag", ["latest", "1.2", "v", "1.2.3.4", "release-1.2.3", "01.2.3"])
def test_not_semantic_versions(tag):
    assert parse_version(tag) is None


def test_prefix_filter_accepts_any_listed_prefix():
    prefixes = TagFilter(TagRule.PREFIX, ("release-", "hotfix-"))
    assert tag_matches(prefixes, "hotfix-7").accepted
    assert not tag_matches(prefixes, "feature-7").accepted


def test_semver_filter_rejects_non_versions():
    verdict = tag_matches(SEMVER, "latest")
    assert not verdict.accepted
    assert verdict.reason == "tag 'latest' is not a semantic version (autodeploy:tags=semver)"


@pytest.mark.parametrize(
    ("pushed", "deployed", "accepted"),
    [
        ("1.0.3", "1.0.2", True),
        ("1.0.2", "1.0.3", False),
        ("1.0.3", "1.0.3", False),  # equal is not newer: a re-push of a version does not redeploy
        ("v1.10.0", "1.9.9", True),  # numeric, not lexical
        ("2.0.0-rc.1", "1.9.0", True),
        ("2.0.0-rc.1", "2.0.0", False),  # a pre-release is lower than its release
        ("2.0.0", "2.0.0-rc.2", True),
    ],
)
def test_semver_never_deploys_a_version_not_newer_than_the_deployed(pushed, deployed, accepted):
    assert judge_push(SEMVER, pushed, image(pushed), image(deployed)).accepted is accepted


def test_semver_compares_with_the_highest_version_tag_of_the_deployed_image():
    verdict = judge_push(SEMVER, "1.5.0", image("1.5.0"), image("latest", "1.4.0", "1.6.0"))
    assert not verdict.accepted
    assert verdict.reason == "version 1.5.0 is not newer than the deployed 1.6.0"


def test_semver_uses_the_tag_named_by_the_deployed_reference_too():
    assert not judge_push(SEMVER, "1.5.0", image("1.5.0"), image(), deployed_tags=["2.0.0"]).accepted


def test_semver_proceeds_when_the_deployed_image_has_no_version():
    assert judge_push(SEMVER, "1.5.0", image("1.5.0"), image("latest")).accepted


def test_any_never_goes_back_to_an_earlier_pushed_image():
    earlier = image("blue", pushed_at=NOON - timedelta(minutes=5))
    assert not judge_push(ANY, "blue", earlier, image("green")).accepted
    assert judge_push(ANY, "green", image("green"), earlier).accepted
    assert judge_push(ANY, "green", image("green"), image("blue")).accepted  # same second: not earlier


def test_prefix_rule_is_also_ordered_by_push_time():
    release = TagFilter(TagRule.PREFIX, ("release-",))
    earlier = image("release-1", pushed_at=NOON - timedelta(seconds=1))
    assert not judge_push(release, "release-1", earlier, image("release-2")).accepted


def test_a_deployed_image_missing_from_ecr_lets_the_push_proceed():
    verdict = judge_push(SEMVER, "0.0.1", image("0.0.1"), None)
    assert verdict.accepted
    assert "not in ECR" in verdict.reason


def test_the_tag_filter_is_checked_first():
    assert judge_push(SEMVER, "latest", image("latest"), None).reason.startswith(
        "tag 'latest' is not a semantic version"
    )
