"""Use case: review the scaling of every service tagged ``autodeploy:scaling-review``.

Reads are batched where AWS allows (``scaling.readings``) and per service where it must; each
service gets one decision record, with what could not be read in its ``unseen``; in act mode the
recommendation is applied when the review allows it. A permanent AWS error never escapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autodeploy.adapters.autoscaling import AutoScalingReader, resource_id
from autodeploy.adapters.cloudwatch import CloudWatchReader
from autodeploy.adapters.decision_log import REVIEW_PREFIX, SUMMARY, DecisionLog
from autodeploy.adapters.ecs import EcsServices, ServiceState
from autodeploy.errors import AutodeployError, MisconfiguredTarget, PermanentError
from autodeploy.scaling.models import (
    Decision,
    PastDecision,
    ReviewInputs,
    ReviewMode,
    ReviewSettings,
    ScalingDecision,
    summarize_history,
)
from autodeploy.scaling.readings import ScalingReader
from autodeploy.scaling.review import review
from autodeploy.scaling.settings import parse_settings


@dataclass(frozen=True, slots=True)
class Reviewed:
    service: str
    mode: ReviewMode
    decision: ScalingDecision
    applied: bool
    record: dict[str, Any]


@dataclass(slots=True)
class ReviewReport:
    trigger: str
    reviewed: list[Reviewed] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "reviewed": [
                {
                    "service": r.service,
                    "decision": r.decision.decision.value,
                    "current": r.decision.current_count,
                    "recommended": r.decision.recommended_count,
                    "native": r.decision.native.get("adjustment", 0),
                    "applied": r.applied,
                    "reason": r.decision.reason,
                }
                for r in self.reviewed
            ],
            "skipped": self.skipped,
            "errors": self.errors,
        }


class ReviewScaling:
    def __init__(
        self,
        find_services: Callable[[], dict[str, dict[str, str]]],
        services: EcsServices,
        autoscaling: AutoScalingReader,
        cloudwatch: CloudWatchReader,
        log: DecisionLog,
        settings: ReviewSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._find_services = find_services
        self._services = services
        self._reader = ScalingReader(autoscaling, cloudwatch)
        self._cloudwatch = cloudwatch
        self._log = log
        self._settings = settings or ReviewSettings()
        self._clock = clock

    def review_all(self) -> ReviewReport:
        report = ReviewReport("schedule")
        with _permanent_errors_into(report):
            self._review(self._find_services(), report)
        return report

    def review_for_alarm(self, alarm_name: str) -> ReviewReport:
        """Only the reviewed services whose scaling the alarm drives (through its actions or metric)."""
        # The name is CloudWatch's own, checked at the event's boundary (events.parse_review_trigger
        # refuses one past the 255 characters of the AlarmName shape).
        report = ReviewReport(f"alarm {alarm_name}")
        with _permanent_errors_into(report):
            registered = self._find_services()
            concerned: set[str] = set()
            for alarm in self._cloudwatch.alarms_by_name([alarm_name]):
                actions = [*alarm.get("AlarmActions", []), *alarm.get("OKActions", [])]
                for action in [*actions, *alarm.get("InsufficientDataActions", [])]:
                    if ":resource/ecs/service/" in action:
                        path = action.split(":resource/ecs/", 1)[1].split(":policyName/", 1)[0]
                        concerned |= {arn for arn in registered if resource_id(arn) == path}
                dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
                if "ServiceName" in dims:
                    concerned |= {arn for arn in registered if arn.endswith(f"/{dims['ServiceName']}")}
            self._review({arn: registered[arn] for arn in sorted(concerned)}, report)
        return report

    def _review(self, registered: dict[str, dict[str, str]], report: ReviewReport) -> None:
        modes: dict[str, tuple[ReviewMode, ReviewSettings]] = {}
        for arn, tags in registered.items():
            try:
                modes[arn] = parse_settings(tags, self._settings)
            except MisconfiguredTarget as exc:
                report.skipped.append(f"{arn}: {exc}")
        if not modes:
            return
        now = self._clock()
        services = self._services.describe(modes)
        for arn in modes:
            if arn not in services:
                report.skipped.append(f"{arn}: the service no longer exists")
        arns = [a for a in modes if a in services]
        histories = self._log.histories(arns)
        readings = self._reader.read({a: services[a] for a in arns}, histories, now)

        writes: list[dict[str, Any]] = []
        for arn in arns:
            service, reading = services[arn], readings[arn]
            mode, settings = modes[arn]
            rid = resource_id(arn)
            inputs = ReviewInputs(
                service_arn=arn,
                cluster=rid.split("/")[1],
                service=service.name,
                mode=mode,
                now=now,
                desired=service.desired_count,
                running=service.running_count,
                pending=service.pending_count,
                cpu=reading.cpu,
                memory=reading.memory,
                service_events=service.timed_events,
                target=reading.target,
                policies=reading.policies,
                alarms=reading.alarms,
                activities=reading.activities,
                scheduled=reading.scheduled,
                history=histories.get(arn, ()),
                unseen=tuple(reading.unseen),
                blind=frozenset(reading.blind),
            )
            decision = review(inputs, settings)
            applied = self._act(report, service, inputs, decision)
            record = _record(inputs, decision, applied, report.trigger)
            writes.append(record)
            writes.append(_summary(inputs, decision, applied, settings))
            report.reviewed.append(Reviewed(arn, mode, decision, applied, record))
        self._log.write(writes)

    def _act(
        self, report: ReviewReport, service: ServiceState, inputs: ReviewInputs, decision: ScalingDecision
    ) -> bool:
        if inputs.mode is not ReviewMode.ACT or decision.decision is Decision.HOLD or decision.act_blocked:
            return False
        target = inputs.target
        if target is None or not target.minimum <= decision.recommended_count <= target.maximum:
            return False
        try:
            self._services.set_desired_count(service, decision.recommended_count)
        except AutodeployError as exc:
            report.errors.append(f"{service.arn}: {exc}")
            return False
        return True


def _record(inputs: ReviewInputs, decision: ScalingDecision, applied: bool, trigger: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "service": inputs.service_arn,
        "sk": f"{REVIEW_PREFIX}{inputs.now.isoformat()}",
        "reviewed_at": inputs.now.isoformat(),
        "service_name": f"{inputs.cluster}/{inputs.service}",
        "decision": decision.decision.value,
        "current_count": decision.current_count,
        "recommended_count": decision.recommended_count,
        "native": decision.native,
        "reason": decision.reason,
        "alarms": decision.alarms,
        "findings": list(decision.findings),
        "unseen": list(decision.unseen),
        "mode": inputs.mode.value,
        "applied": applied,
        "diverges": decision.diverges,
        "trigger": trigger,
        "inputs": decision.inputs,
    }
    if decision.act_blocked and inputs.mode is ReviewMode.ACT and decision.decision is not Decision.HOLD:
        record["not_applied_because"] = decision.act_blocked
    return record


def _summary(
    inputs: ReviewInputs, decision: ScalingDecision, applied: bool, settings: ReviewSettings
) -> dict[str, Any]:
    latest = PastDecision(inputs.now, decision.decision, applied, decision.recommended_count, inputs.desired)
    return {
        "service": inputs.service_arn,
        "sk": SUMMARY,
        "updated_at": inputs.now.isoformat(),
        "history": summarize_history([*inputs.history, latest], inputs.now, settings.flap_window_minutes),
    }


@contextmanager
def _permanent_errors_into(report: ReviewReport) -> Iterator[None]:
    """A permanent AWS error (AccessDenied, a bad name) ends the review in its report, never as an
    exception: no retry can fix it. Retryable ones propagate so Lambda retries."""
    try:
        yield
    except PermanentError as exc:
        report.errors.append(str(exc))
