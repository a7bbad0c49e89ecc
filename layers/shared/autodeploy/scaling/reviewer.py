"""Use case: review the scaling of every service tagged ``autodeploy:scaling-review``.

Everything is read in batches (DescribeServices by 10, DescribeScalableTargets by 50, the
namespace's policies and the account's alarms in paginated listings, one GetMetricData for up to
500 series, decision summaries by 100, writes by 25), so a review's cost grows with the number of
services divided by the batch sizes. Each service gets one decision record; in act mode the
recommendation is applied when the review allows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from autodeploy.adapters.autoscaling import AutoScalingReader, ServicePolicies, resource_id
from autodeploy.adapters.cloudwatch import CloudWatchReader, MetricQuery
from autodeploy.adapters.decision_log import REVIEW_PREFIX, SUMMARY, DecisionLog
from autodeploy.adapters.ecs import EcsServices, ServiceState
from autodeploy.errors import AutodeployError
from autodeploy.scaling.models import (
    AlarmView,
    Decision,
    PastDecision,
    ReviewInputs,
    ReviewMode,
    ReviewSettings,
    ScalingDecision,
    summarize_history,
)
from autodeploy.scaling.review import review

_LOOKBACK = timedelta(minutes=20)


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
        find_services: Callable[[], dict[str, str]],
        services: EcsServices,
        autoscaling: AutoScalingReader,
        cloudwatch: CloudWatchReader,
        log: DecisionLog,
        settings: ReviewSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._find_services = find_services
        self._services = services
        self._autoscaling = autoscaling
        self._cloudwatch = cloudwatch
        self._log = log
        self._settings = settings or ReviewSettings()
        self._clock = clock

    def review_all(self) -> ReviewReport:
        return self._review(self._registered(), "schedule")

    def review_for_alarm(self, alarm_name: str) -> ReviewReport:
        """Only the reviewed services whose scaling the alarm drives (through its actions or metric)."""
        registered = self._registered()
        concerned: set[str] = set()
        for alarm in self._cloudwatch.alarms_by_name([alarm_name]):
            for action in alarm.get("AlarmActions", []):
                if ":resource/ecs/service/" in action:
                    path = action.split(":resource/ecs/", 1)[1].split(":policyName/", 1)[0]
                    concerned |= {arn for arn in registered if resource_id(arn) == path}
            dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            if "ServiceName" in dims:
                concerned |= {arn for arn in registered if arn.endswith(f"/{dims['ServiceName']}")}
        return self._review({arn: registered[arn] for arn in sorted(concerned)}, f"alarm {alarm_name}")

    def _registered(self) -> dict[str, str]:
        return self._find_services()

    def _review(self, registered: dict[str, str], trigger: str) -> ReviewReport:
        report = ReviewReport(trigger)
        modes: dict[str, ReviewMode] = {}
        for arn, tagged in registered.items():
            try:
                modes[arn] = ReviewMode(tagged or "observe")
            except ValueError:
                report.skipped.append(f"{arn}: autodeploy:scaling-review={tagged!r}: expected 'observe' or 'act'")
        if not modes:
            return report
        now = self._clock()
        services = self._services.describe(modes)
        for arn in modes:
            if arn not in services:
                report.skipped.append(f"{arn}: the service no longer exists")
        arns = [a for a in modes if a in services]
        rids = [resource_id(a) for a in arns]
        targets = self._autoscaling.scalable_targets(rids)
        policies = self._autoscaling.policies(rids)
        alarms = self._alarms(policies)
        cooldowns = {v.policy.name: v.policy.cooldown_seconds for p in policies.values() for v in p.views if v.policy}
        activities = self._autoscaling.recent_activities(rids, cooldowns)
        own_alarms = {arn: _alarms_of(policies.get(resource_id(arn)), alarms) for arn in arns}
        series = self._series(arns, services, own_alarms, now)
        histories = self._log.histories(arns)

        writes: list[dict[str, Any]] = []
        for index, arn in enumerate(arns):
            service = services[arn]
            rid = resource_id(arn)
            service_alarms = tuple(
                _alarm_view(a, series.get(f"a{index}_{n}", [])) for n, a in enumerate(own_alarms[arn])
            )
            inputs = ReviewInputs(
                service_arn=arn,
                cluster=rid.split("/")[1],
                service=service.name,
                mode=modes[arn],
                now=now,
                desired=service.desired_count,
                running=service.running_count,
                pending=service.pending_count,
                cpu=tuple(series.get(f"cpu{index}", [])),
                service_events=service.events,
                target=targets.get(rid),
                policies=tuple(policies[rid].views) if rid in policies else (),
                alarms=service_alarms,
                activities=None if activities is None else tuple(activities.get(rid, [])),
                history=histories.get(arn, ()),
            )
            decision = review(inputs, self._settings)
            applied = self._act(report, service, inputs, decision)
            record = _record(inputs, decision, applied, trigger)
            writes.append(record)
            writes.append(_summary(inputs, decision, applied))
            report.reviewed.append(Reviewed(arn, modes[arn], decision, applied, record))
        self._log.write(writes)
        return report

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

    def _alarms(self, policies: dict[str, ServicePolicies]) -> list[Any]:
        names = [n for p in policies.values() for n in p.alarm_names]
        if all(p.alarms_listed for p in policies.values()):
            return list(self._cloudwatch.alarms_by_name(names)) if names else []
        # moto lists no alarms on policies (EMULATOR.md); find them by their actions instead, which AWS allows too.
        arns = {v.arn for p in policies.values() for v in p.views}
        return list(self._cloudwatch.alarms_acting_on(arns)) if arns else []

    def _series(
        self, arns: list[str], services: dict[str, ServiceState], alarms: dict[str, list[Any]], now: datetime
    ) -> dict[str, list[float]]:
        """Each service's CPU under the right dimensions, and each of its alarms' own metric as configured."""
        queries = [
            MetricQuery(
                f"cpu{i}",
                "AWS/ECS",
                "CPUUtilization",
                {"ClusterName": resource_id(arn).split("/")[1], "ServiceName": services[arn].name},
                "Average",
                60,
            )
            for i, arn in enumerate(arns)
        ]
        for i, arn in enumerate(arns):
            for n, alarm in enumerate(alarms[arn]):
                queries.append(
                    MetricQuery(
                        f"a{i}_{n}",
                        alarm.get("Namespace", ""),
                        alarm.get("MetricName", ""),
                        {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                        alarm.get("Statistic", "Average"),
                        int(alarm.get("Period", 60)),
                    )
                )
        return self._cloudwatch.series(queries, now - _LOOKBACK, now)


def _alarms_of(policies: ServicePolicies | None, alarms: list[Any]) -> list[Any]:
    arns = {v.arn for v in policies.views} if policies else set()
    return [a for a in alarms if arns & set(a.get("AlarmActions", []))]


def _alarm_view(alarm: Any, datapoints: list[float]) -> AlarmView:
    return AlarmView(
        name=alarm["AlarmName"],
        state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
        namespace=alarm.get("Namespace", ""),
        metric=alarm.get("MetricName", ""),
        dimensions={d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
        statistic=alarm.get("Statistic", "Average"),
        threshold=float(alarm.get("Threshold", 0)),
        comparison=alarm.get("ComparisonOperator", ""),
        period=int(alarm.get("Period", 60)),
        evaluation_periods=int(alarm.get("EvaluationPeriods", 1)),
        actions=tuple(alarm.get("AlarmActions", [])),
        datapoints=tuple(datapoints),
    )


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


def _summary(inputs: ReviewInputs, decision: ScalingDecision, applied: bool) -> dict[str, Any]:
    latest = PastDecision(inputs.now, decision.decision, applied, decision.recommended_count)
    return {
        "service": inputs.service_arn,
        "sk": SUMMARY,
        "updated_at": inputs.now.isoformat(),
        "history": summarize_history([*inputs.history, latest]),
    }
