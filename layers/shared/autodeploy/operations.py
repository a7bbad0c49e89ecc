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
from autodeploy.errors import InvalidImageReference, MisconfiguredTarget
from autodeploy.events import ECR_DETAIL_TYPE, ECR_SOURCE, EventEnvelope, ImagePush
from autodeploy.image_reference import ImageReference, is_valid_digest, is_valid_tag
from autodeploy.records import DeploymentRecord, Status
from autodeploy.registration import Target
from autodeploy.rollout import InFlight, TargetState

# Record statuses after which the target runs something else than before the push.
_CHANGED = (Status.IN_PROGRESS, Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT)
_SHORT_DIGEST = len("sha256:") + 12  # what `status` and `history` print


class OperationError(Exception):
    """A request that cannot be carried out as asked; the message says why."""


class NothingToDo(OperationError):
    """The request was understood and there is nothing to change (exit status of its own in the CLI)."""


@dataclass(frozen=True, slots=True)
class TargetStatus:
    target: Target
    state: TargetState
    latest: list[DeploymentRecord]


@dataclass(frozen=True, slots=True)
class RollbackChoice:
    """The image a rollback goes back to, and where it was found (for people)."""

    repository: str
    digest: str
    tag: str | None
    found_in: str

    @property
    def label(self) -> str:
        return f"{self.tag} ({self.digest[:_SHORT_DIGEST]})" if self.tag else self.digest[:_SHORT_DIGEST]


@dataclass(frozen=True, slots=True)
class RollbackStarted:
    """The rollback's own record, and the rollout it waits behind (when it was queued)."""

    choice: RollbackChoice
    record: DeploymentRecord | None
    waits_behind: InFlight | None
    report: DeployReport


def short(digest: str) -> str:
    return digest[:_SHORT_DIGEST]


def find_target(deployer: DeployOnPush, arn: str) -> Target:
    found = deployer.discovery.registration(arn)
    if isinstance(found, MisconfiguredTarget):
        raise OperationError(f"{arn} is registered but misconfigured: {found}")
    if found is None:
        raise OperationError(f"{arn} is not a registered target (no autodeploy:repository tag)")
    return found


def status_of(deployer: DeployOnPush, arn: str, records: int = 5) -> TargetStatus:
    target = find_target(deployer, arn)
    return TargetStatus(target, deployer.ledger.state(arn), deployer.ledger.history(arn, limit=records))


def statuses(deployer: DeployOnPush) -> list[tuple[Target, TargetState]]:
    targets = deployer.discovery.find_all().targets
    states = deployer.ledger.states(t.arn for t in targets)
    return [(t, states[t.arn]) for t in targets]


def misconfigured(deployer: DeployOnPush) -> list[tuple[str, str]]:
    """Resources that carry an autodeploy:repository tag but cannot be deployed, and why."""
    return [(arn, str(problem)) for arn, problem in deployer.discovery.find_all().misconfigured]


def _earlier_image(record: DeploymentRecord) -> tuple[str | None, str | None]:
    """(digest, tag) of what the target ran before this record's rollout, when it names an image of its repository.

    ``previous_image`` is a container image for services; for stacks it is the parameter's old
    value: a tag, a digest or an image, by the target's ``autodeploy:value``.
    """
    previous = record.previous_image
    if not previous:
        return None, None
    if is_valid_digest(previous):
        return previous, None
    if any(mark in previous for mark in "/@:"):
        try:
            ref = ImageReference.parse(previous)
        except InvalidImageReference:
            return None, None
        return (ref.digest, ref.tag) if ref.repository == record.repository else (None, None)
    return (None, previous) if is_valid_tag(previous) else (None, None)


def _matches(wanted: str, digest: str | None, tag: str | None) -> bool:
    if digest and (wanted == digest or (wanted.startswith("sha256:") and digest.startswith(wanted))):
        return True
    return tag is not None and wanted == tag


def _named(deployer: DeployOnPush, target: Target, history: list[DeploymentRecord], wanted: str) -> RollbackChoice:
    """The image named by tag, digest or digest prefix: the ledger first, then what ran before, then ECR."""
    if wanted.startswith("sha256:"):
        candidates = {r.digest for r in history if r.digest.startswith(wanted)}
        if len(candidates) > 1:
            raise OperationError(f"{wanted!r} matches {len(candidates)} digests in this target's history: give more")
    for record in history:
        if _matches(wanted, record.digest, record.tag):
            return RollbackChoice(
                record.repository, record.digest, record.tag, f"the push of {record.pushed_at:%Y-%m-%d %H:%M:%S}"
            )
    for record in history:
        digest, tag = _earlier_image(record)
        if _matches(wanted, digest, tag):
            found_in = "the image the target ran before its first rollout by ecs-autodeploy"
            if digest:
                return RollbackChoice(record.repository, digest, tag, found_in)
            return _from_ecr(deployer, target, wanted, found_in)
    if wanted.startswith("sha256:") and not is_valid_digest(wanted):
        raise OperationError(
            f"no push of {wanted!r} in this target's {len(history)} records; name the full digest to look it up in ECR"
        )
    if not (is_valid_digest(wanted) or is_valid_tag(wanted)):
        raise OperationError(f"{wanted!r} is neither an image tag nor a digest (sha256:<64 hex>)")
    return _from_ecr(deployer, target, wanted, f"ECR repository {target.repository}")


def _from_ecr(deployer: DeployOnPush, target: Target, key: str, found_in: str) -> RollbackChoice:
    facts = deployer.images.lookup(target.repository, [key]).get(key)
    if facts is None:
        raise OperationError(
            f"no image {key!r} in this target's history, in what it ran before, "
            f"or in ECR repository {target.repository}"
        )
    tag = key if key in facts.tags else (facts.tags[0] if facts.tags else None)
    return RollbackChoice(target.repository, facts.digest, tag, found_in)


