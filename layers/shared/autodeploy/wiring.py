"""Builds the use cases from configuration and lazily created clients, once per container.

Each adapter gets a stand-in that creates its client at its first call, so an invocation creates
only the clients its path through the use case needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from autodeploy.adapters.aws import AwsClients
from autodeploy.config import DeploySettings

if TYPE_CHECKING:
    from autodeploy.deploy import DeployOnPush
    from autodeploy.deploy.work import RolloutWorker
    from autodeploy.reconcile import Reconcile
    from autodeploy.release import ReleaseWaiting
    from autodeploy.scaling.reviewer import ReviewScaling
    from autodeploy.tracking import TrackRollouts


@cache
def aws_clients() -> AwsClients:
    return AwsClients()


@cache
def settings() -> DeploySettings:
    return DeploySettings.from_environ()


@cache
def deploy_on_push() -> DeployOnPush:
    from autodeploy.adapters.work_queue import WorkQueue

    config, clients = settings(), aws_clients()
    queue = WorkQueue(clients.lazy("sqs"), config.work_queue_url) if config.work_queue_url else None
    return _deployer(clients.lazy("ecs"), clients.lazy("cloudformation"), queue.send if queue else None)


@cache
def rollout_worker() -> RolloutWorker:
    """The rollout workers' deployer: ECS and CloudFormation calls paced at this worker's share."""
    from autodeploy.adapters.aws import LazyClient
    from autodeploy.adapters.work_queue import WorkQueue
    from autodeploy.deploy.dispatch import worker_rates
    from autodeploy.deploy.work import RolloutWorker
    from autodeploy.errors import ConfigurationError

    config, clients = settings(), aws_clients()
    if not config.work_queue_url:
        raise ConfigurationError("environment variable ROLLOUT_WORK_QUEUE_URL is not set: it names the work queue")
    rates = worker_rates(config.worker_concurrency)
    ecs = LazyClient(lambda: clients.paced("rollout_ecs", "ecs", rates["ecs"]))
    cloudformation = LazyClient(
        lambda: clients.paced("rollout_cloudformation", "cloudformation", rates["cloudformation"])
    )
    queue = WorkQueue(clients.lazy("sqs"), config.work_queue_url)
    return RolloutWorker(_deployer(ecs, cloudformation, None), queue.send)


def _deployer(ecs: Any, cloudformation: Any, hand_off: Callable[[Sequence[str]], None] | None) -> DeployOnPush:
    from autodeploy.adapters.cloudformation import CloudFormationStacks
    from autodeploy.adapters.cloudwatch import CloudWatchReader
    from autodeploy.adapters.discovery import TargetDiscovery
    from autodeploy.adapters.ecr import EcrImages
    from autodeploy.adapters.ecs import EcsServices
    from autodeploy.adapters.ledger import Ledger
    from autodeploy.adapters.notifier import SnsNotifier
    from autodeploy.adapters.scheduler import GateSchedules
    from autodeploy.deploy import DeployOnPush
    from autodeploy.deploy.gate import GateSettings

    config, clients = settings(), aws_clients()
    stacks = CloudFormationStacks(cloudformation)
    where = config.schedule_target
    return DeployOnPush(
        discovery=TargetDiscovery(clients.lazy("tagging"), stacks.service_arns),
        services=EcsServices(ecs),
        stacks=stacks,
        images=EcrImages(clients.lazy("ecr"), clients.ecr_in),
        ledger=Ledger(clients.lazy("dynamodb"), config.ledger_table),
        notifier=SnsNotifier(clients.lazy("sns"), config.notification_topic_arn, config.chat_notification_topic_arn),
        registry_for=clients.ecr_registry,
        cloudwatch=CloudWatchReader(clients.lazy("cloudwatch")),
        schedules=GateSchedules(clients.lazy("scheduler"), where) if where is not None else None,
        gate_settings=GateSettings(
            scan_timeout=timedelta(minutes=config.scan_timeout_minutes),
            approval_timeout=timedelta(hours=config.approval_timeout_hours),
        ),
        hand_off=hand_off,
    )


@cache
def track_rollouts() -> TrackRollouts:
    from autodeploy.adapters.cloudformation import CloudFormationStacks
    from autodeploy.adapters.ecs import EcsServices
    from autodeploy.adapters.notifier import SnsNotifier
    from autodeploy.tracking import TrackRollouts

    config, clients = settings(), aws_clients()
    return TrackRollouts(
        deployer=deploy_on_push(),
        services=EcsServices(clients.lazy("ecs")),
        stacks=CloudFormationStacks(clients.lazy("cloudformation")),
        notifier=SnsNotifier(clients.lazy("sns"), config.notification_topic_arn, config.chat_notification_topic_arn),
    )


@cache
def release_waiting() -> ReleaseWaiting:
    from autodeploy.release import ReleaseWaiting

    return ReleaseWaiting(deploy_on_push())


@cache
def reconcile() -> Reconcile:
    from autodeploy.adapters.cloudformation import CloudFormationStacks
    from autodeploy.adapters.ecr import EcrImages
    from autodeploy.adapters.ecs import EcsServices
    from autodeploy.reconcile import Reconcile

    config, clients = settings(), aws_clients()
    return Reconcile(
        deployer=deploy_on_push(),
        tracker=track_rollouts(),
        services=EcsServices(clients.lazy("ecs")),
        stacks=CloudFormationStacks(clients.lazy("cloudformation")),
        images=EcrImages(clients.lazy("ecr")),
        rollout_timeout_minutes=config.rollout_timeout_minutes,
        resume_after_minutes=config.resume_after_minutes,
    )


@cache
def review_scaling() -> ReviewScaling:
    from functools import partial

    from autodeploy.adapters.autoscaling import AutoScalingReader
    from autodeploy.adapters.cloudwatch import CloudWatchReader
    from autodeploy.adapters.decision_log import DecisionLog
    from autodeploy.adapters.discovery import reviewed_services
    from autodeploy.adapters.ecs import EcsServices
    from autodeploy.config import ReviewSettingsFromEnv
    from autodeploy.scaling.reviewer import ReviewScaling

    config, clients = ReviewSettingsFromEnv.from_environ(), aws_clients()
    return ReviewScaling(
        find_services=partial(reviewed_services, clients.lazy("tagging")),
        services=EcsServices(clients.lazy("ecs")),
        autoscaling=AutoScalingReader(clients.lazy("application_autoscaling")),
        cloudwatch=CloudWatchReader(clients.lazy("cloudwatch")),
        log=DecisionLog(clients.lazy("dynamodb"), config.decisions_table, config.retention_days),
    )


def reset() -> None:
    """Forget built objects (tests switch environments between cases)."""
    from autodeploy.origin import accepted_origins

    for built in (
        review_scaling,
        reconcile,
        release_waiting,
        track_rollouts,
        rollout_worker,
        deploy_on_push,
        settings,
        aws_clients,
        accepted_origins,
    ):
        built.cache_clear()
