"""Client creation and botocore error translation, shared by every adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from botocore.retries.standard import (
    OrRetryChecker,
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)

from autodeploy import __version__
from autodeploy.adapters.pacing import pace
from autodeploy.errors import PermanentError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# Adaptive mode retries throttling and 5xx with jittered backoff and, once throttled, also paces
# the client's own request rate (RegisterTaskDefinition sustains about 1 per second). What still
# fails after that propagates as RetryableError, and Lambda's own retries take over.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 6},
    user_agent_extra=f"ecs-autodeploy/{__version__}",
    connect_timeout=5,
    read_timeout=20,
)

_RETRYABLE = OrRetryChecker([TransientRetryableChecker(), ThrottledRetryableChecker()])


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_retryable(exc: ClientError) -> bool:
    """botocore's own judgement (throttling and transient codes), plus any 5xx or 429 status."""
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    context = RetryContext(attempt_number=1, parsed_response=dict(exc.response))
    return status >= 500 or status == 429 or bool(_RETRYABLE.is_retryable(context))


def translate(exc: ClientError | BotoCoreError, action: str) -> NoReturn:
    """Raise our error for a botocore one; ``action`` says what we were doing, for people."""
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        raise RetryableError(f"{action}: {exc}") from exc
    if isinstance(exc, ClientError):
        kind = RetryableError if is_retryable(exc) else PermanentError
        raise kind(f"{action}: {error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}") from exc
    raise PermanentError(f"{action}: {exc}") from exc


@contextmanager
def aws_call(action: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block into ours."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        translate(exc, action)


@cache
def _dns_suffixes() -> dict[str, str]:
    """Each partition's DNS suffix (amazonaws.com, amazonaws.com.cn, ...), from botocore's endpoint data."""
    endpoints = botocore.session.get_session().get_data("endpoints")
    return {p["partition"]: p["dnsSuffix"] for p in endpoints["partitions"]}


class LazyClient:
    """Forwards every attribute to the client ``create`` returns, calling it at the first access only."""

    __slots__ = ("_client", "_create")

    def __init__(self, create: Callable[[], Any]) -> None:
        self._create = create
        self._client: Any = None

    def __getattr__(self, attribute: str) -> Any:
        if self._client is None:
            self._client = self._create()
        return getattr(self._client, attribute)


class AwsClients:
    """Creates each boto3 client on first use and keeps it for warm invocations.

    Honors ``AWS_ENDPOINT_URL`` (and the per-service variants) through boto3 itself, so the
    emulator needs no special code path.
    """

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session

    @cached_property
    def session(self) -> boto3.session.Session:
        return self._session or boto3.session.Session()

    def _client(self, name: str) -> Any:
        return self.session.client(name, config=CLIENT_CONFIG)  # type: ignore[call-overload]

    @cached_property
    def ecs(self) -> ECSClient:
        client: ECSClient = self._client("ecs")
        return client

    @cached_property
    def ecr(self) -> ECRClient:
        client: ECRClient = self._client("ecr")
        return client

    @cached_property
    def cloudformation(self) -> CloudFormationClient:
        client: CloudFormationClient = self._client("cloudformation")
        return client

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client

    @cached_property
    def tagging(self) -> ResourceGroupsTaggingAPIClient:
        client: ResourceGroupsTaggingAPIClient = self._client("resourcegroupstaggingapi")
        return client

    @cached_property
    def sns(self) -> SNSClient:
        client: SNSClient = self._client("sns")
        return client

    @cached_property
    def sqs(self) -> SQSClient:
        client: SQSClient = self._client("sqs")
        return client

    @cached_property
    def application_autoscaling(self) -> ApplicationAutoScalingClient:
        client: ApplicationAutoScalingClient = self._client("application-autoscaling")
        return client

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        client: CloudWatchClient = self._client("cloudwatch")
        return client

    def ecr_in(self, region: str) -> ECRClient:
        """An ECR client for a push's region: this function's own client there, else one per region, kept."""
        if region == self.session.region_name:
            return self.ecr
        clients: dict[str, ECRClient] = self.__dict__.setdefault("_ecr_by_region", {})
        if region not in clients:
            clients[region] = self.session.client("ecr", region_name=region, config=CLIENT_CONFIG)
        return clients[region]

    @cached_property
    def scheduler(self) -> Any:  # EventBridge Scheduler: no type stubs are pinned for it
        return self._client("scheduler")

    @cached_property
    def sts(self) -> Any:  # only the CLI asks who its caller is
        return self._client("sts")

    @cached_property
    def iam(self) -> Any:  # only `autodeploy verify` reads IAM; no type stubs are pinned for it
        return self._client("iam")

    def paced(self, name: str, service: str, rates: dict[str, float]) -> Any:
        """A client of its own for ``service`` whose operations in ``rates`` are paced (adapters/pacing.py),
        kept as ``name``: a process that runs other functions too (tests, `make bench`) keeps theirs unpaced."""
        clients: dict[str, Any] = self.__dict__.setdefault("_paced", {})
        if name not in clients:
            clients[name] = pace(self._client(service), rates)
        return clients[name]

    def lazy(self, name: str) -> Any:
        """A stand-in for the client ``name`` (an attribute of this class) that creates it on first use.

        Use cases are built with every adapter they may need; a push that needs one client (nobody
        registered for the repository: one tagging query) then creates one client, not six.
        """
        return LazyClient(lambda: getattr(self, name))

    def ecr_registry(self, account: str, region: str) -> str:
        """The private ECR registry host of an account and region, in the region's partition."""
        partition = self.session.get_partition_for_region(region)
        return f"{account}.dkr.ecr.{region}.{_dns_suffixes()[partition]}"
