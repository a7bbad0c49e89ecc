"""The simulated world of the closed-loop scaling benchmark: a service under load, its CloudWatch
alarms, AWS target tracking and an HPA-style reference. No product logic here, only its types (the
product's shadow and reviewer come in through `tools.scaling_product`); no emulator anywhere.

Plant model, one step a minute:

- Load is in task-units: one task fully busy carries 1.0. CPU% = 100 x load / running tasks,
  capped at 100 (a saturated service shows 100%, not more). On a memory-bound service memory% is
  that figure and CPU% a quarter of it; otherwise memory stays at 30% (the runtime's footprint),
  or, on a service whose memory is held by design (a JVM heap sized to its reservation), at the
  trace's own figure for the minute, whatever the load and the count.
- Raising the desired count launches tasks that run (and carry load) STARTUP_MINUTES later;
  lowering it cancels starting tasks first (newest first), then stops running ones at once.
- A task costs from its launch: task-minutes count running plus starting tasks.
- Each minute's datapoint (Period 60, Average) is visible to every controller at the end of that
  minute; a metric gap publishes nothing.
- CloudWatch alarms evaluate each minute over their last EvaluationPeriods datapoints, with
  DatapointsToAlarm = EvaluationPeriods and TreatMissingData missing: no datapoint in the range is
  INSUFFICIENT_DATA ("missing" in the CloudWatch user guide, "Configuring how CloudWatch alarms
  treat missing data"); otherwise ALARM only when every evaluation period has a breaching
  datapoint (a simplification: CloudWatch may look further back for missing points; here a gap
  keeps an N-of-N alarm out of ALARM). An alarm with an Auto Scaling action invokes it once per
  minute while it stays in ALARM (CloudWatch user guide, "Alarm actions").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from autodeploy.scaling.models import PastDecision, PolicyView, TargetTracking
from autodeploy.scaling.step_policy import AdjustmentType, Step, StepPolicy
from tools.template import ROOT, load_template

STARTUP_MINUTES = 2
MEMORY_BOUND_CPU_SHARE = 0.25
IDLE_MEMORY = 30.0
SATURATED = 90.0  # "minutes above 90%"
START = datetime(2026, 1, 1, tzinfo=UTC)
CLUSTER, SERVICE = "sim", "web"
SERVICE_ARN = f"arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}"
REFERENCE_STACK = ROOT / "stacks" / "service.yaml"

# Target tracking, Application Auto Scaling user guide ("How target tracking scaling for Application
# Auto Scaling works", "Define cooldown periods"): ECS services default to 300 s for both cooldowns;
# during a scale-out cooldown the capacity that scale-out added counts towards the next one; a
# scale-in cooldown blocks scale-in only. The managed alarms, as AWS creates them for ECS services
# (AlarmHigh: 3 of 3 one-minute datapoints above the target; AlarmLow: 15 of 15 below 90% of it),
# are as the issue states them: no page read here spells out those two figures.
TRACKING_COOLDOWN_SECONDS = 300
TRACKING_HIGH_PERIODS = 3
TRACKING_LOW_PERIODS = 15
TRACKING_LOW_RATIO = 0.9

HPA_TOLERANCE = 0.1
HPA_STABILIZATION_MINUTES = 5


def policy_arn(name: str) -> str:
    return (
        "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:00000000-0000-0000-0000-000000000000:"
        f"resource/ecs/service/{CLUSTER}/{SERVICE}:policyName/{name}"
    )


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    name: str
    metric: str  # CPUUtilization or MemoryUtilization (AWS/ECS, ClusterName + ServiceName)
    threshold: float
    comparison: str
    evaluation_periods: int
    policy_arn: str
    statistic: str = "Average"
    period: int = 60

    def breaches(self, value: float) -> bool:
        if self.comparison == "GreaterThanThreshold":
            return value > self.threshold
        if self.comparison == "GreaterThanOrEqualToThreshold":
            return value >= self.threshold
        if self.comparison == "LessThanThreshold":
            return value < self.threshold
        if self.comparison == "LessThanOrEqualToThreshold":
            return value <= self.threshold
        raise ValueError(f"alarm {self.name}: unsupported ComparisonOperator {self.comparison!r}")


@dataclass(frozen=True, slots=True)
class Scaling:
    """The service's scaling set-up: the scalable target, its policies and the alarms that invoke them."""

    minimum: int
    maximum: int
    policies: tuple[PolicyView, ...]
    alarms: tuple[AlarmSpec, ...]
    tracking_target: float | None = None  # a target tracking policy on average CPU, instead of step policies


