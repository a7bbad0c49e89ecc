"""Which pushes a target accepts: its tag filter, then "never go backwards".

Pure functions over what ECR says of the pushed and the deployed image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from autodeploy.registration import TagFilter, TagRule

if TYPE_CHECKING:
    import semver


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What ECR knows of one image: its digest, its tags now, and when it was pushed."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: bool
    reason: str


def parse_version(tag: str) -> semver.Version | None:
    """A semantic version, with an optional leading ``v``; None when the tag is not one."""
    import semver  # only semver targets need it; it is kept out of the cold start

    text = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


def highest_version(tags: Iterable[str]) -> tuple[semver.Version, str] | None:
    versions = [(version, tag) for tag in tags if (version := parse_version(tag)) is not None]
    return max(versions, key=lambda pair: pair[0]) if versions else None


def tag_matches(tag_filter: TagFilter, tag: str) -> Verdict:
    """Whether a pushed tag is deployable at all under the target's ``autodeploy:tags``."""
    if tag_filter.rule is TagRule.ANY:
        return Verdict(True, "any tag is deployable")
    if tag_filter.rule is TagRule.SEMVER:
        if parse_version(tag) is None:
            return Verdict(False, f"tag {tag!r} is not a semantic version (autodeploy:tags=semver)")
        return Verdict(True, f"tag {tag!r} is a semantic version")
    for prefix in tag_filter.prefixes:
        if tag.startswith(prefix):
            return Verdict(True, f"tag {tag!r} starts with {prefix!r}")
    return Verdict(False, f"tag {tag!r} matches none of autodeploy:tags={tag_filter}")


def judge_push(
    tag_filter: TagFilter,
    pushed_tag: str,
    pushed: ImageFacts | None,
    deployed: ImageFacts | None,
    deployed_tags: Iterable[str] = (),
) -> Verdict:
    """Accept or reject a push for one target.

    ``deployed`` is None when the running image is not in ECR (deleted, or from elsewhere): then
    nothing can be compared and the push proceeds. ``deployed_tags`` adds tags known from the
    deployed reference itself (a stack parameter holding a tag, say).
    """
    matched = tag_matches(tag_filter, pushed_tag)
    if not matched.accepted:
        return matched
    if deployed is None:
        return Verdict(True, "the deployed image is not in ECR, so nothing to compare with; proceeding")
    if tag_filter.rule is TagRule.SEMVER:
        new_version = parse_version(pushed_tag)
        current = highest_version([*deployed.tags, *deployed_tags])
        if current is None:
            return Verdict(True, "the deployed image has no semantic-version tag; proceeding")
        if new_version is not None and new_version <= current[0]:
            return Verdict(False, f"version {pushed_tag} is not newer than the deployed {current[1]}")
        return Verdict(True, f"version {pushed_tag} is newer than the deployed {current[1]}")
    if pushed is not None and pushed.pushed_at < deployed.pushed_at:
        return Verdict(
            False,
            f"image {pushed_tag} was pushed at {pushed.pushed_at.isoformat()}, before the deployed "
            f"image ({deployed.pushed_at.isoformat()}); never going back",
        )
    return Verdict(True, "pushed no earlier than the deployed image")


@dataclass(frozen=True, slots=True)
class Deployed:
    """One image a target runs now from the pushed repository; ``where`` names it for people."""

    where: str  # "container web", "parameter BuildNumber"
    facts: ImageFacts | None  # None: not in ECR (deleted, or never there)
    tags: tuple[str, ...] = ()  # tags known from the reference itself


def judge_push_against(
    tag_filter: TagFilter, pushed_tag: str, pushed: ImageFacts | None, deployed: Sequence[Deployed]
) -> Verdict:
    """ "Never backwards" over every deployed image from the pushed repository, in any order.

    The push is accepted only when no deployed image is newer; a refusal names the image that is
    (its container, when there are several), so the reason recorded is the true one.
    """
    if not deployed:
        return judge_push(tag_filter, pushed_tag, pushed, None)
    named = len(deployed) > 1
    verdicts = [(d, judge_push(tag_filter, pushed_tag, pushed, d.facts, d.tags)) for d in deployed]
    refused = [(d, v) for d, v in verdicts if not v.accepted]
    compared = [(d, v) for d, v in verdicts if d.facts is not None]
    d, v = (refused or compared or verdicts)[0]
    return Verdict(v.accepted, f"{d.where}: {v.reason}" if named else v.reason)


def newest_deployable(tag_filter: TagFilter, images: Iterable[ImageFacts]) -> tuple[ImageFacts, str] | None:
    """The image a target with this filter should run now, and the tag it is deployed under.

    semver: the highest version; any and prefix: the most recently pushed matching image.
    """
    candidates = [
        (image, tag) for image in images for tag in sorted(image.tags) if tag_matches(tag_filter, tag).accepted
    ]
    if not candidates:
        return None
    if tag_filter.rule is TagRule.SEMVER:
        return max(candidates, key=lambda pair: (parse_version(pair[1]), pair[0].pushed_at))
    return max(candidates, key=lambda pair: (pair[0].pushed_at, pair[1]))
