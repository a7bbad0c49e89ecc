"""Step 1, accept: which targets take this push's tag at all (their `autodeploy:tags` filter)."""

from __future__ import annotations

from autodeploy.deploy.outcome import Decision, DeployOptions
from autodeploy.events import ImagePush
from autodeploy.policy import tag_matches
from autodeploy.records import Reason, Status
from autodeploy.registration import Target


def accept(
    push: ImagePush, targets: list[Target], options: DeployOptions
) -> tuple[list[Target], list[tuple[Target, Decision]]]:
    """The targets that accept the push, and the decision for each that does not."""
    if not options.enforce_policy:  # a rollback: the image was chosen by a person, not by its tag
        return list(targets), []
    if push.tag is None:
        untagged = Decision(Status.SKIPPED, Reason.NO_TAG, "a push without an image tag is not deployable")
        return [], [(target, untagged) for target in targets]
    accepted, refused = [], []
    for target in targets:
        matched = tag_matches(target.tag_filter, push.tag)
        if matched.accepted:
            accepted.append(target)
        else:
            refused.append((target, Decision(Status.SKIPPED, Reason.TAG_FILTER, matched.reason)))
    return accepted, refused
