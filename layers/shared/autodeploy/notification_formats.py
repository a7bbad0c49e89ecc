"""The three renderings of a ``RolloutNews``: the SNS subject, the email text and the chat message.

The chat message is an Amazon Q Developer in chat applications (formerly AWS Chatbot) custom
notification, as its admin guide ("Custom notifications using Amazon Q Developer in chat
applications", docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html) defines it:
``version`` "1.0" and ``source`` "custom" (both required), an optional ``id``, ``content`` with
``textType`` "client-markdown" (the only one supported: rendered in the chat platform's own
markdown), ``title``, ``description``, ``nextSteps`` and ``keywords``, and ``metadata`` with
``threadId`` (notifications with the same one are grouped in a thread, when the channel's
preferences allow threads), ``summary``, ``eventType``, ``relatedResources`` and ``additionalContext``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from autodeploy.registration import display_name as target_label
from autodeploy.rollout_news import NextStep, RolloutNews

# SNS Publish, Subject: "UTF-8 text with no line breaks or control characters, and less than 100
# characters long" (botocore's sns service-2.json). ASCII, so the subject reads the same in any mail client.
SUBJECT_LIMIT = 99
# Our budgets for the chat message, not AWS's (the guide's parameter table states no lengths): a
# title reads on one line, a description fits a screen, a keyword is a short tag.
TITLE_LIMIT = 250
DESCRIPTION_LIMIT = 3000
KEYWORD_LIMIT = 50
# Custom action buttons attach by event type: CustomActionAttachment.NotificationType is
# [a-zA-Z0-9-]+, 1 to 100 characters (botocore's chatbot service-2.json).
EVENT_TYPE_LIMIT = 100
_NOT_EVENT_TYPE = re.compile(r"[^a-zA-Z0-9-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_KINDS = {"service": "ECS service", "stack": "CloudFormation stack"}


def subject_line(news: RolloutNews) -> str:
    """``[autodeploy] SUCCEEDED prod/web: web:1.0.3 in 480s``: the status and the target survive any cut."""
    head = f"[autodeploy] {_ascii(news.status)} "
    target = _ascii(target_label(news.target))
    lead = f" in {news.lead_time_seconds}s" if news.lead_time_seconds is not None else ""
    tail = f": {_ascii(news.image_label)}{lead}"
    room = SUBJECT_LIMIT - len(head)
    if len(target) + len(tail) > room:
        target = _clip_middle(target, max(room - min(len(tail), 24), room // 2))
        tail = _clip(tail, room - len(target), "...")
    return (head + target + tail)[:SUBJECT_LIMIT]


def email_text(news: RolloutNews) -> str:
    """Plain text for email subscribers: what happened, the facts, what to run."""
    rows = [
        ("Target", f"{target_label(news.target)} ({_describe_target(news.target)})"),
        ("ARN", news.target),
        ("Image", news.image_label),
        ("Digest", news.digest),
        ("Status", news.status),
        ("Why", news.reason),
        *_optional_rows(news),
        ("Pushed at", news.pushed_at.isoformat()),
        ("Event", news.event_id),
    ]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{news.status}: {news.headline}", ""]
    lines += [f"{name + ':':<{width}}{_one_line(value)}" for name, value in rows]
    if news.steps:
        lines += ["", "What to run:"]
        lines += [f"  {step.command}    # {step.why}" for step in news.steps]
    if news.failure:
        lines += ["", "Failure details:", json.dumps(dict(news.failure), indent=2, default=str)[:4000]]
    return "\n".join(lines) + "\n"


def chat_notification(news: RolloutNews) -> dict[str, Any]:
    """The custom notification a chat channel mapped to the chat topic shows."""
    label = target_label(news.target)
    lines = [
        f"*Target* {_code(label)}: {_describe_target(news.target)}",
        f"*Image* {_code(news.image_label)} {_code(news.digest[:19])}",
        f"*Why* {_clip(_safe(news.reason), 1000)}",
        *(f"*{_safe(name)}* {_clip(_safe(value), 300)}" for name, value in _optional_rows(news)),
    ]
    keywords = [news.status, label, news.repository]
    context = {
        "target": news.target,
        "targetLabel": label,
        "status": news.status,
        "reasonCode": news.reason_code,
        "repository": news.repository,
        "tag": news.tag or "",
        "digest": news.digest,
        "eventId": news.event_id,
    }
    return {
        "version": "1.0",
        "source": "custom",
        "id": f"{news.thread_id}:{news.status}:{news.event_id}",
        "content": {
            "textType": "client-markdown",
            "title": _clip(f"{news.presentation.emoji} {_safe(news.headline)}", TITLE_LIMIT),
            "description": _clip("\n".join(lines), DESCRIPTION_LIMIT),
            "nextSteps": [_step(step) for step in news.steps],
            "keywords": [_clip(_safe(k), KEYWORD_LIMIT) for k in keywords if k],
        },
        "metadata": {
            "threadId": news.thread_id,
            "summary": _clip(_safe(f"{news.status}: {news.headline}"), TITLE_LIMIT),
            "eventType": event_type(news.status),
            "relatedResources": [news.target],
            "additionalContext": {k: v for k, v in context.items() if v},
        },
    }


def event_type(status: str) -> str:
    """``autodeploy-rolled-back``: what a custom action button's NotificationType matches."""
    text = _NOT_EVENT_TYPE.sub("-", f"autodeploy-{status.lower()}".replace("_", "-"))
    return text.strip("-")[:EVENT_TYPE_LIMIT]


def _optional_rows(news: RolloutNews) -> list[tuple[str, str]]:
    rows = []
    if news.lead_time_seconds is not None:
        rows.append(("Lead time", f"{news.lead_time_seconds}s from push"))
    if news.previous_image:
        rows.append(("Replaces", news.previous_image))
    rows += [(name.replace("_", " ").capitalize(), str(value)) for name, value in news.details.items()]
    return rows


def _describe_target(arn: str) -> str:
    """``ECS service in eu-west-1, account 111122223333``: names repeat across regions and accounts."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return "target"
    kind = _KINDS.get(parts[5].split("/", 1)[0], "target")
    return f"{kind} in {parts[3]}, account {parts[4]}"


def _step(step: NextStep) -> str:
    return f"{_code(step.command)}: {_safe(step.why)}"


def _safe(text: str) -> str:
    """Text from AWS or a tag, made inert: Slack reads ``<...>`` as links and mentions (``<!channel>``)."""
    return _one_line(text).replace("<", "\u2039").replace(">", "\u203a").replace("`", "'")


def _code(text: str) -> str:
    return f"`{_safe(text)}`"


def _one_line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def _ascii(text: str) -> str:
    return _one_line(text).encode("ascii", "replace").decode()


def _clip_middle(text: str, limit: int) -> str:
    """``cluster-na...service-name``: both ends of a long cluster/service stay."""
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head) :]


def _clip(text: str, limit: int, ellipsis: str = "\u2026") -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)] + ellipsis[: max(limit, 0)]
