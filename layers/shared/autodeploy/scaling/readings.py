"""What the review reads from AWS for a batch of services, each failure kept with the service it blinds.

Batched where AWS allows (DescribeScalableTargets by 50, the namespace's policies in one paginated
listing, alarms by 100 names, GetMetricData by 500 series); per service where it must
(DescribeScalingActivities by ResourceId; a metric-math alarm's own GetMetricData, whose ids are
the alarm's). A failed read is recorded in the ``unseen`` of the services it concerns and marks
the input ``blind`` there; every other service is still reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from autodeploy.adapters.autoscaling import (
    AutoScalingReader,
    ServicePolicies,
    interpret_activities,
    resource_id,
    tracked_id,
)
from autodeploy.adapters.cloudwatch import CloudWatchReader, MetricQuery
from autodeploy.adapters.ecs import ServiceState
from autodeploy.errors import AutodeployError, RetryableError
from autodeploy.scaling.models import (
    AlarmView,
    Datapoint,
    PastDecision,
    PolicyView,
    ReviewSettings,
    ScalableTargetView,
    ScheduledChange,
    Series,
    invokes,
)
from autodeploy.scaling.schedule import next_run
from autodeploy.scaling.step_policy import ScalingActivity

LOOKBACK = timedelta(minutes=20)


@dataclass(slots=True)
class ServiceReadings:
    target: ScalableTargetView | None = None
    policies: tuple[PolicyView, ...] = ()
    alarms: tuple[AlarmView, ...] = ()
    activities: tuple[ScalingActivity, ...] | None = None
    scheduled: tuple[ScheduledChange, ...] = ()
    cpu: Series = ()
    memory: Series = ()
    unseen: list[str] = field(default_factory=list)
    blind: set[str] = field(default_factory=set)


class ScalingReader:
    def __init__(self, autoscaling: AutoScalingReader, cloudwatch: CloudWatchReader) -> None:
        self._autoscaling = autoscaling
        self._cloudwatch = cloudwatch

    def read(
        self,
        services: dict[str, ServiceState],
        histories: dict[str, tuple[PastDecision, ...]],
        now: datetime,
    ) -> dict[str, ServiceReadings]:
        arns = list(services)
        readings = {arn: ServiceReadings() for arn in arns}
        rids = {arn: resource_id(arn) for arn in arns}
        targets = self._guarded(
            readings, "target", "scalable targets", self._autoscaling.scalable_targets, list(rids.values())
        )
        policies = self._guarded(
            readings, "policies", "scaling policies", self._autoscaling.policies, list(rids.values())
        )
        for arn, rid in rids.items():
            readings[arn].target = (targets or {}).get(rid)
            readings[arn].policies = tuple(policies[rid].views) if policies and rid in policies else ()
        scheduled = self._guarded(
            readings, "scheduled", "scheduled actions", self._autoscaling.scheduled_actions, list(rids.values())
        )
        for arn, rid in rids.items():
            readings[arn].scheduled = _scheduled_changes(readings[arn], (scheduled or {}).get(rid, []), now)
        raw_alarms = self._alarms(readings, rids, policies or {})
        self._activities(readings, rids, histories, now)
        self._series(readings, services, rids, raw_alarms, policies or {}, now)
        return readings

    @staticmethod
    def _guarded(readings: dict[str, ServiceReadings], input_name: str, what: str, read: Any, *args: Any) -> Any:
        try:
            return read(*args)
        except AutodeployError as exc:
            for reading in readings.values():
                reading.unseen.append(f"{what}: {exc}")
                reading.blind.add(input_name)
            return None

    def _alarms(
        self, readings: dict[str, ServiceReadings], rids: dict[str, str], policies: dict[str, ServicePolicies]
    ) -> dict[str, list[dict[str, Any]]]:
        """Each service's alarms as DescribeAlarms gives them; one bad name or call blinds only its service."""
        found: dict[str, list[dict[str, Any]]] = {arn: [] for arn in rids}
        listed = all(p.alarms_listed for p in policies.values())
        if not listed:
            # moto lists no alarms on policies (EMULATOR.md); find them by their actions, which AWS allows too.
            arns = {v.arn for p in policies.values() for v in p.views}
            every = self._guarded(readings, "alarms", "alarms", self._cloudwatch.alarms_acting_on, arns) if arns else []
            for arn, rid in rids.items():
                own = [v.arn for v in policies[rid].views] if rid in policies else []
                found[arn] = [dict(a) for a in every or [] if _acts_on(a, own)]
            return found
        # Names as Application Auto Scaling lists them: CloudWatch's own, so within its limits. A name
        # DescribeAlarms refuses anyway (ValidationError) blinds only its service, read one by one below.
        names = {arn: list(policies[rid].alarm_names) if rid in policies else [] for arn, rid in rids.items()}
        try:
            by_name = {
                a["AlarmName"]: dict(a) for a in self._cloudwatch.alarms_by_name(n for v in names.values() for n in v)
            }
        except AutodeployError:
            by_name = {}
            for arn, wanted in names.items():  # one call per service, so the bad one is found
                try:
                    by_name |= {a["AlarmName"]: dict(a) for a in self._cloudwatch.alarms_by_name(wanted)}
                except AutodeployError as exc:
                    readings[arn].unseen.append(f"alarms: {exc}")
                    readings[arn].blind.add("alarms")
        for arn, wanted in names.items():
            found[arn] = [by_name[n] for n in wanted if n in by_name]
        return found

    def _activities(
        self,
        readings: dict[str, ServiceReadings],
        rids: dict[str, str],
        histories: dict[str, tuple[PastDecision, ...]],
        now: datetime,
    ) -> None:
        for arn, rid in rids.items():
            reading = readings[arn]
            if reading.target is None:
                continue
            steps = [v.policy for v in reading.policies if v.policy is not None]
            cooldowns = {p.name: p.cooldown_seconds for p in steps}
            since = now - max(LOOKBACK, timedelta(seconds=max(cooldowns.values(), default=0)))
            try:
                raw = self._autoscaling.activities(rid, since)
            except RetryableError as exc:
                reading.unseen.append(f"scaling activities (DescribeScalingActivities did not answer): {exc}")
                continue
            except AutodeployError as exc:
                reading.unseen.append(f"scaling activities: {exc}")
                continue
            interpreted = interpret_activities(raw, cooldowns, histories.get(arn, ()), since)
            reading.activities = tuple(interpreted.changes)
            reading.unseen.extend(interpreted.unseen)

    def _series(
        self,
        readings: dict[str, ServiceReadings],
        services: dict[str, ServiceState],
        rids: dict[str, str],
        raw_alarms: dict[str, list[dict[str, Any]]],
        policies: dict[str, ServicePolicies],
        now: datetime,
    ) -> None:
        """The service's CPU and memory, each alarm's metric as it reads it, and each target-tracking
        policy's metric: plain ones batched, metric math per alarm. Memory is read even where no policy
        scales on it: the review counts it as a saturation signal when it moves with the load."""
        queries: list[MetricQuery] = []
        owner: dict[str, str] = {}  # a target-tracking query's policy
        for i, arn in enumerate(rids):
            dims = {"ClusterName": rids[arn].split("/")[1], "ServiceName": services[arn].name}
            queries.append(MetricQuery(f"cpu{i}", "AWS/ECS", "CPUUtilization", dims, "Average", 60))
            queries.append(MetricQuery(f"mem{i}", "AWS/ECS", "MemoryUtilization", dims, "Average", 60))
            for n, alarm in enumerate(raw_alarms[arn]):
                if "MetricName" in alarm:
                    stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic", "Average")
                    alarm_dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
                    queries.append(
                        MetricQuery(
                            f"a{i}_{n}",
                            alarm["Namespace"],
                            alarm["MetricName"],
                            alarm_dims,
                            stat,
                            int(alarm.get("Period", 60)),
                        )
                    )
            rid = rids[arn]
            for p, (policy_arn, stat) in enumerate((policies[rid].tracked_metrics if rid in policies else {}).items()):
                metric = stat["Metric"]
                tracked_dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                query_id = f"t{i}_{p}"
                owner[query_id] = policy_arn
                queries.append(
                    MetricQuery(query_id, metric["Namespace"], metric["MetricName"], tracked_dims, stat["Stat"], 60)
                )
        read = self._cloudwatch.series(queries, now - LOOKBACK, now)
        described = {q.id: f"{q.namespace} {q.metric} {q.statistic}" for q in queries}
        for i, arn in enumerate(rids):
            reading = readings[arn]
            own_ids = {f"cpu{i}", f"mem{i}"} | {q for q in described if q.startswith((f"a{i}_", f"t{i}_"))}
            for query_id in sorted(own_ids & set(read.errors)):
                reading.unseen.append(f"metric {described[query_id]}: {read.errors[query_id]}")
                reading.blind.add("metrics")
            reading.cpu = _points(read.values.get(f"cpu{i}", []))
            reading.memory = _points(read.values.get(f"mem{i}", []))
            views = []
            for n, alarm in enumerate(raw_alarms[arn]):
                if "MetricName" in alarm:
                    views.append(_alarm_view(alarm, _points(read.values.get(f"a{i}_{n}", [])), _threshold(alarm)))
                else:
                    views.append(self._math_alarm(reading, alarm, now))
            reading.alarms = tuple(views)
            tracked = {owner[q]: _points(v) for q, v in read.values.items() if q.startswith(f"t{i}_")}
            rid = rids[arn]
            for policy_arn, math in (policies[rid].tracked_math if rid in policies else {}).items():
                tracked[policy_arn] = self._math_tracking(reading, policy_arn, math, now)
            reading.policies = tuple(
                replace(v, tracking=replace(v.tracking, datapoints=tracked.get(v.arn, ()))) if v.tracking else v
                for v in reading.policies
            )

    def _math_tracking(
        self, reading: ServiceReadings, policy_arn: str, queries: list[dict[str, Any]], now: datetime
    ) -> Series:
        """A target-tracking policy's metric math, evaluated through its own GetMetricData expressions."""
        try:
            read = self._cloudwatch.expression_series(queries, now - LOOKBACK, now)  # type: ignore[arg-type]
        except AutodeployError as exc:
            name = policy_arn.rsplit("policyName/", 1)[-1]
            reading.unseen.append(f"target-tracking policy {name}: its metric math could not be read: {exc}")
            return ()
        final = tracked_id(queries)
        if final in read.errors:
            name = policy_arn.rsplit("policyName/", 1)[-1]
            reading.unseen.append(f"target-tracking policy {name}: its metric math: {read.errors[final]}")
        return _points(read.values.get(final, []))

    def _math_alarm(self, reading: ServiceReadings, alarm: dict[str, Any], now: datetime) -> AlarmView:
        """A metric-math or anomaly-detection alarm, evaluated through its own GetMetricData expressions."""
        metrics = [dict(m) for m in alarm.get("Metrics", [])]
        band_id = alarm.get("ThresholdMetricId")
        compared = next((m["Id"] for m in metrics if m.get("ReturnData", True) and m["Id"] != band_id), None)
        queries = [{**m, "ReturnData": m["Id"] in (compared, band_id)} for m in metrics]
        try:
            read = self._cloudwatch.expression_series(queries, now - LOOKBACK, now)  # type: ignore[arg-type]
        except AutodeployError as exc:
            reading.unseen.append(f"alarm {alarm['AlarmName']}: its metric math could not be read: {exc}")
            return _alarm_view(alarm, (), _threshold(alarm), compared or "")
        threshold = _threshold(alarm)
        if band_id:
            threshold = _band_edge(read.bands.get(band_id, []), alarm.get("ComparisonOperator", ""))
            if threshold is None:
                reading.unseen.append(f"alarm {alarm['AlarmName']}: its anomaly band {band_id} returned no data")
        return _alarm_view(alarm, _points(read.values.get(compared or "", [])), threshold, compared or "")


