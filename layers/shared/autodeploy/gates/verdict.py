"""What every gate answers: open, or why not, and what reopens it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Gate(StrEnum):
    """The gates a target declares with tags; the value is what a WAITING record names."""

    SCAN = "scan"
    BAKE = "bake"
    WINDOW = "window"
    APPROVAL = "approval"


class GateStatus(StrEnum):
    OPEN = "open"  # the push may go on
    WAITING = "waiting"  # not yet: ``reopened_by`` (and, when known, ``reopens_at``) says what changes it
    REJECTED = "rejected"  # never: no event can open the gate for this digest


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """One gate's answer for one digest on one target at one instant.

    ``reopens_at``: when to look again even if no event arrives (UTC): the window's next opening,
    the bake's end, the scan's or the approval's deadline (where the gate then decides by
    itself). ``reopened_by``: what opens it, for people and for the waiting notification.
    """

    gate: Gate
    status: GateStatus
    reason: str
    reopens_at: datetime | None = None
    reopened_by: str = ""

    def __post_init__(self) -> None:
        if self.reopens_at is not None and self.reopens_at.tzinfo is None:
            raise ValueError(f"{self.gate} verdict: reopens_at must be timezone-aware (UTC)")
        if self.status is GateStatus.WAITING and not self.reopened_by:
            raise ValueError(f"{self.gate} verdict: a waiting gate says what reopens it")

    @property
    def open(self) -> bool:
        return self.status is GateStatus.OPEN

    @classmethod
    def opened(cls, gate: Gate, reason: str) -> GateVerdict:
        return cls(gate, GateStatus.OPEN, reason)

    @classmethod
    def waiting(cls, gate: Gate, reason: str, reopened_by: str, reopens_at: datetime | None = None) -> GateVerdict:
        return cls(gate, GateStatus.WAITING, reason, reopens_at, reopened_by)

    @classmethod
    def rejected(cls, gate: Gate, reason: str) -> GateVerdict:
        return cls(gate, GateStatus.REJECTED, reason)
