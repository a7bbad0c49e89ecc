"""Step 5, judge: does the policy let this target take the push (never backwards), and how is it recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autodeploy.deploy.outcome import Decision, DeployOptions
from autodeploy.deploy.prepare import Plan
from autodeploy.events import ImagePush
from autodeploy.image_reference import ImageReference
from autodeploy.policy import Deployed, ImageFacts, judge_push_against
from autodeploy.records import Reason, Status
from autodeploy.registration import Mode


@dataclass(frozen=True, slots=True)
class Go:
    """The target may roll out: why, and the fields every record of this rollout carries."""

    why: str
    common: dict[str, Any]


def judge(
    push: ImagePush, registry: str, plan: Plan, facts: dict[str, ImageFacts], options: DeployOptions
) -> Decision | Go:
    pushed = facts.get(push.digest)
    if pushed is None:
        return Decision(Status.SKIPPED, Reason.IMAGE_GONE, f"the pushed image {push.digest} is no longer in ECR")
    deployed = [Deployed(where, facts.get(key) if key else None, tags) for where, key, tags in plan.deployed]
    verdict = judge_push_against(plan.target.tag_filter, push.tag or "", pushed, deployed)
    pinned = str(ImageReference(push.repository, registry, digest=push.digest))
    common: dict[str, Any] = {"previous_image": plan.previous, "image": pinned, "plan": plan.changes}
    if plan.stack is not None:
        common["stack_id"] = plan.stack.stack_id
    if plan.findings:
        common["findings"] = plan.findings
    if options.require_known_deployed and not (deployed and all(d.facts is not None for d in deployed)):
        why = "the running image is not in ECR, so a catch-up deploy could go backwards"
        return Decision(Status.SKIPPED, Reason.UNKNOWN_DEPLOYED, why, common)
    if options.enforce_policy and not verdict.accepted:
        status = Status.SUPERSEDED if options.promoted else Status.REJECTED
        code = Reason.SUPERSEDED if options.promoted else Reason.NOT_NEWER
        return Decision(status, code, verdict.reason, common)
    why = options.reason_prefix + verdict.reason if options.enforce_policy else options.reason_prefix.rstrip(": ")
    if plan.target.mode is Mode.DRY_RUN:
        return Decision(Status.PLANNED, Reason.DRY_RUN, f"dry run: would deploy ({why})", common)
    return Go(why, common)
