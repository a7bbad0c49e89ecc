"""What a person can do by hand: see status, roll a target back, release a quarantine.

Plain functions over the use case, called by the `autodeploy` command and by the tests alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from autodeploy.deploy import DeployOnPush, DeployOptions, DeployReport
from autodeploy.events import ECR_DETAIL_TYPE, ECR_SOURCE, EventEnvelope, ImagePush
from autodeploy.records import DeploymentRecord, Status
from autodeploy.registration import Target
from autodeploy.rollout import TargetState


class OperationError(Exception):
    """A request that cannot be carried out as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class TargetStatus:
    target: Target
    state: TargetState
    latest: list[DeploymentRecord]


def find_target(deployer: DeployOnPush, arn: str) -> Target:
    target = deployer.discovery.get(arn)
    if target is None:
        raise OperationError(f"{arn} is not a registered target (no valid autodeploy:repository tag)")
    return target


def status_of(deployer: DeployOnPush, arn: str, records: int = 5) -> TargetStatus:
    target = find_target(deployer, arn)
    return TargetStatus(target, deployer.ledger.state(arn), deployer.ledger.history(arn, limit=records))


def statuses(deployer: DeployOnPush) -> list[tuple[Target, TargetState]]:
    targets = deployer.discovery.find_all().targets
    states = deployer.ledger.states(t.arn for t in targets)
    return [(t, states[t.arn]) for t in targets]


def choose_rollback(history: list[DeploymentRecord], state: TargetState, to: str | None) -> DeploymentRecord:
    """The record to go back to: the one named (tag or digest), else the last good image before the current."""
    if to is not None:
        for record in history:
            if to in (record.tag, record.digest) or (to.startswith("sha256:") and record.digest.startswith(to)):
                return record
        raise OperationError(f"no push of {to!r} in this target's history")
    current = state.last_succeeded.get("digest")
    for record in history:
        if record.status is Status.SUCCEEDED and record.digest != current:
            return record
    raise OperationError("no earlier successful image in this target's history; name one with --to")


def rollback(deployer: DeployOnPush, arn: str, to: str | None = None, requested_by: str = "a person") -> DeployReport:
    """Deploy a previous image now, past the "never backwards" rule and its quarantine.

    It still waits its turn: if a rollout is in flight, the rollback becomes the pending push.
    """
    target = find_target(deployer, arn)
    state = deployer.ledger.state(arn)
    chosen = choose_rollback(deployer.ledger.history(arn, limit=100), state, to)
    deployer.ledger.unquarantine(arn, chosen.digest)
    account, region = arn.split(":")[4], arn.split(":")[3]
    envelope = EventEnvelope(
        f"rollback-{uuid.uuid4()}", ECR_SOURCE, ECR_DETAIL_TYPE, account, region, datetime.now(UTC)
    )
    push = ImagePush(envelope, chosen.repository, chosen.digest, chosen.tag)
    options = DeployOptions(enforce_policy=False, reason_prefix=f"rollback requested by {requested_by}: ")
    return deployer.deploy(push, [target], options)


def release(deployer: DeployOnPush, arn: str, digest: str) -> bool:
    """Let reconcile deploy a quarantined digest again. False: it was not quarantined."""
    return deployer.ledger.unquarantine(arn, digest)


def wait_for_outcome(
    deployer: DeployOnPush,
    record: DeploymentRecord,
    timeout_seconds: float,
    on_progress: Callable[[DeploymentRecord, float], None],
    poll_seconds: float = 5.0,
) -> DeploymentRecord:
    """Poll the ledger (from a terminal, never inside Lambda) until the rollout ends or time runs out."""
    started = time.monotonic()
    current = record
    while not current.status.is_terminal:
        elapsed = time.monotonic() - started
        on_progress(current, elapsed)
        if elapsed >= timeout_seconds:
            break
        time.sleep(poll_seconds)
        current = deployer.ledger.get(record.target, record.sort_key) or current
    return current