def _scheduled_changes(
    reading: ServiceReadings, actions: list[dict[str, Any]], now: datetime
) -> tuple[ScheduledChange, ...]:
    """The scheduled actions that run within the horizon; one this module cannot read is said."""
    horizon = timedelta(minutes=ReviewSettings().schedule_horizon_minutes)
    changes = []
    for action in actions:
        if action.get("EndTime") and action["EndTime"] < now:
            continue
        try:
            at = next_run(
                action["Schedule"],
                now,
                horizon,
                action.get("StartTime"),
                action.get("CreationTime"),
                action.get("Timezone"),
            )
        except (ValueError, KeyError) as exc:
            reading.unseen.append(f"scheduled action {action.get('ScheduledActionName', '?')}: {exc}")
            continue
        if at is not None:
            bounds = action.get("ScalableTargetAction", {})
            changes.append(
                ScheduledChange(action["ScheduledActionName"], at, bounds.get("MinCapacity"), bounds.get("MaxCapacity"))
            )
    return tuple(changes)


def _acts_on(alarm: Any, policy_arns: list[str]) -> bool:
    actions = [*alarm.get("AlarmActions", []), *alarm.get("OKActions", []), *alarm.get("InsufficientDataActions", [])]
    return any(invokes(a, p) for a in actions for p in policy_arns)


