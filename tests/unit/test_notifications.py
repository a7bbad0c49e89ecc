"""How a rollout's news reads: the SNS subject, the email text and the chat custom notification.

The chat message is checked against the Amazon Q Developer in chat applications admin guide's
"Custom notifications" event schema (tests/support/chat_schema.py names the document and what it
says); the subject against SNS's documented Subject constraints (botocore's sns service-2.json:
"UTF-8 text with no line breaks or control characters, and less than 100 characters long").
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from autodeploy.cli import build_parser
from autodeploy.gates.approval import evaluate_approval
from autodeploy.gates.window import DeployWindows, evaluate_window
from autodeploy.notifications import notification_for, render
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.rollout_news import PRESENTATIONS, NextStep, RolloutNews, waiting_at
from tests.support import chat_schema

SERVICE = "arn:aws:ecs:eu-west-1:111122223333:service/prod/web"
STACK = "arn:aws:cloudformation:eu-west-1:111122223333:stack/web-app/0a1b2c3d-0000-0000-0000-000000000000"
DIGEST = "sha256:" + "4a" * 32
NOON = datetime(2026, 11, 26, 12, tzinfo=UTC)
NEWS = RolloutNews(
    target=SERVICE,
    status="SUCCEEDED",
    reason="the rollout reached a steady state",
    repository="web",
    digest=DIGEST,
    event_id="0f1e2d3c-0000-0000-0000-000000000000",
    pushed_at=NOON,
    tag="1.0.3",
    reason_code="rollout-succeeded",
    target_kind="service",
    target_name="web",
    image=f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@{DIGEST}",
    previous_image="111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:1.0.2",
    lead_time_seconds=480,
)
# A push held at the approval gate, as the release gates report it (autodeploy.gates.approval): its
# own status, the gate's facts and the commands that open it, with no code of its own in the renderers.
APPROVAL = evaluate_approval(NOON, None, NOON, timedelta(hours=24), "prod/web", DIGEST)
WAITING = replace(
    NEWS, status="WAITING", reason=APPROVAL.reason, reason_code="gate", lead_time_seconds=None, **waiting_at(APPROVAL)
)


def test_the_chat_message_is_a_documented_custom_notification():
    chat = render(NEWS).chat
    assert chat_schema.problems(chat) == []
    assert (chat["version"], chat["source"], chat["content"]["textType"]) == ("1.0", "custom", "client-markdown")
    assert chat["content"]["title"] == ":white_check_mark: web:1.0.3 is live on prod/web"
    assert "`prod/web`: ECS service in eu-west-1, account 111122223333" in chat["content"]["description"]
    assert chat["metadata"]["eventType"] == "autodeploy-succeeded"
    assert chat["metadata"]["relatedResources"] == [SERVICE]
    assert chat["metadata"]["additionalContext"]["digest"] == DIGEST
    assert chat["content"]["keywords"] == ["SUCCEEDED", "prod/web", "web"]
    json.dumps(chat)  # what the notifier sends


def test_the_schema_check_finds_what_the_guide_does_not_allow():
    """The check is not a formality: each departure from the guide is named."""
    chat = render(NEWS).chat
    broken = {
        **chat,
        "version": "2.0",
        "source": "aws.ecs",
        "content": {**chat["content"], "textType": "markdown", "nextSteps": "run it"},
        "metadata": {**chat["metadata"], "eventType": "autodeploy.succeeded", "additionalContext": {"n": 1}},
    }
    assert chat_schema.problems(broken) == [
        "version must be '1.0', got '2.0'",
        "source must be 'custom', got 'aws.ecs'",
        "textType must be 'client-markdown', got 'markdown'",
        "nextSteps must be a list of non-empty strings",
        "eventType 'autodeploy.succeeded' is not 1-100 of [a-zA-Z0-9-]",
        "additionalContext must map names to non-empty strings",
    ]


@pytest.mark.parametrize("status", [*PRESENTATIONS, "PAUSED_BY_SOMETHING_NEW"])
def test_every_status_renders_a_valid_message_whose_steps_the_cli_takes(status):
    """A status the table does not know renders too: neutrally, with `autodeploy status`."""
    notification = render(replace(NEWS, status=status))
    assert chat_schema.problems(notification.chat) == []
    assert notification.subject.startswith(f"[autodeploy] {status} prod/web: web:1.0.3")
    steps = [step.command for step in replace(NEWS, status=status).steps]
    assert steps
    for command in steps:
        words = shlex.split(command)
        assert words[0] == "autodeploy"
        build_parser().parse_args(words[1:])  # a usage error exits: every step is a real command
        assert f"`{command}`: " in "\n".join(notification.chat["content"]["nextSteps"])


def test_a_push_waiting_for_approval_renders_its_gate_and_the_commands_that_open_it():
    notification = render(WAITING)
    chat = notification.chat
    assert chat_schema.problems(chat) == []
    assert chat["content"]["title"] == ":double_vertical_bar: web:1.0.3 waits at a gate before prod/web"
    description = chat["content"]["description"]
    assert "*Why* waiting for a person's approval until 2026-11-27T12:00:00Z" in description
    assert "*Gate* approval" in description
    assert "*Looks again at* 2026-11-27T12:00:00Z" in description
    assert chat["content"]["nextSteps"] == [
        f"`autodeploy approve prod/web {DIGEST}`: lets the push deploy; who approved is recorded",
        f"`autodeploy deny prod/web {DIGEST} --reason TEXT`: refuses it, with the reason recorded",
        "`autodeploy status prod/web`: what is in flight, waiting and quarantined there",
    ]
    assert chat["metadata"]["eventType"] == "autodeploy-waiting"
    assert notification.subject == "[autodeploy] WAITING prod/web: web:1.0.3"
    assert f"  autodeploy approve prod/web {DIGEST}    # lets the push deploy; who approved is recorded" in (
        notification.email
    )
    assert notification.body["details"]["opens_when"] == APPROVAL.reopened_by


def test_a_gate_that_opens_by_itself_says_when_and_names_no_command():
    window = evaluate_window(
        DeployWindows.parse("Mon-Fri 08:00-17:00 Europe/Berlin"), datetime(2026, 11, 28, 12, tzinfo=UTC)
    )
    notification = render(replace(WAITING, reason=window.reason, **waiting_at(window)))
    assert chat_schema.problems(notification.chat) == []
    assert "*Gate* window" in notification.chat["content"]["description"]
    assert "*Looks again at* 2026-11-30T07:00:00Z" in notification.chat["content"]["description"]
    assert [step.command for step in replace(WAITING, **waiting_at(window)).steps] == ["autodeploy status prod/web"]


def test_a_producers_literal_braces_stay_as_written():
    step = NextStep("echo {not_ours} {target}", "a {")
    assert step.filled(NEWS) == NextStep("echo {not_ours} {target}", "a {")  # "a {" is no template
    assert NextStep("echo {not_ours} {target}", "why").filled(NEWS) == NextStep("echo {not_ours} prod/web", "why")


def test_a_step_the_producer_names_comes_first_and_once_with_its_own_words():
    mine = NextStep("autodeploy status prod/web", "shows the approval gate holding it")
    steps = replace(WAITING, next_steps=(mine, *WAITING.next_steps)).steps
    assert [step.command for step in steps] == [
        "autodeploy status prod/web",
        f"autodeploy approve prod/web {DIGEST}",
        f"autodeploy deny prod/web {DIGEST} --reason TEXT",
    ]
    assert steps[0] == mine


def test_a_rollouts_messages_share_a_thread_and_the_next_rollout_starts_its_own():
    waiting, started, done = (render(replace(NEWS, status=s)).chat for s in ("WAITING", "IN_PROGRESS", "SUCCEEDED"))
    thread = done["metadata"]["threadId"]
    assert waiting["metadata"]["threadId"] == started["metadata"]["threadId"] == thread
    assert len({waiting["id"], started["id"], done["id"]}) == 3
    next_push = render(replace(NEWS, digest="sha256:" + "5b" * 32, tag="1.0.4")).chat
    assert next_push["metadata"]["threadId"] != thread
    # The same cluster/service in another account is another target: another thread.
    elsewhere = render(replace(NEWS, target=SERVICE.replace("111122223333", "444455556666"))).chat
    assert elsewhere["metadata"]["threadId"] != thread


def test_the_subject_names_the_cluster_and_service_or_the_stack():
    assert render(NEWS).subject == "[autodeploy] SUCCEEDED prod/web: web:1.0.3 in 480s"
    stack = render(replace(NEWS, target=STACK, target_kind="stack", target_name="web-app"))
    assert stack.subject == "[autodeploy] SUCCEEDED web-app: web:1.0.3 in 480s"
    assert stack.chat["content"]["title"] == ":white_check_mark: web:1.0.3 is live on web-app"
    assert "CloudFormation stack in eu-west-1" in stack.chat["content"]["description"]


def test_a_long_subject_keeps_the_status_and_the_target_within_snss_limit():
    cluster, service = "c" * 60, "s" * 60
    news = replace(NEWS, target=f"arn:aws:ecs:eu-west-1:111122223333:service/{cluster}/{service}", tag="t" * 80)
    subject = render(news).subject
    assert len(subject) <= 99
    target, image = subject.removeprefix("[autodeploy] SUCCEEDED ").split(": ")
    assert (target, len(target)) == ("c" * 24 + "..." + "s" * 25, 52)  # both ends of cluster/service
    assert image == "web:" + "t" * 15 + "..."
    assert len(subject) == 99
    short_target = render(replace(NEWS, tag="t" * 120)).subject
    assert len(short_target) == 99
    assert short_target.startswith("[autodeploy] SUCCEEDED prod/web: web:tttt")


def test_text_from_aws_cannot_ping_a_channel_or_break_the_subject():
    """Slack reads <!channel> as a mention and <url|text> as a link; SNS refuses line breaks in a subject."""
    news = replace(NEWS, status="FAILED", reason="stopped: `boom` <!channel> see <http://x|here>\nnext line")
    notification = render(news)
    description = notification.chat["content"]["description"]
    assert "<" not in description and ">" not in description
    assert "*Why* stopped: 'boom' \u2039!channel\u203a see \u2039http://x|here\u203a next line" in description
    subject = render(replace(NEWS, tag="1.0\n3\u00e9")).subject
    assert subject == "[autodeploy] SUCCEEDED prod/web: web:1.0 3? in 480s"
    assert subject.isascii() and subject.isprintable()


def test_a_long_reason_stays_within_the_description_budget():
    chat = render(replace(NEWS, status="FAILED", reason="x" * 10_000, details={"note": "y" * 10_000})).chat
    assert chat_schema.problems(chat) == []
    assert "*Why* " + "x" * 999 + "\u2026" in chat["content"]["description"]


def test_the_email_is_plain_text_with_the_facts_and_what_to_run():
    email = render(replace(NEWS, status="ROLLED_BACK", failure={"stopped_tasks": [{"reason": "exit 1"}]})).email
    assert email.startswith("ROLLED_BACK: web:1.0.3 was rolled back on prod/web\n\n")
    assert f"ARN:       {SERVICE}\n" in email
    assert "Replaces:  111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:1.0.2\n" in email
    assert f"  autodeploy release prod/web {DIGEST}    # lifts the quarantine once the image is fixed\n" in email
    assert '"reason": "exit 1"' in email
    assert "`" not in email and "*" not in email


def test_a_ledger_record_keeps_the_json_body_subscribers_read():
    record = DeploymentRecord(
        target=SERVICE,
        target_kind="service",
        target_name="web",
        repository="web",
        tag="1.0.3",
        digest=DIGEST,
        status=Status.IN_PROGRESS,
        reason_code=Reason.DEPLOYED,
        reason="rollout started",
        event_id="e-1",
        pushed_at=NOON,
        recorded_at=NOON,
    )
    notification = notification_for(record)
    assert notification.status == "IN_PROGRESS"
    assert notification.body == {
        "target": SERVICE,
        "target_name": "web",
        "target_label": "prod/web",
        "target_kind": "service",
        "status": "IN_PROGRESS",
        "reason": "rollout started",
        "reason_code": "deployed",
        "repository": "web",
        "tag": "1.0.3",
        "digest": DIGEST,
        "event_id": "e-1",
        "pushed_at": "2026-11-26T12:00:00+00:00",
        "next_steps": ["autodeploy status prod/web"],
    }
