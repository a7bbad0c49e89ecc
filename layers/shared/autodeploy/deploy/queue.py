"""Step 3, queue: one rollout per target at a time.

A push for a target whose rollout is in flight waits as the target's pending push (a newer one
replaces it); acting takes the target's rollout lock first, and queues instead when it loses the race.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from autodeploy.adapters.ledger import Claim, Ledger, Queued
from autodeploy.deploy.outcome import Decision, DeployOptions, DeployReport, Recorded
from autodeploy.deploy.recorder import Recorder
from autodeploy.errors import RetryableError
from autodeploy.events import ImagePush
from autodeploy.image_reference import ImageReference
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Mode, Target
from autodeploy.rollout import InFlight, PushRef

_CLAIM_ATTEMPTS = 4


class RolloutQueue:
    def __init__(self, ledger: Ledger, recorder: Recorder) -> None:
        self._ledger = ledger
        self._recorder = recorder

    def free_targets(
        self, report: DeployReport, push: ImagePush, registry: str, targets: list[Target], options: DeployOptions
    ) -> list[Target]:
        """Queue the push at once where a rollout is in flight; return the targets that are free.

        One BatchGetItem spares a burst of pushes every per-target read: the policy judges a
        waiting push when it is promoted, against what is deployed then.
        """
        applying = [t for t in targets if t.mode is Mode.APPLY]
        if not applying:
            return targets
        states = self._recorder.for_all(
            report, push, applying, DeployOptions(), lambda: self._ledger.states(t.arn for t in applying)
        )
        if states is None:
            return []
        pinned = str(ImageReference(push.repository, registry, digest=push.digest))
        ref = PushRef.of(push, options.requested_by)
        waiting = options.reason_prefix + "waiting for the rollout in flight"
        free = []
        for target in targets:
            state = states.get(target.arn)
            if state is None or state.in_flight is None or state.in_flight.sort_key == ref.sort_key:
                free.append(target)
                continue
            flying = state.in_flight.push
            if flying.digest == push.digest:
                rolling = Decision(Status.SKIPPED, Reason.ALREADY_RUNNING, f"already rolling out {push.digest}")
                self._recorder.decide(report, push, target, rolling, DeployOptions())
                continue
            if ref.sort_key < state.in_flight.sort_key:
                newer = f"the newer push {flying.tag or flying.digest} is rolling out"
                self._recorder.decide(
                    report, push, target, Decision(Status.SUPERSEDED, Reason.SUPERSEDED, newer), DeployOptions()
                )
                continue
            queued_record = self._recorder.record_of(
                push, target, Decision(Status.QUEUED, Reason.QUEUED, waiting, {"image": pinned})
            )
            try:
                queued = self._ledger.enqueue(queued_record, ref)
            except RetryableError as exc:
                report.retryable.append(f"{target.arn}: {exc}")
                continue
            if queued.outcome is Queued.LOCK_FREE:
                free.append(target)  # the rollout in flight ended meanwhile: deploy now
                continue
            if queued.replaced:
                superseded = self._ledger.get(target.arn, queued.replaced)
                if superseded is not None:
                    report.recorded.append(Recorded(superseded, True))
            decision = {
                Queued.QUEUED: Decision(Status.QUEUED, Reason.QUEUED, waiting, {"image": pinned}, recorded=True),
                Queued.SUPERSEDED: Decision(
                    Status.SUPERSEDED,
                    Reason.SUPERSEDED,
                    "a newer push already waits for this target",
                    {"image": pinned},
                ),
                Queued.DUPLICATE: Decision(
                    Status.QUEUED, Reason.QUEUED, "already waiting", {"image": pinned}, recorded=True, first_time=False
                ),
            }[queued.outcome]
            self._recorder.decide(report, push, target, decision, DeployOptions())
        return free

    def claim(
        self,
        report: DeployReport,
        record: DeploymentRecord,
        in_flight: InFlight,
        options: DeployOptions,
        common: dict[str, Any],
    ) -> Decision | None:
        """Take the target's rollout lock (None), or queue behind the rollout in flight (a decision)."""
        if options.resuming:
            return None
        for _ in range(_CLAIM_ATTEMPTS):
            claim = self._ledger.begin(record, in_flight, promoted=options.promoted)
            if claim is Claim.STARTED:
                return None
            if claim is Claim.DUPLICATE:
                state = self._ledger.state(record.target)
                if state.in_flight is not None and state.in_flight.sort_key == record.sort_key:
                    return None  # an earlier attempt of this push took the lock, then died: finish it
                stored = self._ledger.get(record.target, record.sort_key) or record  # report what was recorded
                return Decision(
                    stored.status, stored.reason_code, stored.reason, common, recorded=True, first_time=False
                )
            if options.promoted:  # another push took the lock first; this one stays pending
                return Decision(Status.QUEUED, Reason.QUEUED, "still waiting", common, recorded=True, first_time=False)
            waiting = options.reason_prefix + "waiting for the rollout in flight"
            queued = self._ledger.enqueue(
                replace(record, status=Status.QUEUED, reason_code=Reason.QUEUED, reason=waiting), in_flight.push
            )
            if queued.outcome is Queued.QUEUED:
                superseded = self._ledger.get(record.target, queued.replaced) if queued.replaced else None
                if superseded is not None:
                    report.recorded.append(Recorded(superseded, True))
                return Decision(Status.QUEUED, Reason.QUEUED, waiting, common, recorded=True)
            if queued.outcome is Queued.SUPERSEDED:
                return Decision(
                    Status.SUPERSEDED, Reason.SUPERSEDED, "a newer push already waits for this target", common
                )
            if queued.outcome is Queued.DUPLICATE:
                return Decision(
                    Status.QUEUED, Reason.QUEUED, "already waiting", common, recorded=True, first_time=False
                )
            # LOCK_FREE: the rollout in flight ended meanwhile; try to start again.
        raise RetryableError(f"could not take or queue for the rollout lock of {record.target_name}")
