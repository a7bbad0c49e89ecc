"""The scaling review's inputs and outcome: views of what AWS says about a service, and the decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
class AlarmView:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    namespace: str
    metric: str
    dimensions: dict[str, str]
    statistic: str
    threshold: float
    comparison: str
    period: int
    evaluation_periods: int
    actions: tuple[str, ...]
    datapoints: tuple[float, ...] = ()  # the alarm's own metric, oldest first

    @property
    def scales_out(self) -> bool:
        return self.comparison in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")


@dataclass(frozen=True, slots=True)
class PolicyView:
    arn: str
    policy: StepPolicy | None  # None: not a step policy (target tracking, say)
    kind: str = "StepScaling"


@dataclass(frozen=True, slots=True)
class ScalableTargetView:
    minimum: int
    maximum: int
    suspended_out: bool = False
    suspended_in: bool = False


@dataclass(frozen=True, slots=True)
class PastDecision:
    at: datetime
    decision: Decision
    applied: bool
    recommended: int


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    target_ratio: float = 0.8  # aim at this share of the scale-out alarm's threshold
    default_target: float = 50.0  # when no CPU alarm says otherwise
    scale_in_ratio: float = 0.5  # "well under": every datapoint below this share of the target
    window_minutes: int = 15
    flap_window_minutes: int = 60
    flap_changes: int = 3
    default_cooldown_seconds: int = 300


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
    cpu: tuple[float, ...]  # the service's CPUUtilization (ClusterName+ServiceName), per minute, oldest first
    service_events: tuple[str, ...] = ()
    target: ScalableTargetView | None = None
    policies: tuple[PolicyView, ...] = ()
    alarms: tuple[AlarmView, ...] = ()
    activities: tuple[ScalingActivity, ...] | None = None  # None: not visible
    history: tuple[PastDecision, ...] = ()


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


def summarize_history(history: Sequence[PastDecision], keep: int = 30) -> list[dict[str, Any]]:
    return [
        {"at": p.at.isoformat(), "decision": p.decision.value, "applied": p.applied, "recommended": p.recommended}
        for p in sorted(history, key=lambda p: p.at)[-keep:]
    ]
