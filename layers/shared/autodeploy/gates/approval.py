"""The approval gate: a person approves or denies a waiting push; no answer within the timeout
(``ApprovalTimeoutHours``) expires the request, and the push is refused.

The wait starts when the push reached this gate (``requested_at``); an answer given after the
request expired does not revive it (a newer push, or a manual promotion, asks again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from autodeploy.gates.verdict import Gate, GateVerdict


class Answer(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """Who answered (the caller's identity, an ARN), how, when, and why (a denial's reason)."""

    answer: Answer
    by: str
    at: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.by:
            raise ValueError("an approval decision names who made it")
        if self.at.tzinfo is None:
            raise ValueError("an approval decision's time is timezone-aware (UTC)")


def evaluate_approval(
    requested_at: datetime,
    decision: ApprovalDecision | None,
    now: datetime,
    timeout: timedelta,
    target: str,
    digest: str,
) -> GateVerdict:
    """Open when approved in time; REJECTED when denied or expired; else wait, saying what to run."""
    expires = requested_at + timeout
    if decision is not None and decision.at <= expires:
        when = f"{decision.at:%Y-%m-%dT%H:%M:%SZ}"
        if decision.answer is Answer.APPROVED:
            return GateVerdict.opened(Gate.APPROVAL, f"approved by {decision.by} at {when}")
        because = f": {decision.reason}" if decision.reason else " (no reason given)"
        return GateVerdict.rejected(Gate.APPROVAL, f"denied by {decision.by} at {when}{because}")
    if now >= expires or decision is not None:
        return GateVerdict.rejected(
            Gate.APPROVAL,
            f"no approval within {timeout.total_seconds() / 3600:g} hours: the request expired at "
            f"{expires:%Y-%m-%dT%H:%M:%SZ}",
        )
    return GateVerdict.waiting(
        Gate.APPROVAL,
        f"waiting for a person's approval until {expires:%Y-%m-%dT%H:%M:%SZ}",
        reopened_by=f"autodeploy approve {target} {digest} (or: autodeploy deny {target} {digest} --reason ...)",
        reopens_at=expires,
    )
