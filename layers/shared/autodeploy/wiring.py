"""Builds the use cases from configuration and lazily created clients, once per container."""

from __future__ import annotations

from functools import cache

from autodeploy.adapters.aws import AwsClients
from autodeploy.adapters.cloudformation import CloudFormationStacks
from autodeploy.adapters.discovery import TargetDiscovery
from autodeploy.adapters.ecr import EcrImages
from autodeploy.adapters.ecs import EcsServices
from autodeploy.adapters.ledger import Ledger
from autodeploy.config import DeploySettings
from autodeploy.deploy import DeployOnPush


@cache
def aws_clients() -> AwsClients:
    return AwsClients()


@cache
def deploy_on_push() -> DeployOnPush:
    settings = DeploySettings.from_environ()
    clients = aws_clients()
    return DeployOnPush(
        discovery=TargetDiscovery(clients.tagging),
        services=EcsServices(clients.ecs),
        stacks=CloudFormationStacks(clients.cloudformation),
        images=EcrImages(clients.ecr),
        ledger=Ledger(clients.dynamodb, settings.ledger_table),
        registry_for=clients.ecr_registry,
    )


def reset() -> None:
    """Forget built objects (tests switch environments between cases)."""
    deploy_on_push.cache_clear()
    aws_clients.cache_clear()
