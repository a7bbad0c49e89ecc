"""What is wrong with a service's scaling setup, in sentences a person can act on."""

from __future__ import annotations

from autodeploy.scaling.models import ReviewInputs

ECS_SERVICE_METRICS = frozenset({"CPUUtilization", "MemoryUtilization"})
SERVICE_DIMENSIONS = frozenset({"ClusterName", "ServiceName"})


def configuration_findings(inputs: ReviewInputs) -> list[str]:
    """What is wrong with the service's scaling setup, in sentences a person can act on."""
    return _target_findings(inputs) + _alarm_findings(inputs) + _policy_findings(inputs)


def _target_findings(inputs: ReviewInputs) -> list[str]:
    findings = []
    if inputs.target is None:
        if "target" not in inputs.blind:
            findings.append("no scalable target: Application Auto Scaling does not manage this service's desired count")
    else:
        if inputs.target.suspended_out:
            findings.append("dynamic scale-out is suspended on the scalable target")
        if inputs.target.suspended_in:
            findings.append("dynamic scale-in is suspended on the scalable target")
    return findings


def _alarm_findings(inputs: ReviewInputs) -> list[str]:
    findings = []
    for alarm in inputs.alarms:
        if alarm.namespace == "AWS/ECS" and alarm.metric in ECS_SERVICE_METRICS:
            keys = set(alarm.dimensions)
            if keys != SERVICE_DIMENSIONS:
                findings.append(
                    f"alarm {alarm.name} can never see data: ECS publishes service {alarm.metric} under the "
                    f"dimensions ClusterName and ServiceName, the alarm uses {', '.join(sorted(keys)) or 'none'}"
                )
            elif alarm.dimensions != {"ClusterName": inputs.cluster, "ServiceName": inputs.service}:
                findings.append(f"alarm {alarm.name} watches another service ({alarm.dimensions})")
        if alarm.state == "INSUFFICIENT_DATA" and not alarm.insufficient_data_actions:
            findings.append(f"alarm {alarm.name} is INSUFFICIENT_DATA: its policies cannot act")
        if not alarm.actions_enabled:
            findings.append(f"alarm {alarm.name} has ActionsEnabled=false: it runs none of its policies")
    return findings


def _policy_findings(inputs: ReviewInputs) -> list[str]:
    findings = []
    steps = [p.policy for p in inputs.policies if p.policy is not None]
    tracking_scales_in = any(v.tracking and not v.tracking.disable_scale_in for v in inputs.policies)
    if steps and not tracking_scales_in and not any(s.adjustment < 0 for p in steps for s in p.steps):
        findings.append(
            "no scale-in path: no policy lowers the desired count, so the service never shrinks after a peak"
        )
    for policy in steps:
        if (
            policy.adjustment_type.value == "ChangeInCapacity"
            and all(s.adjustment <= 1 for s in policy.steps)
            and any(s.adjustment == 1 for s in policy.steps)
            and inputs.target is not None
            and policy.cooldown_seconds >= 120
        ):
            room = max(0, inputs.target.maximum - inputs.desired)
            minutes = room * policy.cooldown_seconds // 60
            findings.append(
                f"policy {policy.name} adds one task per {policy.cooldown_seconds}s cooldown: reaching MaxCapacity "
                f"({inputs.target.maximum}) from {inputs.desired} takes about {minutes} minutes"
            )
    for view in inputs.policies:
        if view.tracking is not None:
            findings.append(
                f"policy {view.tracking.name} is target tracking ({view.tracking.metric} at {view.tracking.target:g}): "
                "not shadowed; the recommendation uses its target and act mode stands down"
            )
        elif view.policy is None:
            findings.append(f"policy {view.arn.rsplit('/', 1)[-1]} is {view.kind}: not shadowed")
    return findings
