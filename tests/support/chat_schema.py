"""What Amazon Q Developer in chat applications (formerly AWS Chatbot) accepts as a custom notification.

Source: the admin guide's "Custom notifications using Amazon Q Developer in chat applications"
(https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html), "Event schema" and
"Parameter details": ``version`` is required and must be "1.0"; ``source`` is required and must be
"custom"; ``id`` is an optional unique event identifier; ``content.textType`` supports only
"client-markdown"; ``title``, ``description``, ``nextSteps`` and ``keywords`` are strings or lists
of strings under ``content``; ``threadId``, ``summary``, ``eventType``, ``relatedResources`` and
``additionalContext`` (customer-provided string values) under ``metadata``; ``threadId`` groups
notifications in one thread.
The event type is what a custom action attaches to: CustomActionAttachment.NotificationType in
botocore's chatbot service-2.json is 1 to 100 characters of ``[a-zA-Z0-9-]``.
The stored copy of the guide states no field lengths; the length checks are our own budgets
(autodeploy.notification_formats), so a message that grows past them fails here first.
"""

from __future__ import annotations

import re
from typing import Any

from autodeploy.notification_formats import DESCRIPTION_LIMIT, KEYWORD_LIMIT, TITLE_LIMIT

TOP = {"version", "source", "id", "content", "metadata"}
CONTENT = {"textType", "title", "description", "nextSteps", "keywords"}
METADATA = {"threadId", "summary", "eventType", "relatedResources", "additionalContext", "enableCustomActions"}
EVENT_TYPE = re.compile(r"[a-zA-Z0-9-]{1,100}")


def problems(message: Any) -> list[str]:
    """Every way ``message`` departs from the documented schema or our budgets; empty if none."""
    if not isinstance(message, dict):
        return ["not a JSON object"]
    found = [f"unknown field {k}" for k in sorted(set(message) - TOP)]
    if message.get("version") != "1.0":
        found.append(f"version must be '1.0', got {message.get('version')!r}")
    if message.get("source") != "custom":
        found.append(f"source must be 'custom', got {message.get('source')!r}")
    if "id" in message and not _text(message["id"]):
        found.append("id must be a non-empty string")
    content = message.get("content")
    if not isinstance(content, dict):
        return [*found, "content must be an object"]
    found += [f"unknown content field {k}" for k in sorted(set(content) - CONTENT)]
    if content.get("textType", "client-markdown") != "client-markdown":
        found.append(f"textType must be 'client-markdown', got {content.get('textType')!r}")
    found += _string(content, "title", TITLE_LIMIT) + _string(content, "description", DESCRIPTION_LIMIT)
    found += _strings(content, "nextSteps", None) + _strings(content, "keywords", KEYWORD_LIMIT)
    metadata = message.get("metadata", {})
    if not isinstance(metadata, dict):
        return [*found, "metadata must be an object"]
    found += [f"unknown metadata field {k}" for k in sorted(set(metadata) - METADATA)]
    found += _string(metadata, "threadId", None) + _string(metadata, "summary", TITLE_LIMIT)
    found += _strings(metadata, "relatedResources", None)
    if "eventType" in metadata and not EVENT_TYPE.fullmatch(str(metadata["eventType"])):
        found.append(f"eventType {metadata['eventType']!r} is not 1-100 of [a-zA-Z0-9-]")
    context = metadata.get("additionalContext", {})
    if not isinstance(context, dict) or not all(isinstance(k, str) and _text(v) for k, v in context.items()):
        found.append("additionalContext must map names to non-empty strings")
    if "enableCustomActions" in metadata and not isinstance(metadata["enableCustomActions"], bool):
        found.append("enableCustomActions must be a boolean")
    return found


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _string(parent: dict[str, Any], key: str, limit: int | None) -> list[str]:
    if key not in parent:
        return []
    value = parent[key]
    if not _text(value):
        return [f"{key} must be a non-empty string"]
    if limit is not None and len(value) > limit:
        return [f"{key} is {len(value)} characters, more than {limit}"]
    return []


def _strings(parent: dict[str, Any], key: str, limit: int | None) -> list[str]:
    if key not in parent:
        return []
    values = parent[key]
    if not isinstance(values, list) or not all(_text(v) for v in values):
        return [f"{key} must be a list of non-empty strings"]
    return [f"{key} item {v!r} is longer than {limit}" for v in values if limit is not None and len(v) > limit]
