"""What a person does at the release gates: approve or deny a waiting push, promote a digest past
the bake by hand, and see which gates each target declares and what waits at which.

Plain functions over the use case, called by the `autodeploy` command and by the tests alike.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from autodeploy.deploy import DeployOnPush, DeployOptions, DeployReport
from autodeploy.events import ECR_DETAIL_TYPE, ECR_SOURCE, EventEnvelope, ImagePush
from autodeploy.gates.approval import Answer
from autodeploy.image_reference import is_valid_digest
from autodeploy.operations import NothingToDo, OperationError, find_target, short
from autodeploy.records import DeploymentRecord, Status
from autodeploy.registration import Gates, Target


@dataclass(frozen=True, slots=True)
class Answered:
    """A person's answer to a waiting push, and what the gates did with the push then."""

    target: Target
    digest: str
    report: DeployReport | None

    @property
    def record(self) -> DeploymentRecord | None:
        """The push's record after the release (IN_PROGRESS, QUEUED, WAITING at another gate, REJECTED)."""
        if self.report is None:
            return None
        return next((r.record for r in self.report.recorded if r.record.digest == self.digest), None)


def describe_gates(gates: Gates) -> str:
    """The gates a target declares, in the order they are asked."""
    parts = []
    if gates.scan.value != "off":
        parts.append(f"scan (refuses {gates.scan.value} and above)")
    if gates.after is not None:
        parts.append(f"after {gates.after}" + (f", bake {gates.bake_time}" if gates.bake else ""))
    if gates.window is not None:
        parts.append(f"window {gates.window}")
    if gates.approval:
        parts.append("approval")
    return "; ".join(parts) or "none"


def waiting_record(deployer: DeployOnPush, arn: str) -> DeploymentRecord | None:
    """The target's pending push's record, when it waits at a gate."""
    pending = deployer.ledger.state(arn).pending
    if pending is None:
        return None
    record = deployer.ledger.get(arn, pending.sort_key)
    return record if record is not None and record.status is Status.WAITING else None


def answer(deployer: DeployOnPush, arn: str, digest: str | None, answer: Answer, by: str, reason: str = "") -> Answered:
    """Approve or deny the push waiting for approval on the target (the one with ``digest``, if named),
    then release it: an approved push goes on to the next gate or rolls out, a denied one is REJECTED."""
    target = find_target(deployer, arn)
    if not target.gates.approval:
        raise OperationError(f"{target.name} declares no approval gate (autodeploy:approval=required)")
    waiting = waiting_record(deployer, arn)
    if waiting is None:
        raise NothingToDo(f"no push waits on {target.name}")
    label = f"{waiting.tag or '-'} ({short(waiting.digest)})"
    if digest is not None and not waiting.digest.startswith(digest):
        raise OperationError(f"{digest} does not wait on {target.name}: {label} does")
    if waiting.gate != "approval":
        raise OperationError(
            f"{label} waits at the {waiting.gate} gate on {target.name}, not for approval: {waiting.reason}"
        )
    now = datetime.now(UTC).isoformat()
    if not deployer.ledger.answer_approval(arn, waiting.digest, answer.value, by, now, reason):
        raise NothingToDo(f"the approval of {short(waiting.digest)} on {target.name} was answered already")
    return Answered(target, waiting.digest, deployer.promote_pending(target))


def promote_by_hand(deployer: DeployOnPush, arn: str, digest: str, by: str) -> DeployReport:
    """Deploy ``digest`` to the target past its bake gate (its other gates still apply), recorded as
    a person's promotion: the target's waiting push if it is that digest, else the image from ECR."""
    target = find_target(deployer, arn)
    if target.gates.after is None:
        raise OperationError(f"{target.name} declares no autodeploy:after: there is no bake to promote past")
    options = DeployOptions(promoted_by=by, reason_prefix=f"promoted by hand by {by} past the bake: ")
    state = deployer.ledger.state(arn)
    pending = state.pending
    if pending is not None and pending.digest.startswith(digest) and digest.startswith("sha256:"):
        if state.in_flight is not None:
            raise OperationError(f"a rollout is in flight on {target.name}; promote again when it has ended")
        promoted = DeployOptions(promoted=True, promoted_by=by, reason_prefix=options.reason_prefix)
        return deployer.deploy(pending.to_push(), [target], promoted)
    if not is_valid_digest(digest):
        raise OperationError(f"{digest!r} is not a digest (sha256:<64 hex>) nor the prefix of the waiting push's")
    facts = deployer.images.lookup(target.repository, [digest]).get(digest)
    if facts is None:
        raise OperationError(f"no image {digest} in ECR repository {target.repository}")
    account, region = arn.split(":")[4], arn.split(":")[3]
    envelope = EventEnvelope(f"promote-{uuid.uuid4()}", ECR_SOURCE, ECR_DETAIL_TYPE, account, region, datetime.now(UTC))
    push = ImagePush(envelope, target.repository, facts.digest, facts.tags[0] if facts.tags else None)
    return deployer.deploy(push, [target], options)
