"""Client-side pacing of the calls ECS and CloudFormation throttle per account and region.

Each rollout worker sends RegisterTaskDefinition, UpdateService and UpdateStack through botocore's
own token bucket (``botocore.retries.bucket.TokenBucket``, the one its adaptive retry mode uses),
filled at the worker's share of the account's rate: the workers together stay under the rate ECS
allows, and what they leave is there for the pushes deployed in-process (a single-service push
never waits behind a fan-out). Retries pass through the bucket too: each one costs ECS a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.retries.bucket import Clock, TokenBucket


def pace(client: Any, rates: Mapping[str, float], clock: Clock | None = None) -> Any:
    """Pace ``client``'s operations named in ``rates`` (calls a second) at those rates; returns the client.

    Registered first on ``before-send.<service>.<operation>``: every HTTP attempt takes a token before
    any other handler (and the network) sees it.
    """
    service = client.meta.service_model.service_id.hyphenize()
    for operation, rate in rates.items():
        if rate <= 0:
            raise ValueError(f"the pace of {operation} must be positive, not {rate}")
        bucket = TokenBucket(max_rate=rate, clock=clock or Clock(), min_rate=rate)
        client.meta.events.register_first(f"before-send.{service}.{operation}", _Take(bucket))
    return client


class _Take:
    """Takes one token from the bucket before the request is sent (blocks until there is one)."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    def __call__(self, **_: Any) -> None:
        self.bucket.acquire()
