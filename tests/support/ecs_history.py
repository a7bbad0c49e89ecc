"""ECS's service-deployment history, which moto does not implement, in front of moto's ECS.

moto 5.2.5 has neither ListServiceDeployments nor DescribeServiceDeployments, and keeps listing
every deployment in DescribeServices, where AWS forgets one once it has drained (EMULATOR.md).
This layer answers the two history operations itself and passes everything else to moto, so the
functions' code runs unchanged:

- a ``before-call`` handler that returns a response short-circuits the HTTP call (botocore's own
  event hook); each answer is checked against the operation's output shape in botocore's ECS
  service model (``ecs/2014-11-13/service-2.json``: ``ListServiceDeploymentsResponse``,
  ``DescribeServiceDeploymentsResponse``), status values included, so a test cannot feed the
  code a response AWS could not send;
- UpdateService creates the history entry ECS creates for a new deployment, and its response
  names it in ``service.currentServiceDeployment`` (the ``Service`` shape's field, "The ARN of the
  current service deployment"); ARNs follow the IAM authorization data's resource format
  ``service-deployment/${ClusterName}/${ServiceName}/${ServiceDeploymentId}``;
- ``drain`` makes DescribeServices forget a deployment, as AWS does once it has drained.

Entries are shaped after AWS's published samples: the AWS CLI's ``describe-service-deployments``
example and the ECS API reference's DescribeServiceDeployments example.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.validate import ParamValidator

_ids = itertools.count(1)


class _Response:
    def __init__(self, status_code: int = 200) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""


@dataclass
class _Entry:
    deployment: dict[str, Any]
    deployment_id: str | None  # the ecs-svc/... id DescribeServices shows for the same deployment


@dataclass
class EcsHistory:
    """The account's service-deployment history, and the deployments AWS no longer lists."""

    ecs: Any
    entries: dict[str, _Entry] = field(default_factory=dict)  # by service deployment ARN
    drained: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    # -- what tests arrange -----------------------------------------------------------------------

    def record(
        self,
        service_arn: str,
        *,
        status: str = "IN_PROGRESS",
        created_at: datetime | None = None,
        deployment_id: str | None = None,
        target_revision: str | None = None,
        source_revisions: tuple[str, ...] = (),
        circuit_breaker: tuple[bool, bool] = (False, False),
    ) -> str:
        """A service deployment ECS created; returns its ARN."""
        cluster, name = service_arn.split(":", 5)[5].split("/")[1:3]
        prefix = service_arn.split(":service/", maxsplit=1)[0]
        arn = f"{prefix}:service-deployment/{cluster}/{name}/{next(_ids):020d}"
        revision_id = (deployment_id or f"ecs-svc/{next(_ids)}").rsplit("/", 1)[-1]
        when = created_at or datetime.now(UTC)
        enable, rollback = circuit_breaker
        deployment: dict[str, Any] = {
            "serviceDeploymentArn": arn,
            "serviceArn": service_arn,
            "clusterArn": f"{prefix}:cluster/{cluster}",
            "createdAt": when,
            "startedAt": when,
            "updatedAt": when,
            "sourceServiceRevisions": [
                {"arn": a, "requestedTaskCount": 2, "runningTaskCount": 2} for a in source_revisions
            ],
            "targetServiceRevision": {
                "arn": target_revision or f"{prefix}:service-revision/{cluster}/{name}/{revision_id}",
                "requestedTaskCount": 2,
                "runningTaskCount": 0,
                "pendingTaskCount": 0,
            },
            "status": status,
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": enable, "rollback": rollback},
                "maximumPercent": 200,
                "minimumHealthyPercent": 50,
            },
            "deploymentCircuitBreaker": {"status": "MONITORING" if enable else "DISABLED", "failureCount": 0},
            "alarms": {"status": "DISABLED"},
        }
        self.entries[arn] = _Entry(deployment, deployment_id)
        return arn

    def of(self, deployment_id: str) -> str:
        """The service deployment ARN of an ecs-svc/... deployment."""
        return next(arn for arn, e in self.entries.items() if e.deployment_id == deployment_id)

    def finish(
        self,
        arn: str,
        status: str,
        *,
        reason: str = "",
        rolled_back_to: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """End a deployment as ECS records it (SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ...)."""
        deployment = self.entries[arn].deployment
        when = at or datetime.now(UTC)
        deployment.update(status=status, updatedAt=when, finishedAt=when)
        if reason:
            deployment["statusReason"] = reason
        if status == "STOPPED":
            deployment["stoppedAt"] = when
        if status.startswith("ROLLBACK_"):
            deployment["rollback"] = {
                "reason": reason or "Circuit breaker initiated the rollback operation.",
                "startedAt": when,
                "serviceRevisionArn": rolled_back_to or deployment["sourceServiceRevisions"][0]["arn"],
            }
            deployment["deploymentCircuitBreaker"]["status"] = "TRIGGERED"

    def configure_circuit_breaker(self, arn: str, enable: bool, rollback: bool) -> None:
        """The circuit breaker a deployment ran with (moto keeps no deploymentConfiguration)."""
        deployment = self.entries[arn].deployment
        deployment["deploymentConfiguration"]["deploymentCircuitBreaker"] = {"enable": enable, "rollback": rollback}
        deployment["deploymentCircuitBreaker"]["status"] = "MONITORING" if enable else "DISABLED"

    def drain(self, deployment_id: str) -> None:
        """DescribeServices no longer lists the deployment (AWS forgets drained deployments)."""
        self.drained.add(deployment_id)

    def asked(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    # -- what the client sees -----------------------------------------------------------------------

    def _answer(self, operation: str, body: dict[str, Any]) -> tuple[_Response, dict[str, Any]]:
        shape = self.ecs.meta.service_model.operation_model(operation).output_shape
        report = ParamValidator().validate(body, shape)
        if report.has_errors():
            raise AssertionError(f"{operation} answer does not match botocore's model: {report.generate_report()}")
        return _Response(), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _list(self, context: dict[str, Any], **_: Any) -> Any:
        params = context["history_params"]
        self.calls.append(("ListServiceDeployments", params))
        service = params["service"]
        cluster = params.get("cluster", "default").rsplit("/", 1)[-1]
        created = params.get("createdAt", {})
        found = []
        for entry in self.entries.values():
            d = entry.deployment
            arn_cluster, arn_name = d["serviceArn"].split(":", 5)[5].split("/")[1:3]
            if service not in (d["serviceArn"], arn_name) or cluster != arn_cluster:
                continue
            if params.get("status") and d["status"] not in params["status"]:
                continue
            if "after" in created and d["createdAt"] < _utc(created["after"]):
                continue
            if "before" in created and d["createdAt"] > _utc(created["before"]):
                continue
            found.append(d)
        found.sort(key=lambda d: d["createdAt"], reverse=True)
        start = int(params.get("nextToken", "0"))
        size = params.get("maxResults", 20)
        page = found[start : start + size]
        keys = (
            "serviceDeploymentArn",
            "serviceArn",
            "clusterArn",
            "startedAt",
            "createdAt",
            "finishedAt",
            "status",
            "statusReason",
        )
        brief = [
            {k: d[k] for k in keys if k in d} | {"targetServiceRevisionArn": d["targetServiceRevision"]["arn"]}
            for d in page
        ]
        body: dict[str, Any] = {"serviceDeployments": brief}
        if start + size < len(found):
            body["nextToken"] = str(start + size)
        return self._answer("ListServiceDeployments", body)

    def _describe(self, context: dict[str, Any], **_: Any) -> Any:
        params = context["history_params"]
        self.calls.append(("DescribeServiceDeployments", params))
        arns = params["serviceDeploymentArns"]
        if len(arns) > 20:  # "You can specify a maximum of 20 ARNs" (API reference)
            raise AssertionError("DescribeServiceDeployments takes at most 20 ARNs")
        known = [self.entries[a].deployment for a in arns if a in self.entries]
        missing = [{"arn": a, "reason": "MISSING"} for a in arns if a not in self.entries]
        return self._answer("DescribeServiceDeployments", {"serviceDeployments": known, "failures": missing})

    @staticmethod
    def _remember_request(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Keep the caller's parameters (before-call sees only the serialized request)."""
        context["history_params"] = dict(params)

    def _started(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """UpdateService with a new task definition: ECS records a new service deployment."""
        service = parsed.get("service")
        if not service:
            return  # an error answered
        primary = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), None)
        if primary is None or not context.get("history_params", {}).get("taskDefinition"):
            return
        known = [a for a, e in self.entries.items() if e.deployment_id == primary["id"]]
        if known:
            service["currentServiceDeployment"] = known[0]
            return
        previous = [d["id"] for d in service.get("deployments", []) if d.get("status") == "ACTIVE"]
        prefix = service["serviceArn"].split(":service/")[0]
        cluster, name = service["serviceArn"].split(":", 5)[5].split("/")[1:3]
        sources = tuple(f"{prefix}:service-revision/{cluster}/{name}/{i.rsplit('/', 1)[-1]}" for i in previous)
        configured = service.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
        service["currentServiceDeployment"] = self.record(
            service["serviceArn"],
            deployment_id=primary["id"],
            source_revisions=sources,
            circuit_breaker=(bool(configured.get("enable")), bool(configured.get("rollback"))),
        )

    def _forget_drained(self, parsed: dict[str, Any], **_: Any) -> None:
        for service in parsed.get("services", []):
            service["deployments"] = [d for d in service.get("deployments", []) if d.get("id") not in self.drained]


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def install(ecs: Any) -> EcsHistory:
    """Answer the history operations on this ECS client; everything else still goes to moto."""
    history = EcsHistory(ecs)
    events = ecs.meta.events
    for operation in ("ListServiceDeployments", "DescribeServiceDeployments", "UpdateService"):
        events.register(f"before-parameter-build.ecs.{operation}", history._remember_request)
    events.register_first("before-call.ecs.ListServiceDeployments", history._list)
    events.register_first("before-call.ecs.DescribeServiceDeployments", history._describe)
    events.register("after-call.ecs.UpdateService", history._started)
    events.register("after-call.ecs.DescribeServices", history._forget_drained)
    return history
