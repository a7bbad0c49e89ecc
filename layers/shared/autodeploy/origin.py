"""Events from another account or region than the function's are ignored unless allowed.

EventBridge delivers events from other accounts or regions when buses forward them; a push to
another account's repository must not deploy this account's services by accident. A forwarded
event keeps its source's ``account`` and ``region`` (the EventBridge PutPermission reference:
"Rules with an account field do not match any events sent from other accounts"), so for an ECR
push they name the registry the image is in: AcceptedAccounts are registry accounts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools.metrics import MetricUnit

from autodeploy.errors import ConfigurationError
from autodeploy.events import EventEnvelope
from autodeploy.image_reference import is_valid_account_id, is_valid_region
from autodeploy.observability import logger, metrics


def _words(environ: Mapping[str, str], name: str, valid: Callable[[str], bool], what: str) -> frozenset[str]:
    """Space- or comma-separated values, every one checked: a typo fails the first invocation."""
    words = frozenset(environ.get(name, "").replace(",", " ").split())
    bad = sorted(w for w in words if not valid(w))
    if bad:
        raise ConfigurationError(f"environment variable {name}: {', '.join(map(repr, bad))} not {what}")
    return words


@dataclass(frozen=True)
class AcceptedOrigins:
    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> AcceptedOrigins:
        return cls(
            _words(environ, "ACCEPTED_ACCOUNTS", is_valid_account_id, "12-digit account ids"),
            _words(environ, "ACCEPTED_REGIONS", is_valid_region, "region names"),
        )

    def refusal(self, envelope: EventEnvelope, own_account: str, own_region: str) -> str | None:
        """Why the event is ignored, or None when it comes from here (or from an allowed origin)."""
        if envelope.account != own_account and envelope.account not in self.accounts:
            return (
                f"event {envelope.id} comes from account {envelope.account}, not this function's ({own_account}); "
                "allow it with the AcceptedAccounts parameter"
            )
        if envelope.region != own_region and envelope.region not in self.regions:
            return (
                f"event {envelope.id} comes from region {envelope.region}, not this function's ({own_region}); "
                "allow it with the AcceptedRegions parameter"
            )
        return None


@cache
def accepted_origins() -> AcceptedOrigins:
    return AcceptedOrigins.from_environ()


def ignore_foreign(envelope: EventEnvelope, invoked_function_arn: str) -> str | None:
    """Log and count an event from elsewhere; returns why it is ignored (None: it is ours)."""
    reason = refusal(envelope, invoked_function_arn)
    if reason is not None:
        logger.warning("event from elsewhere ignored", extra={"reason": reason})
        metrics.add_metric(name="ForeignEventsIgnored", unit=MetricUnit.Count, value=1)
    return reason


def refusal(envelope: EventEnvelope, invoked_function_arn: str) -> str | None:
    """The function's own account comes from its ARN, its region from the Lambda environment."""
    parts = invoked_function_arn.split(":")
    own_account = parts[4] if len(parts) > 4 else ""
    own_region = os.environ.get("AWS_REGION") or (parts[3] if len(parts) > 3 else "")
    return accepted_origins().refusal(envelope, own_account, own_region)