def reference_stack_scaling(path: Path = REFERENCE_STACK) -> Scaling:
    """The step policies, alarms and capacity bounds of stacks/service.yaml, with its parameter defaults."""
    template = load_template(path)
    defaults = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    resources: dict[str, dict[str, Any]] = template["Resources"]

    def value(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return defaults[node["Ref"]]
        if isinstance(node, dict) and "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
            return str(node["Fn::Sub"]).replace("${ServiceName}", str(defaults["ServiceName"]))
        return node

    arns: dict[str, str] = {}
    policies: list[PolicyView] = []
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::ApplicationAutoScaling::ScalingPolicy":
            continue
        props = resource["Properties"]
        config = props["StepScalingPolicyConfiguration"]
        name = str(value(props["PolicyName"]))
        arns[logical] = policy_arn(name)
        steps = tuple(
            Step(int(s["ScalingAdjustment"]), s.get("MetricIntervalLowerBound"), s.get("MetricIntervalUpperBound"))
            for s in config["StepAdjustments"]
        )
        policies.append(
            PolicyView(
                arns[logical],
                StepPolicy(
                    name=name,
                    adjustment_type=AdjustmentType(config.get("AdjustmentType", "ChangeInCapacity")),
                    steps=steps,
                    cooldown_seconds=int(config.get("Cooldown", 0)),
                    aggregation=config.get("MetricAggregationType", "Average"),
                    min_adjustment_magnitude=config.get("MinAdjustmentMagnitude"),
                ),
            )
        )
    alarms = []
    for resource in resources.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        (action,) = props["AlarmActions"]
        alarms.append(
            AlarmSpec(
                name=str(value(props["AlarmName"])),
                metric=props["MetricName"],
                threshold=float(props["Threshold"]),
                comparison=props["ComparisonOperator"],
                evaluation_periods=int(props["EvaluationPeriods"]),
                policy_arn=arns[action["Ref"]],
                statistic=props.get("Statistic", "Average"),
                period=int(props.get("Period", 60)),
            )
        )
    target = resources["ScalableTarget"]["Properties"]
    return Scaling(int(value(target["MinCapacity"])), int(value(target["MaxCapacity"])), tuple(policies), tuple(alarms))


def target_tracking_scaling(minimum: int, maximum: int, target: float) -> Scaling:
    """A target tracking policy on ECSServiceAverageCPUUtilization and the two alarms AWS manages for it."""
    arn = policy_arn(f"{SERVICE}-cpu-tracking")
    prefix = f"TargetTracking-service/{CLUSTER}/{SERVICE}"
    return Scaling(
        minimum,
        maximum,
        (
            PolicyView(
                arn,
                None,
                kind="TargetTrackingScaling",
                tracking=TargetTracking(f"{SERVICE}-cpu-tracking", "ECSServiceAverageCPUUtilization", target),
            ),
        ),
        (
            AlarmSpec(
                f"{prefix}-AlarmHigh", "CPUUtilization", target, "GreaterThanThreshold", TRACKING_HIGH_PERIODS, arn
            ),
            AlarmSpec(
                f"{prefix}-AlarmLow",
                "CPUUtilization",
                target * TRACKING_LOW_RATIO,
                "LessThanThreshold",
                TRACKING_LOW_PERIODS,
                arn,
            ),
        ),
        tracking_target=target,
    )


@dataclass(slots=True)
class Plant:
    desired: int
    running: int
    starting: list[int] = field(default_factory=list)  # the minute each starting task begins to run
    startup_minutes: int = STARTUP_MINUTES

    def advance(self, minute: int) -> None:
        ready = [m for m in self.starting if m <= minute]
        self.running += len(ready)
        self.starting = [m for m in self.starting if m > minute]

    @property
    def provisioned(self) -> int:
        return self.running + len(self.starting)

    def set_desired(self, count: int, minute: int) -> None:
        if count > self.provisioned:
            self.starting.extend([minute + self.startup_minutes] * (count - self.provisioned))
        excess = self.provisioned - count
        while excess > 0 and self.starting:
            self.starting.remove(max(self.starting))
            excess -= 1
        self.running -= max(0, excess)
        self.desired = count

    def utilization(
        self, load: float, memory_bound: bool, held_memory: float | None = None
    ) -> tuple[float, float, float]:
        """(CPU%, memory%, the busier of the two) this minute; memory held by design is no saturation."""
        per_task = load / self.running if self.running else (math.inf if load > 0 else 0.0)
        busy = min(100.0, 100.0 * per_task)
        if memory_bound:
            return min(100.0, MEMORY_BOUND_CPU_SHARE * 100.0 * per_task), busy, busy
        return busy, IDLE_MEMORY if held_memory is None else held_memory, busy


@dataclass(frozen=True, slots=True)
class Activity:
    """A scaling activity of Application Auto Scaling (never the reviewer's own UpdateService)."""

    minute: int
    change: int
    policy: str
    count: int  # the desired count it set ("Setting desired count to N.")
    alarm: str  # the alarm whose ALARM state triggered it (the activity's Cause)


@dataclass(slots=True)
class Service:
    """Everything a controller may read or change: the plant, the published metrics, the record."""

    scaling: Scaling
    plant: Plant
    cpu: dict[int, float] = field(default_factory=dict)  # minute -> published datapoint
    memory: dict[int, float] = field(default_factory=dict)
    activities: list[Activity] = field(default_factory=list)
    changes: list[int] = field(default_factory=list)  # the signed change of every write that moved the count
    reviews: list[PastDecision] = field(default_factory=list)  # the reviewer's decision history
    summary: list[dict[str, Any]] = field(default_factory=list)  # its summary item's history, as last written

    def series(self, metric: str) -> dict[int, float]:
        return self.cpu if metric == "CPUUtilization" else self.memory

    def change_desired(self, count: int, minute: int) -> int:
        count = min(self.scaling.maximum, max(self.scaling.minimum, count))
        delta = count - self.plant.desired
        if delta:
            self.plant.set_desired(count, minute)
            self.changes.append(delta)
        return delta


Controller = Callable[[Service, int], None]


def at(minute: int) -> datetime:
    """The time a decision is taken at the end of ``minute`` (its datapoint is stamped at its start)."""
    return START + timedelta(minutes=minute + 1)


def window(series: dict[int, float], minute: int, periods: int) -> list[float]:
    return [series[m] for m in range(minute - periods + 1, minute + 1) if m in series]


def alarm_state(spec: AlarmSpec, series: dict[int, float], minute: int) -> str:
    values = window(series, minute, spec.evaluation_periods)
    if not values:
        return "INSUFFICIENT_DATA"
    breaching = sum(1 for v in values if spec.breaches(v))
    return "ALARM" if breaching >= spec.evaluation_periods else "OK"


def target_tracking(service: Service, minute: int) -> None:
    """A target tracking policy on average CPU, by the rules in the module's header."""
    target = service.scaling.tracking_target
    if target is None:
        return
    high, low = service.scaling.alarms
    current = service.plant.desired
    policy = high.policy_arn.rsplit("/", 1)[-1]
    cooling = [a for a in service.activities if minute - a.minute < TRACKING_COOLDOWN_SECONDS // 60]
    if alarm_state(high, service.cpu, minute) == "ALARM":
        latest = window(service.cpu, minute, 1)[-1]
        added = sum(a.change for a in cooling if a.change > 0)
        wanted = math.ceil((current - added) * latest / target)
        if wanted > current and (delta := service.change_desired(wanted, minute)):
            service.activities.append(Activity(minute, delta, policy, current + delta, high.name))
    elif alarm_state(low, service.cpu, minute) == "ALARM":
        if any(a.change < 0 for a in cooling):
            return
        wanted = math.ceil(current * max(window(service.cpu, minute, low.evaluation_periods)) / target)
        if wanted < current and (delta := service.change_desired(wanted, minute)):
            service.activities.append(Activity(minute, delta, policy, current + delta, low.name))


@dataclass(slots=True)
class HpaReference:
    """The issue's HPA-style reference: ceil(running x utilization / target) for each metric (CPU and
    memory; the larger wins, as Kubernetes does with several metrics), no change within 10% of the
    target, scale-up at once, scale-down to the highest recommendation of the last 5 minutes. No
    datapoint this minute: no change (the HPA skips a metric it cannot read)."""

    target: float
    recommendations: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, service: Service, minute: int) -> None:
        if minute not in service.cpu:
            return
        current = service.plant.desired
        proposals = []
        for utilization in (service.cpu[minute], service.memory[minute]):
            ratio = utilization / self.target
            proposals.append(current if abs(ratio - 1) <= HPA_TOLERANCE else math.ceil(service.plant.running * ratio))
        proposal = min(service.scaling.maximum, max(service.scaling.minimum, *proposals))
        recent = [(m, r) for m, r in self.recommendations if minute - m < HPA_STABILIZATION_MINUTES]
        self.recommendations = [*recent, (minute, proposal)]
        stabilized = proposal if proposal >= current else min(current, max(r for _, r in self.recommendations))
        service.change_desired(stabilized, minute)