def _last_good(state: TargetState, target: Target) -> RollbackChoice | None:
    good = state.last_succeeded
    if not good.get("digest"):
        return None
    return RollbackChoice(target.repository, str(good["digest"]), good.get("tag"), "the last good image")


def choose_rollback(
    deployer: DeployOnPush, target: Target, history: list[DeploymentRecord], state: TargetState, to: str | None
) -> RollbackChoice:
    """The image to go back to: the one named, else the last good image before what runs now.

    While a rollout is in flight, or after one that failed without being rolled back, the target
    is not on its last good image: going back means going to that image (what `status` shows).
    Otherwise it runs the last good image, and going back means the good one before it.
    """
    if to is not None:
        return _named(deployer, target, history, to.strip())
    good = _last_good(state, target)
    latest = next((r for r in history if r.status in (*_CHANGED, Status.ROLLED_BACK)), None)
    off_good = state.in_flight is not None or (
        latest is not None and latest.status is not Status.SUCCEEDED and latest.status is not Status.ROLLED_BACK
    )
    in_flight_digest = state.in_flight.push.digest if state.in_flight else None
    if good is not None and off_good and good.digest != in_flight_digest:
        return good
    current = good.digest if good else None
    for record in history:
        if record.status is Status.SUCCEEDED and record.digest != current:
            return RollbackChoice(
                record.repository, record.digest, record.tag, f"the push of {record.pushed_at:%Y-%m-%d %H:%M:%S}"
            )
    for record in reversed(history):  # the image it ran before ecs-autodeploy first changed it
        digest, tag = _earlier_image(record)
        if digest and digest != current:
            return RollbackChoice(record.repository, digest, tag, "the image the target ran before ecs-autodeploy")
        if tag and not digest:
            return _from_ecr(deployer, target, tag, "the image the target ran before ecs-autodeploy")
    raise NothingToDo("no earlier good image in this target's history; name one with --to")


def rollback(
    deployer: DeployOnPush, arn: str, to: str | None = None, requested_by: str = "a person"
) -> RollbackStarted:
    """Deploy a previous image now, past the tag filter, "never backwards" and its quarantine.

    It still waits its turn: if a rollout is in flight, the rollback becomes the pending push,
    remembered as a person's request, and deploys when that rollout ends.
    """
    target = find_target(deployer, arn)
    state = deployer.ledger.state(arn)
    choice = choose_rollback(deployer, target, deployer.ledger.history(arn, limit=None), state, to)
    deployer.ledger.unquarantine(arn, choice.digest)
    account, region = arn.split(":")[4], arn.split(":")[3]
    envelope = EventEnvelope(
        f"rollback-{uuid.uuid4()}", ECR_SOURCE, ECR_DETAIL_TYPE, account, region, datetime.now(UTC)
    )
    push = ImagePush(envelope, choice.repository, choice.digest, choice.tag)
    report = deployer.deploy(push, [target], DeployOptions.rollback(requested_by))
    # The report may also hold the push this rollback displaced as the pending one: pick our own.
    own = next((r.record for r in report.recorded if r.record.event_id == push.event_id), None)
    waits = None
    if own is not None and own.status is Status.QUEUED:
        waits = deployer.ledger.state(arn).in_flight
    return RollbackStarted(choice, own, waits, report)


def resolve_quarantined(deployer: DeployOnPush, arn: str, text: str) -> str:
    """The quarantined digest that ``text`` names: a digest, the prefix `status` prints, or a tag."""
    wanted = text.strip()
    if not wanted:
        raise OperationError("name a digest (sha256:...), the prefix `autodeploy status` prints, or a tag")
    quarantined = deployer.ledger.state(arn).quarantined
    if wanted.startswith("sha256:"):
        if not all(c in "0123456789abcdef" for c in wanted[len("sha256:") :]):
            raise OperationError(f"{wanted!r} is not a digest: sha256: is followed by hexadecimal digits")
        matches = [d for d in quarantined if d.startswith(wanted)]
    elif is_valid_tag(wanted):
        tagged = {r.digest for r in deployer.ledger.history(arn, limit=None) if r.tag == wanted}
        matches = [d for d in quarantined if d in tagged]
    else:
        raise OperationError(f"{wanted!r} is neither a digest (sha256:...) nor an image tag")
    if len(matches) > 1:
        raise OperationError(f"{wanted!r} names {len(matches)} quarantined digests: " + ", ".join(matches))
    if not matches:
        listed = ", ".join(short(d) for d in quarantined) or "none"
        raise NothingToDo(f"{wanted} is not quarantined on this target (quarantined: {listed})")
    return matches[0]


def release(deployer: DeployOnPush, arn: str, digest: str) -> bool:
    """Let reconcile deploy a quarantined digest again. False: it was not quarantined."""
    return deployer.ledger.unquarantine(arn, digest)


def wait_for_outcome(
    deployer: DeployOnPush,
    record: DeploymentRecord,
    timeout_seconds: float,
    on_progress: Callable[[DeploymentRecord, float], None],
    poll_seconds: float = 5.0,
    sleep: Callable[[float], None] | None = None,
) -> DeploymentRecord:
    """Poll the ledger (from a terminal, never inside Lambda) until the rollout ends or time runs out."""
    started = time.monotonic()
    current = record
    while not current.status.is_terminal:
        elapsed = time.monotonic() - started
        on_progress(current, elapsed)
        if elapsed >= timeout_seconds:
            break
        (sleep or time.sleep)(poll_seconds)
        current = deployer.ledger.get(record.target, record.sort_key) or current
    return current
