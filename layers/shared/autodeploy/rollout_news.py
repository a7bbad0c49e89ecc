"""A piece of news about a rollout, and how each status reads to people.

How a status reads (its emoji, headline and next steps) is data (``PRESENTATIONS``), not code: a
new status, such as a push ``WAITING`` at a release gate, renders with its reason, the facts its
producer gives (``details``) and the steps it names (``next_steps``); a status the table does not know
reads neutrally rather than failing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autodeploy.gates.verdict import GateVerdict
from autodeploy.records import DeploymentRecord
from autodeploy.registration import display_name as target_label


@dataclass(frozen=True, slots=True)
class NextStep:
    """A command to run and why; ``{target}``, ``{digest}`` and ``{image}`` are filled in."""

    command: str
    why: str

    def filled(self, news: RolloutNews) -> NextStep:
        values = _Fill(target=target_label(news.target), digest=news.digest, image=news.image_label)
        try:
            return NextStep(self.command.format_map(values), self.why.format_map(values))
        except (ValueError, IndexError):  # not a template: a literal brace
            return self


class _Fill(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # a brace that is not one of ours stays as written


@dataclass(frozen=True, slots=True)
class Presentation:
    emoji: str  # a shortcode both Slack and Teams (through the chat application) show
    headline: str  # ``{image}`` and ``{target}`` are filled in
    next_steps: tuple[NextStep, ...] = ()


_STATUS = NextStep("autodeploy status {target}", "what is in flight, waiting and quarantined there")
_HISTORY = NextStep("autodeploy history {target}", "its deployments, with each failure's details")
_ROLLBACK = NextStep("autodeploy rollback {target}", "deploys the last good image before the current")
_RELEASE = NextStep("autodeploy release {target} {digest}", "lifts the quarantine once the image is fixed")

PRESENTATIONS: Mapping[str, Presentation] = {
    "IN_PROGRESS": Presentation(":rocket:", "{image} is rolling out to {target}", (_STATUS,)),
    "SUCCEEDED": Presentation(":white_check_mark:", "{image} is live on {target}", (_HISTORY,)),
    "FAILED": Presentation(
        ":x:",
        "{image} failed on {target}",
        (_HISTORY, NextStep("autodeploy verify {target}", "checks the target's tags, roles and alarms")),
    ),
    "ROLLED_BACK": Presentation(
        ":leftwards_arrow_with_hook:", "{image} was rolled back on {target}", (_HISTORY, _RELEASE)
    ),
    "TIMED_OUT": Presentation(
        ":hourglass:", "{image} did not settle on {target} in time", (_STATUS, _ROLLBACK, _RELEASE)
    ),
    # A push held at a release gate: the gate gives the facts (which gate, what opens it) and the steps.
    "WAITING": Presentation(":double_vertical_bar:", "{image} waits at a gate before {target}", (_STATUS,)),
    # Only a release gate's refusal is notified (findings, an upstream alarm, a denial): "not newer" is not news.
    "REJECTED": Presentation(":no_entry:", "{image} was refused by a release gate of {target}", (_HISTORY,)),
}
_UNKNOWN = Presentation(":information_source:", "{image} on {target}: {status}", (_STATUS,))
# What a person can run to open a gate (the others open by themselves: a scan, a bake, a window).
GATE_STEPS: Mapping[str, tuple[NextStep, ...]] = {
    "approval": (
        NextStep("autodeploy approve {target} {digest}", "lets the push deploy; who approved is recorded"),
        NextStep("autodeploy deny {target} {digest} --reason TEXT", "refuses it, with the reason recorded"),
    ),
}


@dataclass(frozen=True, slots=True)
class RolloutNews:
    """What happened to one push on one target, in the words people are told it."""

    target: str  # the target's ARN
    status: str
    reason: str
    repository: str
    digest: str
    event_id: str
    pushed_at: datetime
    tag: str | None = None
    reason_code: str = ""
    target_kind: str = ""
    target_name: str = ""
    image: str | None = None
    previous_image: str | None = None
    lead_time_seconds: int | None = None
    failure: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, str] = field(default_factory=dict)  # e.g. the gate and what opens it
    next_steps: tuple[NextStep, ...] = ()  # what to run, before the status's own steps (templates too)

    @classmethod
    def of(cls, record: DeploymentRecord, **extra: Any) -> RolloutNews:
        return cls(
            target=record.target,
            status=record.status.value,
            reason=record.reason,
            repository=record.repository,
            digest=record.digest,
            event_id=record.event_id,
            pushed_at=record.pushed_at,
            tag=record.tag,
            reason_code=record.reason_code.value,
            target_kind=record.target_kind,
            target_name=record.target_name,
            image=record.image,
            previous_image=record.previous_image,
            lead_time_seconds=record.lead_time_seconds,
            failure=record.failure,
            **extra,
        )

    @property
    def image_label(self) -> str:
        return f"{self.repository}:{self.tag}" if self.tag else f"{self.repository}@{self.digest[:19]}"

    @property
    def presentation(self) -> Presentation:
        return PRESENTATIONS.get(self.status, _UNKNOWN)

    @property
    def headline(self) -> str:
        return self.presentation.headline.format(
            image=self.image_label, target=target_label(self.target), status=self.status
        )

    @property
    def steps(self) -> tuple[NextStep, ...]:
        """The producer's steps first (they are the most specific), then the status's own, each once."""
        steps: dict[str, NextStep] = {}
        for step in (s.filled(self) for s in (*self.next_steps, *self.presentation.next_steps)):
            steps.setdefault(step.command, step)
        return tuple(steps.values())

    @property
    def thread_id(self) -> str:
        """One thread per rollout of a target: stable across its messages (waiting, started, its end).

        The target's identity (its ARN, hashed: readable names repeat across accounts and regions)
        with the digest deployed, so each rollout's messages reply to its first, and the next
        rollout of the same target starts a thread of its own."""
        target = hashlib.sha256(self.target.encode()).hexdigest()[:16]
        return f"autodeploy-{target}-{self.digest.removeprefix('sha256:')[:16]}"


def waiting_at(verdict: GateVerdict) -> dict[str, Any]:
    """The ``details`` and ``next_steps`` of a push a gate holds, for ``RolloutNews`` or ``notification_for``."""
    details = {"gate": verdict.gate.value, "opens_when": verdict.reopened_by}
    if verdict.reopens_at is not None:
        details["looks_again_at"] = f"{verdict.reopens_at:%Y-%m-%dT%H:%M:%SZ}"
    return {"details": details, "next_steps": GATE_STEPS.get(verdict.gate.value, ())}
