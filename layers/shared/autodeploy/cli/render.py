"""What the CLI prints: tables, a target's state, rollout progress. One name per target, one time format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from autodeploy.adapters.ecs import ServiceState
from autodeploy.operations import short
from autodeploy.records import DeploymentRecord
from autodeploy.registration import Target, resource_path
from autodeploy.rollout import PushRef, TargetState
from autodeploy.verification import TargetChecks

TIME = "%Y-%m-%d %H:%M:%S"


def when(value: Any) -> str:
    """Every time the CLI prints, in one format (UTC)."""
    if not value:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime(TIME)


def target_name(arn: str) -> str:
    """cluster/service for a service, the stack's name for a stack: what the commands take."""
    path = resource_path(arn) if arn.count(":") >= 5 else arn
    parts = path.split("/")
    if parts[0] == "service" and len(parts) == 3:
        return f"{parts[1]}/{parts[2]}"
    if parts[0] == "stack" and len(parts) >= 2:
        return parts[1]
    return arn


def image_label(tag: str | None, digest: str) -> str:
    return f"{tag} ({short(digest)})" if tag else short(digest)


def push_label(push: PushRef) -> str:
    return image_label(push.tag, push.digest)


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in rows
    )


def history(records: Sequence[DeploymentRecord]) -> str:
    if not records:
        return "no deployments recorded for this target"
    rows = [("PUSHED (UTC)", "TAG", "STATUS", "IMAGE", "LEAD", "REASON")]
    for r in records:
        lead = f"{r.lead_time_seconds}s" if r.lead_time_seconds is not None else "-"
        rows.append((when(r.pushed_at), r.tag or "-", r.status.value, short(r.digest), lead, r.reason))
    return table(rows)


def heading(target: Target) -> str:
    return f"{target.kind.value} {target_name(target.arn)} ({target.repository}, {target.tag_filter}, {target.mode})"


def state(
    title: str,
    current: TargetState,
    findings: Sequence[str] = (),
    gates: str = "",
    waiting: DeploymentRecord | None = None,
) -> str:
    """A target's rollout state; ``findings``: what weakens its tracking (from its newest record);
    ``gates``: the release gates it declares; ``waiting``: its pending push's record, held at a gate."""
    lines = [title]
    if gates:
        lines.append(f"  gates:      {gates}")
    flight = current.in_flight
    if flight:
        line = f"  in flight:  {push_label(flight.push)} since {when(flight.started_at)}"
        line += f" (ECS deployment {flight.deployment_id})" if flight.deployment_id else ""
        line += f", rollback requested by {flight.push.requested_by}" if flight.push.requested_by else ""
    else:
        line = "  in flight:  nothing"
    lines.append(line)
    pending = current.pending
    if pending:
        line = f"  waiting:    {push_label(pending)}"
        line += f", rollback requested by {pending.requested_by}" if pending.requested_by else ""
        if waiting is not None and waiting.sort_key == pending.sort_key and waiting.gate:
            line += f" at the {waiting.gate} gate: {waiting.reason}"
            line += f"\n              released by: {waiting.reopened_by}" if waiting.reopened_by else ""
    else:
        line = "  waiting:    nothing"
    lines.append(line)
    good = current.last_succeeded
    lines.append(
        f"  last good:  {image_label(good.get('tag'), str(good.get('digest', '')))} at {when(good.get('at'))}"
        if good.get("digest")
        else "  last good:  none recorded"
    )
    for digest, why in current.quarantined.items():
        lines.append(f"  quarantined {short(digest)}: {why}")
    for finding in dict.fromkeys([*(flight.findings if flight else ()), *findings]):
        lines.append(f"  warning:    {finding}")
    return "\n".join(lines)


def state_json(
    target: Target | None,
    arn: str,
    current: TargetState,
    gates: str = "",
    waiting: DeploymentRecord | None = None,
) -> dict[str, Any]:
    gate = (
        {"gate": waiting.gate, "reason": waiting.reason, "released_by": waiting.reopened_by, "at": waiting.reopens_at}
        if waiting is not None
        else None
    )
    return {
        "target": arn,
        "name": target_name(arn),
        **(
            {
                "kind": target.kind.value,
                "repository": target.repository,
                "tags": str(target.tag_filter),
                "mode": target.mode.value,
            }
            if target
            else {}
        ),
        "in_flight": current.in_flight.to_item() if current.in_flight else None,
        "pending": current.pending.to_item() if current.pending else None,
        "last_good": current.last_succeeded or None,
        "quarantined": current.quarantined,
        "gates": gates or None,
        "waiting_at": gate,
    }


def misconfigured(found: Sequence[tuple[str, str]]) -> str:
    lines = ["misconfigured (pushes record FAILED for these until their tags are fixed):"]
    for arn, why in found:
        lines.append(f"  {target_name(arn)}: {why.removeprefix(arn + ': ')}")
    return "\n".join(lines)


def decisions(records: Sequence[dict[str, Any]]) -> str:
    if not records:
        return "no scaling decisions recorded for this service"
    rows = [("REVIEWED (UTC)", "DECISION", "COUNT", "NATIVE", "APPLIED", "ALARMS", "REASON")]
    for r in records:
        native = int(r.get("native", {}).get("adjustment", 0))
        alarms = ",".join(f"{k}={v}" for k, v in sorted(r.get("alarms", {}).items())) or "-"
        rows.append(
            (
                when(r["reviewed_at"]),
                str(r["decision"]),
                f"{r['current_count']}->{r['recommended_count']}",
                f"{native:+d}" if native else "0",
                "yes" if r.get("applied") else "no",
                alarms,
                str(r["reason"]),
            )
        )
    found = sorted({f for r in records[:1] for f in r.get("findings", [])})
    text = table(rows)
    if found:
        text += "\nfindings (latest review):\n" + "\n".join(f"  - {f}" for f in found)
    return text


def verification(results: Sequence[TargetChecks]) -> str:
    if not results:
        return "no registered targets"
    lines = []
    for result in results:
        lines.append(f"{result.name}: {'FAIL' if result.failed else 'OK'}")
        for check in result.checks:
            lines.append(f"  [{check.outcome.value:<4}] {check.subject}: {check.detail}")
    return "\n".join(lines)


def deployment_progress(service: ServiceState, task_definition_arn: str | None, deployment_id: str | None) -> str:
    """The ECS deployment's progress, as `ecspresso status` shows it: which one, its rollout state and counts.

    The deployment is found by id, else by the revision it runs, else the PRIMARY one.
    """
    chosen = next((d for d in service.deployments if deployment_id and d.get("id") == deployment_id), None)
    if chosen is None and task_definition_arn:
        chosen = next((d for d in service.deployments if d.get("taskDefinition") == task_definition_arn), None)
    if chosen is None:
        chosen = next((d for d in service.deployments if d.get("status") == "PRIMARY"), None)
    if chosen is None:
        return f"service {service.name}: no deployment listed"
    revision = str(chosen.get("taskDefinition", "")).rsplit("/", 1)[-1] or "?"
    rollout = chosen.get("rolloutState") or chosen.get("status", "?")
    text = (
        f"ECS deployment {chosen.get('id')} ({revision}) {rollout}: desired {chosen.get('desiredCount', 0)}, "
        f"running {chosen.get('runningCount', 0)}, pending {chosen.get('pendingCount', 0)}, "
        f"failed tasks {chosen.get('failedTasks', 0)}"
    )
    if chosen.get("rolloutStateReason"):
        text += f" ({chosen['rolloutStateReason']})"
    return text
