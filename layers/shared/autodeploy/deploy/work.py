"""A rollout worker's use case: one work message (a push and a chunk of its free targets), deployed
within the invocation's time.

Before each target the worker asks how much time its invocation has left; below ``RESERVE_MS`` it
takes no new target. The targets it did not reach are sent again as a new work message (the
message it got then counts as done), or, when it reached none at all, the message is reported as
failed: SQS delivers it again after its visibility timeout and, after maxReceiveCount deliveries,
moves it to the failure queue, the targets named in it. Every target's work is idempotent: a
redelivered message reuses the revision it registered (its provenance tags) and the lock it took.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from autodeploy.deploy.dispatch import RolloutWork
from autodeploy.deploy.outcome import DeployReport
from autodeploy.deploy.use_case import DeployOnPush
from autodeploy.errors import RetryableError

# One target's worst case after the check: two paced ECS calls (a token each at the worker's share
# of the account's rate, under 3 s at two workers) and botocore's retries of a throttled or failed
# call (adaptive mode, at most 6 attempts with backoff capped at 20 s).
RESERVE_MS = 30_000


@dataclass(slots=True)
class WorkDone:
    report: DeployReport
    resent: list[str] = field(default_factory=list)  # targets sent again for lack of time


class RolloutWorker:
    def __init__(
        self, deployer: DeployOnPush, send: Callable[[Sequence[str]], None], reserve_ms: int = RESERVE_MS
    ) -> None:
        self._deployer = deployer
        self._send = send
        self._reserve_ms = reserve_ms

    @property
    def deployer(self) -> DeployOnPush:
        return self._deployer

    def work(self, work: RolloutWork, remaining_ms: Callable[[], int]) -> WorkDone:
        """Deploy the message's targets; raise RetryableError for the message to come back."""
        if remaining_ms() < self._reserve_ms:
            raise RetryableError(f"no time left for {len(work.targets)} targets: {', '.join(work.arns())}")
        report, left = self._deployer.deploy_handed_off(
            work.push, list(work.targets), lambda: remaining_ms() >= self._reserve_ms
        )
        if report.retryable:  # the whole message comes back; the targets done by then are no-ops
            raise RetryableError("; ".join(report.retryable))
        if not left:
            return WorkDone(report)
        if len(left) == len(work.targets):
            raise RetryableError(f"no time left for {len(left)} targets: {', '.join(t.arn for t in left)}")
        self._send([RolloutWork(work.push, tuple(left)).to_message()])
        return WorkDone(report, [t.arn for t in left])
