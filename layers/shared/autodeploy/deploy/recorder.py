"""Recording each target's decision in the ledger, and running a step so that its errors become decisions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from autodeploy.adapters.ledger import Ledger
from autodeploy.deploy.outcome import Decided, Decision, DeployOptions, DeployReport, Recorded
from autodeploy.errors import InvalidImageReference, MisconfiguredTarget, PermanentError, RetryableError, TargetNotFound
from autodeploy.events import ImagePush
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Target, kind_of, resource_path

# Decisions reconcile does not record: it asks every 15 minutes, and "nothing to do" is not news.
_NOOPS = frozenset({Reason.ALREADY_RUNNING, Reason.UNKNOWN_DEPLOYED, Reason.NOT_NEWER, Reason.TAG_FILTER})


class Recorder:
    def __init__(self, ledger: Ledger, clock: Callable[[], datetime]) -> None:
        self._ledger = ledger
        self._clock = clock

    def guard(
        self, report: DeployReport, push: ImagePush, target: Target, options: DeployOptions, step: Callable[[], Any]
    ) -> Any:
        """Run one target's step; record the decision it reached or the error it met.

        Returns the step's result when it is neither (a plan to carry on with), else None.
        """
        try:
            result = step()
        except Decided as decided:
            result = decided.decision
        except RetryableError as exc:
            report.retryable.append(f"{target.arn}: {exc}")
            return None
        except TargetNotFound as exc:
            result = Decision(Status.SKIPPED, Reason.TARGET_GONE, str(exc))
        except PermanentError as exc:
            misconfigured = isinstance(exc, (MisconfiguredTarget, InvalidImageReference))
            result = Decision(
                Status.FAILED, Reason.MISCONFIGURED if misconfigured else Reason.REJECTED_BY_AWS, str(exc)
            )
        if isinstance(result, Decision):
            self.decide(report, push, target, result, options)
            return None
        return result

    def for_all(
        self,
        report: DeployReport,
        push: ImagePush,
        targets: list[Target],
        options: DeployOptions,
        step: Callable[[], Any],
    ) -> Any:
        """A step shared by many targets: a transient failure retries the push, a permanent one fails them all."""
        try:
            return step()
        except RetryableError as exc:
            report.retryable.append(f"{push.repository}: {exc}")
        except PermanentError as exc:
            for target in targets:
                self.decide(report, push, target, Decision(Status.FAILED, Reason.REJECTED_BY_AWS, str(exc)), options)
        return None

    def decide(
        self, report: DeployReport, push: ImagePush, target: Target, decision: Decision, options: DeployOptions
    ) -> None:
        record = self.record_of(push, target, decision)
        if decision.recorded:
            report.recorded.append(Recorded(record, decision.first_time))
        elif options.promoted:
            # The push was recorded QUEUED: its record moves on rather than being written anew.
            self._ledger.set_outcome(
                target.arn, record.sort_key, decision.status, decision.code, decision.reason, Status.QUEUED
            )
            self._ledger.release_pending(target.arn, record.sort_key)
            report.recorded.append(Recorded(record, True))
        elif options.record_noops or decision.code not in _NOOPS:
            self.record(report, record)

    def record_of(self, push: ImagePush, target: Target, decision: Decision) -> DeploymentRecord:
        return replace(
            self.bare_record(push, target.arn, decision.status, decision.code, decision.reason),
            target_kind=target.kind.value,
            target_name=target.name,
            mode=target.mode.value,
            **decision.fields,
        )

    def bare_record(self, push: ImagePush, arn: str, status: Status, code: Reason, reason: str) -> DeploymentRecord:
        kind = kind_of(arn)
        return DeploymentRecord(
            target=arn,
            target_kind=kind.value if kind else "unknown",
            target_name=resource_path(arn).rsplit("/", 1)[-1] if arn.count(":") >= 5 else arn,
            repository=push.repository,
            tag=push.tag,
            digest=push.digest,
            status=status,
            reason_code=code,
            reason=reason,
            event_id=push.event_id,
            pushed_at=push.envelope.time,
            recorded_at=self._clock(),
        )

    def record(self, report: DeployReport, record: DeploymentRecord) -> None:
        try:
            first = self._ledger.record(record)
            if not first:  # a redelivery: report what the ledger holds, not what this delivery would have done
                record = self._ledger.get(record.target, record.sort_key) or record
        except RetryableError as exc:
            report.retryable.append(f"{record.target}: {exc}")
            return
        report.recorded.append(Recorded(record, first))
