"""Builds a small AWS world (ECR images, ECS services, service stacks) on an emulator.

Shared by the integration tests, the end-to-end tests and the demo, so that all of them set up
targets exactly as a user registers them: with autodeploy:* tags.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
SIDECAR_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4"


def digest_for(repository: str, tag: str, salt: str = "") -> str:
    """A stable, valid digest for a test image (ECR computes it from the manifest; moto takes ours)."""
    return "sha256:" + hashlib.sha256(f"{repository}:{tag}:{salt}".encode()).hexdigest()


def push_image(ecr: Any, repository: str, tag: str, digest: str | None = None) -> str:
    digest = digest or digest_for(repository, tag)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": digest},
        "layers": [],
    }
    # The same image and tag again changes nothing, as with docker push.
    with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag, imageDigest=digest)
    return digest


def ensure_repository(ecr: Any, repository: str) -> None:
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)


def rich_task_definition(family: str, image: str) -> dict[str, Any]:
    """A realistic definition: secrets, logs, health check, volumes, ulimits, a sidecar."""
    return {
        "family": family,
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-task",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-execution",
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [
            {
                "name": family,
                "image": image,
                "cpu": 512,
                "memory": 512,
                "essential": True,
                "portMappings": [{"containerPort": 3000, "hostPort": 0, "protocol": "tcp"}],
                "environment": [{"name": "NODE_ENV", "value": "production"}],
                "secrets": [
                    {"name": "DB_PASSWORD", "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"}
                ],
                "logConfiguration": {
                    "logDriver": "awsfirelens",
                    "options": {"Name": "cloudwatch", "region": REGION, "log_group_name": f"/ecs/{family}"},
                },
                "healthCheck": {
                    "command": ["CMD-SHELL", "curl -f http://localhost:3000/health || exit 1"],
                    "interval": 30,
                    "timeout": 5,
                    "retries": 3,
                    "startPeriod": 10,
                },
                "mountPoints": [{"sourceVolume": "cache", "containerPath": "/app/cache", "readOnly": False}],
                "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
                "dockerLabels": {"team": "web"},
                "dependsOn": [{"containerName": "log-router", "condition": "START"}],
            },
            {
                "name": "log-router",
                "image": SIDECAR_IMAGE,
                "cpu": 64,
                "memory": 128,
                "essential": True,
                "firelensConfiguration": {"type": "fluentbit"},
            },
        ],
        "volumes": [{"name": "cache", "host": {"sourcePath": "/var/cache/web"}}],
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}],
        "tags": [{"key": "team", "value": "web"}],
    }


def create_service(
    ecs: Any,
    cluster: str,
    name: str,
    image: str,
    tags: dict[str, str],
    desired_count: int = 2,
    circuit_breaker: bool = True,
) -> str:
    """A cluster (if needed), a task definition and a tagged service; returns the service ARN.

    ``circuit_breaker``: the deployment circuit breaker with rollback, or (False) the breaker off,
    as DescribeServices shows a service created without one (both flags false).
    """
    ecs.create_cluster(clusterName=cluster)
    task_definition = ecs.register_task_definition(**rich_task_definition(name, image))["taskDefinition"]
    service = ecs.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=task_definition["taskDefinitionArn"],
        desiredCount=desired_count,
        deploymentConfiguration={
            "maximumPercent": 200,
            "minimumHealthyPercent": 50,
            "deploymentCircuitBreaker": {"enable": circuit_breaker, "rollback": circuit_breaker},
        },
        tags=[{"key": k, "value": v} for k, v in tags.items()],
    )["service"]
    return str(service["serviceArn"])


SERVICE_STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "Stands in for a service stack: moto cannot update ECS resources through CloudFormation.",
    "Parameters": {
        "ServiceName": {"Type": "String"},
        "BuildNumber": {"Type": "String"},
    },
    "Resources": {
        "ImageParameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": {"Fn::Sub": "/${ServiceName}/image"},
                "Type": "String",
                "Value": {"Ref": "BuildNumber"},
            },
        }
    },
}


def create_stack(cloudformation: Any, name: str, build_number: str, tags: dict[str, str]) -> str:
    """A service stack with a BuildNumber parameter, every parameter passed explicitly (a moto need)."""
    response = cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(SERVICE_STACK_TEMPLATE),
        Parameters=[
            {"ParameterKey": "ServiceName", "ParameterValue": name},
            {"ParameterKey": "BuildNumber", "ParameterValue": build_number},
        ],
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return str(response["StackId"])


def add_container_instance(ecs: Any, ec2: Any, cluster: str) -> str:
    """An EC2 container instance in the cluster, so that tasks can run (and be stopped) on moto."""
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    document = {
        "instanceId": instance["InstanceId"],
        "region": REGION,
        "availabilityZone": f"{REGION}a",
        "accountId": ACCOUNT,
        "imageId": "ami-12c6146b",
        "instanceType": "t3.medium",
        "privateIp": "10.0.0.10",
    }
    registered = ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps(document))
    return str(registered["containerInstance"]["containerInstanceArn"])


def crash_tasks(ecs: Any, cluster: str, task_definition: str, deployment_id: str, reason: str, count: int = 1) -> None:
    """Tasks of a deployment that start and stop, as when the new image crashes on boot."""
    tasks = ecs.run_task(cluster=cluster, taskDefinition=task_definition, startedBy=deployment_id, count=count)["tasks"]
    for task in tasks:
        ecs.stop_task(cluster=cluster, task=task["taskArn"], reason=reason)


def primary_deployment(ecs: Any, service_arn: str) -> dict[str, Any]:
    cluster = service_arn.split("/")[1]
    service = ecs.describe_services(cluster=cluster, services=[service_arn])["services"][0]
    return dict(next(d for d in service["deployments"] if d["status"] == "PRIMARY"))


def scalable_service(
    ecs: Any,
    autoscaling: Any,
    cloudwatch: Any,
    cluster: str,
    name: str,
    *,
    desired: int = 2,
    minimum: int = 1,
    maximum: int = 8,
    review: str | None = "observe",
    wrong_dimensions: bool = False,
    extra_tags: dict[str, str] | None = None,
) -> str:
    """The seed's service scaling: a scalable target, a +1 step policy with a 300 s cooldown and
    a CPU > 60% alarm over 5 minutes (with the seed's wrong dimensions if asked)."""
    tags = {**({"autodeploy:scaling-review": review} if review else {}), **(extra_tags or {})}
    arn = create_service(ecs, cluster, name, f"{REGISTRY}/{name}:1.0.0", tags, desired_count=desired)
    resource = f"service/{cluster}/{name}"
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=minimum,
        MaxCapacity=maximum,
    )
    policy = autoscaling.put_scaling_policy(
        PolicyName=f"{name}-scale-out",
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            "Cooldown": 300,
            "MetricAggregationType": "Average",
        },
    )["PolicyARN"]
    dimensions = [{"Name": "ServiceName", "Value": name}]
    if not wrong_dimensions:
        dimensions.insert(0, {"Name": "ClusterName", "Value": cluster})
    cloudwatch.put_metric_alarm(
        AlarmName=f"{name}-cpu-high",
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=dimensions,
        Statistic="Average",
        Period=60,
        EvaluationPeriods=5,
        Threshold=60,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[policy],
    )
    return arn


def put_cpu(cloudwatch: Any, cluster: str, service: str, values: list[float]) -> None:
    """Per-minute service CPU ending now, under the dimensions ECS publishes it with."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    right = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]
    data = [
        {
            "MetricName": "CPUUtilization",
            "Dimensions": right,
            "Timestamp": now - timedelta(minutes=len(values) - i),
            "Value": v,
            "Unit": "Percent",
        }
        for i, v in enumerate(values)
    ]
    for start in range(0, len(data), 20):
        cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=data[start : start + 20])
