"""ECS services and task definitions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import aws_call, error_code, translate
from autodeploy.adapters.ecs_model import UNMODELED_FIELDS, watch_for_unmodeled_fields
from autodeploy.deployment_history import ServiceDeployment
from autodeploy.errors import TargetNotFound
from autodeploy.task_definition import DIGEST_TAG

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

_DESCRIBE_SERVICES_BATCH = 10  # DescribeServices takes at most 10 services
_DESCRIBE_SERVICE_DEPLOYMENTS_BATCH = 20  # DescribeServiceDeployments takes at most 20 ARNs
_HISTORY_PAGES = 5  # ListServiceDeployments pages (100 each) read at most per question


@dataclass(frozen=True, slots=True)
class ServiceState:
    arn: str
    cluster_arn: str
    name: str
    status: str
    task_definition_arn: str
    deployment_controller: str
    deployments: list[dict[str, Any]] = field(default_factory=list)
    desired_count: int = 0
    running_count: int = 0
    pending_count: int = 0
    events: tuple[str, ...] = ()  # the latest service event messages, newest first
    circuit_breaker: bool = False  # deploymentConfiguration.deploymentCircuitBreaker.enable
    rollback_on_failure: bool = False  # ... .rollback
    timed_events: tuple[tuple[datetime, str], ...] = ()  # the same with their createdAt, for recency
    alarms: tuple[str, ...] = ()  # deploymentConfiguration.alarms.alarmNames: what judges its deployments

    @property
    def family(self) -> str:
        return self.task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """One ECS deployment of a service, and what the service says around it."""

    deployment_id: str
    task_definition_arn: str | None
    digest: str | None  # from the revision's autodeploy:digest tag
    rollout_state: str | None
    rollback_enabled: bool
    service_events: list[str]


@dataclass(frozen=True, slots=True)
class Started:
    """What UpdateService says about the deployment it started."""

    deployment_id: str | None  # the new PRIMARY deployment (ecs-svc/...)
    service_deployment_arn: str | None  # Service.currentServiceDeployment: the same, in the history


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    definition: dict[str, Any]
    tags: list[dict[str, str]]
    unmodeled: tuple[str, ...] = ()  # fields ECS sent that the SDK's model does not know (dropped by its parser)

    @property
    def arn(self) -> str:
        return str(self.definition["taskDefinitionArn"])


class EcsServices:
    def __init__(self, ecs: ECSClient) -> None:
        self._ecs = ecs

    def describe(self, service_arns: Iterable[str]) -> dict[str, ServiceState]:
        """Services by ARN, batched by cluster, 10 a call; an unknown or deleted service is absent."""
        by_cluster: dict[str, list[str]] = defaultdict(list)
        for arn in service_arns:
            by_cluster[arn.split(":", 5)[5].split("/")[1]].append(arn)
        states: dict[str, ServiceState] = {}
        for cluster, arns in by_cluster.items():
            for start in range(0, len(arns), _DESCRIBE_SERVICES_BATCH):
                batch = arns[start : start + _DESCRIBE_SERVICES_BATCH]
                with aws_call(f"describing services in cluster {cluster}"):
                    response = self._ecs.describe_services(cluster=cluster, services=batch)
                for service in response.get("services", []):
                    if service.get("status") == "INACTIVE":
                        continue  # deleted; ECS keeps describing it for a while
                    breaker = service.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
                    states[service["serviceArn"]] = ServiceState(
                        arn=service["serviceArn"],
                        cluster_arn=service["clusterArn"],
                        name=service["serviceName"],
                        status=service.get("status", ""),
                        task_definition_arn=service.get("taskDefinition", ""),
                        deployment_controller=service.get("deploymentController", {}).get("type", "ECS"),
                        deployments=[dict(d) for d in service.get("deployments", [])],
                        desired_count=service.get("desiredCount", 0),
                        running_count=service.get("runningCount", 0),
                        pending_count=service.get("pendingCount", 0),
                        events=tuple(e.get("message", "") for e in service.get("events", [])[:10]),
                        circuit_breaker=bool(breaker.get("enable")),
                        rollback_on_failure=bool(breaker.get("enable") and breaker.get("rollback")),
                        alarms=tuple(
                            service.get("deploymentConfiguration", {}).get("alarms", {}).get("alarmNames", [])
                        ),
                        timed_events=tuple(
                            (e["createdAt"], e.get("message", ""))
                            for e in service.get("events", [])[:10]
                            if "createdAt" in e
                        ),
                    )
        return states

    def task_definition(self, name: str) -> TaskDefinition:
        """A revision by ARN, or the latest ACTIVE revision of a family by family name."""
        watch_for_unmodeled_fields(self._ecs)
        with aws_call(f"describing task definition {name}"):
            response = self._ecs.describe_task_definition(taskDefinition=name, include=["TAGS"])
        return TaskDefinition(
            dict(response["taskDefinition"]),
            [{"key": t["key"], "value": t["value"]} for t in response.get("tags", [])],
            tuple(cast("list[str]", response.get(UNMODELED_FIELDS, ()))),
        )

    def register(self, request: dict[str, Any]) -> str:
        with aws_call(f"registering a new revision of {request.get('family')}"):
            response = self._ecs.register_task_definition(**request)
        return response["taskDefinition"]["taskDefinitionArn"]

    def point_service_at(self, service: ServiceState, task_definition_arn: str) -> Started:
        """Start the rollout; only the task definition changes. Returns the new deployment's ids."""
        try:
            response = self._ecs.update_service(
                cluster=service.cluster_arn, service=service.arn, taskDefinition=task_definition_arn
            )
        except ClientError as exc:
            if error_code(exc) in ("ServiceNotFoundException", "ServiceNotActiveException"):
                raise TargetNotFound(f"service {service.name} was deleted before its update") from exc
            translate(exc, f"updating service {service.name}")
        except BotoCoreError as exc:
            translate(exc, f"updating service {service.name}")
        updated = response["service"]
        primary = next((d for d in updated.get("deployments", []) if d.get("status") == "PRIMARY"), None)
        return Started(primary.get("id") if primary else None, updated.get("currentServiceDeployment"))

    def deployment(self, service_arn: str, deployment_id: str) -> DeploymentView | None:
        """What a deployment of the service runs; None when the service no longer lists it."""
        cluster = service_arn.split(":", 5)[5].split("/")[1]
        with aws_call(f"describing service {service_arn}"):
            services = self._ecs.describe_services(cluster=cluster, services=[service_arn]).get("services", [])
        if not services:
            return None
        service = services[0]
        breaker = service.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
        events = [e.get("message", "") for e in service.get("events", [])[:5]]
        for deployment in service.get("deployments", []):
            if deployment.get("id") != deployment_id:
                continue
            arn = deployment.get("taskDefinition")
            digest = None
            if arn:
                tags = {t["key"]: t["value"] for t in self.task_definition(arn).tags}
                digest = tags.get(DIGEST_TAG)
            return DeploymentView(
                deployment_id, arn, digest, deployment.get("rolloutState"), bool(breaker.get("rollback")), events
            )
        return DeploymentView(deployment_id, None, None, None, bool(breaker.get("rollback")), events)

    def stopped_tasks(self, service_arn: str, deployment_id: str, limit: int = 5) -> list[dict[str, Any]]:
        """Why the deployment's tasks stopped: reasons and exit codes, most recent first.

        ListTasks takes ``startedBy`` only as its sole filter (and then lists RUNNING tasks only),
        so the service's stopped tasks are listed and kept when ECS started them for this deployment.
        """
        cluster, name = service_arn.split(":", 5)[5].split("/")[1:3]
        with aws_call(f"listing the stopped tasks of {name}"):
            arns = self._ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="STOPPED").get("taskArns", [])
        if not arns:
            return []
        with aws_call(f"describing the stopped tasks of {deployment_id}"):
            tasks = self._ecs.describe_tasks(cluster=cluster, tasks=arns[:100]).get("tasks", [])
        tasks = [t for t in tasks if t.get("startedBy") == deployment_id]
        tasks = sorted(tasks, key=lambda t: str(t.get("stoppedAt", "")), reverse=True)[:limit]
        return [
            {
                "task": t["taskArn"].rsplit("/", 1)[-1],
                "stopped_reason": t.get("stoppedReason", ""),
                "stop_code": t.get("stopCode", ""),
                "containers": [
                    {
                        k: v
                        for k, v in {
                            "name": c.get("name"),
                            "exit_code": c.get("exitCode"),
                            "reason": c.get("reason"),
                        }.items()
                        if v is not None
                    }
                    for c in t.get("containers", [])
                ],
            }
            for t in tasks
        ]

    # -- service-deployment history: what ECS recorded, kept 90 days -------------------------------

    def service_deployment(self, arn: str) -> ServiceDeployment | None:
        """One service deployment from ECS's history; None when ECS does not know it."""
        found = self._describe_service_deployments([arn])
        return found[0] if found else None

    def service_deployments_since(self, service_arn: str, since: datetime) -> list[ServiceDeployment]:
        """The service's deployments created at or after ``since``, oldest first, with their outcomes."""
        cluster = service_arn.split(":", 5)[5].split("/")[1]
        arns: list[str] = []
        request: dict[str, Any] = {
            "cluster": cluster,
            "service": service_arn,
            "createdAt": {"after": since},
            "maxResults": 100,
        }
        for _ in range(_HISTORY_PAGES):
            with aws_call(f"listing the deployments of {service_arn}"):
                page = self._ecs.list_service_deployments(**request)
            arns.extend(d["serviceDeploymentArn"] for d in page.get("serviceDeployments", []))
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        found = self._describe_service_deployments(arns)
        return sorted(
            (d for d in found if d.created_at is None or d.created_at >= since),
            key=lambda d: d.created_at or since,
        )

    def _describe_service_deployments(self, arns: list[str]) -> list[ServiceDeployment]:
        found: list[ServiceDeployment] = []
        for start in range(0, len(arns), _DESCRIBE_SERVICE_DEPLOYMENTS_BATCH):
            batch = arns[start : start + _DESCRIBE_SERVICE_DEPLOYMENTS_BATCH]
            with aws_call("describing service deployments"):
                response = self._ecs.describe_service_deployments(serviceDeploymentArns=batch)
            found.extend(_service_deployment(d) for d in response.get("serviceDeployments", []))
        return found

    def set_desired_count(self, service: ServiceState, count: int) -> None:
        """Change only the desired count (the scaling reviewer's act mode)."""
        with aws_call(f"setting the desired count of {service.name} to {count}"):
            self._ecs.update_service(cluster=service.cluster_arn, service=service.arn, desiredCount=count)


def _service_deployment(raw: Any) -> ServiceDeployment:
    configured = raw.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
    rollback = raw.get("rollback", {})
    return ServiceDeployment(
        arn=raw["serviceDeploymentArn"],
        status=raw.get("status", ""),
        status_reason=raw.get("statusReason", ""),
        created_at=raw.get("createdAt"),
        finished_at=raw.get("finishedAt"),
        target_revision=raw.get("targetServiceRevision", {}).get("arn"),
        source_revisions=tuple(r["arn"] for r in raw.get("sourceServiceRevisions", []) if "arn" in r),
        rollback_reason=rollback.get("reason", ""),
        rollback_revision=rollback.get("serviceRevisionArn"),
        circuit_breaker=bool(configured.get("enable")),
        rollback_on_failure=bool(configured.get("enable") and configured.get("rollback")),
        circuit_breaker_status=raw.get("deploymentCircuitBreaker", {}).get("status"),
    )
