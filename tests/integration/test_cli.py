"""The `autodeploy` command where it runs: SAM environments, options anywhere, `verify`, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autodeploy import cli
from tools.world import ACCOUNT, REGISTRY, create_service, scalable_service

ECS_TASKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture
def staging_stack(aws, tmp_path, monkeypatch):
    """An installed ecs-autodeploy-staging stack whose outputs name the tables, and a samconfig.toml naming it."""
    topic = aws.sns.create_topic(Name="staging-notifications")["TopicArn"]
    template = {
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/staging/marker", "Type": "String", "Value": "x"},
            }
        },
        "Outputs": {
            "LedgerTableName": {"Value": aws.ledger_table},
            "DecisionsTableName": {"Value": aws.decisions_table},
            "NotificationTopicArn": {"Value": topic},
        },
    }
    aws.cloudformation.create_stack(StackName="ecs-autodeploy-staging", TemplateBody=json.dumps(template))
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[staging.global.parameters]\nstack_name = "ecs-autodeploy-staging"\n'
        '[staging.deploy.parameters]\nregion = "us-east-1"\n'
    )
    for name in ("LEDGER_TABLE", "DECISIONS_TABLE", "NOTIFICATION_TOPIC_ARN", "CHAT_NOTIFICATION_TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # restored after the CLI sets it
    return config, topic


def test_config_env_finds_the_tables_from_the_stack_samconfig_names(aws, web_service, staging_stack, capsys):
    config, _ = staging_stack
    assert cli.main(["status", "--config-env", "staging", "--config-file", str(config)]) == 0
    assert "service prod/web (web, semver, apply)" in capsys.readouterr().out
    # the same options before the command
    assert cli.main(["--config-env", "staging", "--config-file", str(config), "history", "prod/web"]) == 0
    assert capsys.readouterr().out.strip() == "no deployments recorded for this target"


def test_a_missing_stack_names_the_options_that_find_it(aws, web_service, staging_stack, capsys):
    config, _ = staging_stack
    assert cli.main(["status", "--stack", "nope", "--config-file", str(config)]) == 2
    assert capsys.readouterr().err.strip() == (
        "autodeploy: stack nope (--stack, region us-east-1) not found: name the installed stack with --stack NAME "
        "or --config-env ENV (samconfig.toml), and its region with --region, or give the table with --table"
    )
    assert cli.main(["status", "--config-env", "prod", "--config-file", str(config)]) == 2
    assert "--config-env prod: " in capsys.readouterr().err


def test_a_rollback_started_with_table_given_still_notifies_the_stacks_topic(aws, web_service, staging_stack):
    config, topic = staging_stack
    queue = aws.sqs.create_queue(QueueName="staging")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    code = cli.main(
        [
            "rollback",
            "prod/web",
            "--to",
            "1.4.0",
            "--no-wait",
            "--table",
            aws.ledger_table,
            "--config-env",
            "staging",
            "--config-file",
            str(config),
        ]
    )

    assert code == 0
    messages = aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    subjects = [json.loads(m["Body"])["Subject"] for m in messages]
    assert subjects == ["[autodeploy] IN_PROGRESS prod/web: web:1.4.0"]


def test_a_rollback_from_the_cli_tells_the_chat_topic_the_stack_names(aws, web_service, staging_stack):
    _, topic = staging_stack
    chat_topic = aws.sns.create_topic(Name="staging-chat")["TopicArn"]
    queue = aws.sqs.create_queue(QueueName="staging-chat")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=chat_topic, Protocol="sqs", Endpoint=arn)
    outputs = {
        "LedgerTableName": {"Value": aws.ledger_table},
        "NotificationTopicArn": {"Value": topic},
        "ChatNotificationTopicArn": {"Value": chat_topic},
    }
    template = {"Resources": {"Marker": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    aws.cloudformation.create_stack(StackName="ecs-autodeploy-chat", TemplateBody=json.dumps(template))

    code = cli.main(["rollback", "prod/web", "--to", "1.4.0", "--no-wait", "--stack", "ecs-autodeploy-chat"])

    assert code == 0
    messages = aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    titles = [json.loads(json.loads(m["Body"])["Message"])["content"]["title"] for m in messages]
    assert titles == [":rocket: web:1.4.0 is rolling out to prod/web"]


def test_version_usage_errors_and_limit_validation_exit_as_documented(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("autodeploy ")
    assert cli.main(["history", "prod/web", "--limit", "0"]) == 2
    assert "argument --limit: 0 must be 1 or more" in capsys.readouterr().err
    assert cli.main(["history", "prod/web", "--limit", "ten"]) == 2
    assert "'ten' is not a whole number" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2


@pytest.mark.parametrize("web_service", [False], indirect=True, ids=["without circuit breaker"])
def test_history_and_verify_print_json_for_scripts(aws, web_service, capsys):
    assert cli.main(["history", "prod/web", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    aws_iam(aws).create_role(RoleName="web-task", AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST))
    aws_iam(aws).create_role(RoleName="web-execution", AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST))
    assert cli.main(["verify", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert (result["name"], result["ok"]) == ("prod/web", True)
    # The service has no circuit breaker, which verify must warn of (ECS then never reports a
    # deployment FAILED).
    assert {c["subject"]: c["outcome"] for c in result["checks"]} == {
        "tags": "OK",
        "service": "OK",
        "circuit breaker": "WARN",
        "containers": "OK",
        "running image": "OK",
        "task role": "OK",
        "execution role": "OK",
    }


def aws_iam(aws):
    from autodeploy import wiring

    return wiring.aws_clients().iam


def test_verify_names_wrong_tags_roles_and_alarm_dimensions(aws, web_service, capsys):
    iam = aws_iam(aws)
    iam.create_role(RoleName="web-task", AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST))
    iam.create_role(RoleName="web-execution", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    create_service(
        aws.ecs,
        "prod",
        "api",
        f"{REGISTRY}/web:1.4.0",
        {"autodeploy:repository": "web", "autodeploy:tags": "semver 1.x"},
    )
    scalable_service(
        aws.ecs,
        aws.autoscaling,
        aws.cloudwatch,
        "prod",
        "shop",
        wrong_dimensions=True,
        extra_tags={"autodeploy:repository": "shop"},
    )

    assert cli.main(["verify"]) == 1

    out = capsys.readouterr().out
    assert "prod/api: FAIL\n  [FAIL] tags: autodeploy:tags='semver 1.x': expected 'any', 'semver'" in out
    execution = f"arn:aws:iam::{ACCOUNT}:role/web-execution"
    assert f"  [FAIL] execution role: {execution} trusts ec2.amazonaws.com, not ecs-tasks.amazonaws.com" in out
    assert f"  [FAIL] task role: arn:aws:iam::{ACCOUNT}:role/shop-task does not exist" in out
    assert "  [FAIL] running image: describing images of shop: RepositoryNotFoundException" in out
    assert (
        "  [FAIL] alarm shop-cpu-high: dimensions ServiceName: lacks ClusterName, so it can never see the "
        "service's data" in out
    )


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`autodeploy history web | head -1`: the reader goes away; no traceback, the SIGPIPE exit status."""
    script = (
        "import sys\n"
        "from autodeploy import cli\n"
        "from autodeploy.cli import commands\n"
        "def flood(env, args):\n"
        "    for _ in range(100000):\n"
        "        print('a line of history ' * 4)\n"
        "    return 0\n"
        "commands.COMMANDS['history'] = flood\n"
        "sys.exit(cli.main(['history', 'prod/web', '--config-file', 'none.toml']))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": str(root / "layers" / "shared"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -c "$SCRIPT" | head -1; echo "${{PIPESTATUS[0]}}" >&2'],
        env={**env, "SCRIPT": script},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert result.stdout.startswith("a line of history")
    assert result.stderr.strip() == "141"
