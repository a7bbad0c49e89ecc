"""What people are told about a rollout, and how each audience reads it.

One ``RolloutNews`` (what happened to one push on one target) renders three ways:
- an SNS subject and a plain-text body for email subscribers (``[autodeploy] SUCCEEDED prod/web: web:1.0.3``);
- the structured JSON body that queues and functions subscribed to the topic read (unchanged keys);
- an Amazon Q Developer in chat applications (formerly AWS Chatbot) *custom notification*, so a topic
  mapped to a Slack or Teams channel shows a readable message with no code.

How a status reads is data (``autodeploy.rollout_news.PRESENTATIONS``); the renderings are in
``autodeploy.notification_formats``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from autodeploy.notification_formats import chat_notification, email_text, subject_line
from autodeploy.records import DeploymentRecord, Status
from autodeploy.registration import display_name as target_label
from autodeploy.rollout_news import RolloutNews


@dataclass(frozen=True, slots=True)
class Notification:
    """One piece of news, rendered for every audience the notifier publishes to."""

    subject: str  # SNS Subject: the email subject line
    body: dict[str, Any]  # structured JSON: what queues and functions subscribed to the topic read
    status: str  # the ``status`` message attribute, for subscription filter policies
    email: str = ""  # plain text for email subscribers
    chat: dict[str, Any] = field(default_factory=dict)  # the chat application's custom notification


class Notifier(Protocol):
    def publish(self, notifications: list[Notification]) -> None: ...


NOTIFIED = frozenset({Status.IN_PROGRESS, Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK, Status.TIMED_OUT})


def notification_for(record: DeploymentRecord, **extra: Any) -> Notification:
    """The notification of a ledger record; ``extra`` adds ``details`` and ``next_steps``."""
    return render(RolloutNews.of(record, **extra))


def render(news: RolloutNews) -> Notification:
    body = {
        "target": news.target,
        "target_name": news.target_name,
        "target_label": target_label(news.target),
        "target_kind": news.target_kind,
        "status": news.status,
        "reason": news.reason,
        "reason_code": news.reason_code,
        "repository": news.repository,
        "tag": news.tag,
        "digest": news.digest,
        "image": news.image,
        "previous_image": news.previous_image,
        "lead_time_seconds": news.lead_time_seconds,
        "event_id": news.event_id,
        "pushed_at": news.pushed_at.isoformat(),
        "failure": dict(news.failure) or None,
        "details": dict(news.details) or None,
        "next_steps": [step.command for step in news.steps] or None,
    }
    return Notification(
        subject=subject_line(news),
        body={k: v for k, v in body.items() if v not in (None, "")},
        status=news.status,
        email=email_text(news),
        chat=chat_notification(news),
    )
