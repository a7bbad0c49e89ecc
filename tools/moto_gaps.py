"""Fill in, on the client side, what moto leaves out of ECS responses, where AWS documents it.

moto's UpdateService moves the service's taskDefinition but keeps its old PRIMARY deployment
(EMULATOR.md). On AWS a new task definition starts a new PRIMARY deployment with its own id, and
the old one becomes ACTIVE while it drains. The tracker and the demo depend on that, so this
rewrites moto's responses through botocore's own after-call hook; the product is unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any


def _deployment_id(task_definition_arn: str) -> str:
    return "ecs-svc/" + str(int(hashlib.sha256(task_definition_arn.encode()).hexdigest()[:15], 16))


def _with_aws_like_deployments(service: dict[str, Any]) -> None:
    deployments = service.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None or primary.get("taskDefinition") == service.get("taskDefinition"):
        return
    primary["status"] = "ACTIVE"
    new = {
        **primary,
        "id": _deployment_id(service["taskDefinition"]),
        "status": "PRIMARY",
        "taskDefinition": service["taskDefinition"],
        "runningCount": 0,
        "rolloutState": "IN_PROGRESS",
    }
    new["rolloutStateReason"] = f"ECS deployment {new['id']} in progress."
    service["deployments"] = [new, *deployments]


def aws_like_deployments(ecs: Any) -> None:
    """Register the rewrite on an ECS client (idempotent per client)."""
    if getattr(ecs, "_aws_like_deployments", False):
        return

    def rewrite(parsed: dict[str, Any], **_: Any) -> None:
        for service in parsed.get("services", []):
            _with_aws_like_deployments(service)
        if "service" in parsed:
            _with_aws_like_deployments(parsed["service"])

    ecs.meta.events.register("after-call.ecs.DescribeServices", rewrite)
    ecs.meta.events.register("after-call.ecs.UpdateService", rewrite)
    ecs._aws_like_deployments = True