def _points(raw: list[tuple[datetime, float]]) -> Series:
    return tuple(Datapoint(at, value) for at, value in sorted(raw))


def _threshold(alarm: dict[str, Any]) -> float | None:
    return float(alarm["Threshold"]) if "Threshold" in alarm else None


def _band_edge(results: list[list[tuple[datetime, float]]], comparison: str) -> float | None:
    """The band's latest edge the alarm compares with: upper for Greater..., lower for LessThanLower..."""
    latest = [max(r)[1] for r in results if r]
    if not latest:
        return None
    return max(latest) if "Greater" in comparison else min(latest)


def _alarm_view(alarm: dict[str, Any], datapoints: Series, threshold: float | None, compared: str = "") -> AlarmView:
    return AlarmView(
        name=alarm["AlarmName"],
        state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
        namespace=alarm.get("Namespace", ""),
        metric=alarm.get("MetricName", compared),
        dimensions={d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
        statistic=alarm.get("ExtendedStatistic") or alarm.get("Statistic", "Average"),
        threshold=threshold,
        comparison=alarm.get("ComparisonOperator", ""),
        period=int(alarm.get("Period", 60)),
        evaluation_periods=int(alarm.get("EvaluationPeriods", 1)),
        actions=tuple(alarm.get("AlarmActions", [])),
        datapoints=datapoints,
        ok_actions=tuple(alarm.get("OKActions", [])),
        insufficient_data_actions=tuple(alarm.get("InsufficientDataActions", [])),
        actions_enabled=bool(alarm.get("ActionsEnabled", True)),
        math="Metrics" in alarm,
    )
