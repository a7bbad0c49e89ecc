"""The scaling review's inputs and outcome: views of what AWS says about a service, and the decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from autodeploy.scaling.step_policy import ScalingActivity, StepPolicy


class Decision(StrEnum):
    SCALE_OUT = "SCALE_OUT"
    SCALE_IN = "SCALE_IN"
    HOLD = "HOLD"


class ReviewMode(StrEnum):
    OBSERVE = "observe"
    ACT = "act"


@dataclass(frozen=True, slots=True)
class Datapoint:
    at: datetime  # the start of the period, as GetMetricData labels it
    value: float


Series = tuple[Datapoint, ...]  # oldest first


def values(series: Sequence[Datapoint]) -> tuple[float, ...]:
    return tuple(p.value for p in series)


def invokes(action: str, policy_arn: str) -> bool:
    """Whether an alarm action runs this policy: its ARN, or (target tracking) ``<ARN>:createdBy/<id>``."""
    return action == policy_arn or action.startswith(f"{policy_arn}:createdBy/")


@dataclass(frozen=True, slots=True)
class AlarmView:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    namespace: str
    metric: str  # for a metric-math or anomaly-detection alarm: the id of the series it compares
    dimensions: dict[str, str]
    statistic: str  # Statistic, or ExtendedStatistic (p90, tm99...) as the alarm reads it
    threshold: float | None  # None: an anomaly band whose value could not be read
    comparison: str
    period: int
    evaluation_periods: int
    actions: tuple[str, ...]  # AlarmActions, run in ALARM
    datapoints: Series = ()  # the alarm's own metric (or expression), as it reads it
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    actions_enabled: bool = True
    math: bool = False  # metric math or anomaly detection (Metrics, ThresholdMetricId)

    @property
    def scales_out(self) -> bool:
        return "Greater" in self.comparison

    def invokes(self, policy_arn: str) -> bool:
        """Some state of the alarm runs the policy."""
        every = (*self.actions, *self.ok_actions, *self.insufficient_data_actions)
        return any(invokes(a, policy_arn) for a in every)

    def triggers_now(self, policy_arn: str) -> bool:
        """The alarm's current state runs the policy (and its actions are enabled)."""
        by_state = {"ALARM": self.actions, "OK": self.ok_actions, "INSUFFICIENT_DATA": self.insufficient_data_actions}
        return self.actions_enabled and any(invokes(a, policy_arn) for a in by_state.get(self.state, ()))


@dataclass(frozen=True, slots=True)
class TargetTracking:
    """A target-tracking policy: the metric it holds at ``target``; the reviewer uses its target."""

    name: str
    metric: str  # a predefined type (ECSServiceAverageCPUUtilization...), namespace/metric, or metric math <label>
    target: float
    disable_scale_in: bool = False
    datapoints: Series = ()


@dataclass(frozen=True, slots=True)
class PolicyView:
    arn: str
    policy: StepPolicy | None  # None: not a step policy (target tracking, say)
    kind: str = "StepScaling"
    tracking: TargetTracking | None = None


@dataclass(frozen=True, slots=True)
class ScalableTargetView:
    minimum: int
    maximum: int
    suspended_out: bool = False
    suspended_in: bool = False


@dataclass(frozen=True, slots=True)
class ScheduledChange:
    """A scheduled action's next run and the bounds it sets (None: that bound unchanged)."""

    name: str
    at: datetime
    minimum: int | None
    maximum: int | None


@dataclass(frozen=True, slots=True)
class PastDecision:
    at: datetime
    decision: Decision
    applied: bool
    recommended: int
    count: int | None = None  # the desired count the review saw


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    """Defaults; a service overrides some with ``autodeploy:scaling-*`` tags (``scaling.settings``)."""

    target_ratio: float = 0.8  # aim at this share of a scale-out alarm's threshold
    default_target: float = 50.0  # CPU %, when no alarm or target-tracking policy says otherwise
    target: float | None = None  # CPU and memory target %, from autodeploy:scaling-target
    tolerance: float = 0.1  # no change for a load within 10% of the target
    stabilization_minutes: int = 10  # scale in to the highest need over this window
    scale_in_max_percent: int = 50  # remove at most this share of the tasks in one review
    window_minutes: int = 15
    stale_periods: int = 3  # a series with no point in the last 3 periods is missing data
    flap_window_minutes: int = 60
    flap_changes: int = 3
    default_cooldown_seconds: int = 300
    schedule_horizon_minutes: int = 30  # a scheduled change this close is not worked against
    # Memory no policy scales on (``scaling.signals``): counted only once it moved with the load,
    # scaled out on only from this level, and then by at most ``memory_step_percent`` of the tasks.
    memory_high: float = 85.0
    memory_min_swing: float = 10.0  # percentage points over the window: less is flat
    memory_min_correlation: float = 0.8  # with CPU, minute by minute over the window
    memory_min_points: int = 5
    memory_step_percent: int = 50


@dataclass(frozen=True, slots=True)
class ReviewInputs:
    service_arn: str
    cluster: str
    service: str
    mode: ReviewMode
    now: datetime
    desired: int
    running: int
    pending: int
    cpu: Series  # the service's CPUUtilization (ClusterName+ServiceName), per minute
    memory: Series = ()  # the service's MemoryUtilization (ECS publishes it for every service)
    service_events: tuple[tuple[datetime, str], ...] = ()  # newest first
    target: ScalableTargetView | None = None
    policies: tuple[PolicyView, ...] = ()
    alarms: tuple[AlarmView, ...] = ()
    activities: tuple[ScalingActivity, ...] | None = None  # None: not visible
    scheduled: tuple[ScheduledChange, ...] = ()
    history: tuple[PastDecision, ...] = ()
    unseen: tuple[str, ...] = ()  # what the reads could not see, said by the use case
    blind: frozenset[str] = frozenset()  # inputs that failed to read: target, policies, alarms, metrics


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    decision: Decision
    current_count: int
    recommended_count: int
    native: dict[str, Any]
    reason: str
    alarms: dict[str, str]
    findings: tuple[str, ...]
    unseen: tuple[str, ...]
    act_blocked: str | None  # why act mode must not apply it (None: it may)
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def diverges(self) -> bool:
        """The native policy and the recommendation disagree on the desired count."""
        return int(self.native.get("new_desired", self.current_count)) != self.recommended_count


_HISTORY_CAP = 1500  # a day of one review a minute, well under DynamoDB's 400 KB item


def summarize_history(history: Sequence[PastDecision], now: datetime, keep_minutes: int) -> list[dict[str, Any]]:
    """The decisions of the last ``keep_minutes`` (the flap window), so that window is really covered."""
    since = now - timedelta(minutes=keep_minutes)
    kept = sorted((p for p in history if p.at >= since), key=lambda p: p.at)[-_HISTORY_CAP:]
    return [
        {
            "at": p.at.isoformat(),
            "decision": p.decision.value,
            "applied": p.applied,
            "recommended": p.recommended,
            **({"count": p.count} if p.count is not None else {}),
        }
        for p in kept
    ]
