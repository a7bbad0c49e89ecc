"""Where the CLI runs: the SAM environment, the AWS profile and region, the tables and the topic.

Resolution follows `sam`: an explicit option wins, else the ``--config-env`` environment of
``samconfig.toml`` (``default`` unless named), else the AWS SDK's own defaults. The tables and the
topic come from ``--table`` / ``--decisions-table`` / ``--topic``, else ``LEDGER_TABLE`` /
``DECISIONS_TABLE`` / ``NOTIFICATION_TOPIC_ARN``, else the installed stack's outputs (the chat
topic: ``CHAT_NOTIFICATION_TOPIC_ARN``, else the outputs when the topic came from them).
"""

from __future__ import annotations

import logging
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from autodeploy.adapters.aws import AwsClients, aws_call
from autodeploy.errors import AutodeployError

DEFAULT_STACK = "ecs-autodeploy"
DEFAULT_CONFIG_FILE = Path("samconfig.toml")


class CliError(Exception):
    """A problem the user can fix (a usage error); printed without a traceback."""


@dataclass(frozen=True, slots=True)
class SamEnvironment:
    """What one environment of samconfig.toml says about the stack: its name, region and profile."""

    name: str
    stack: str | None
    region: str | None
    profile: str | None


def read_samconfig(path: Path, environment: str, required: bool) -> SamEnvironment:
    """The environment's settings, as `sam deploy --config-env` reads them: deploy's, else global's."""
    if not path.is_file():
        if required:
            raise CliError(f"--config-env {environment}: no {path} here; pass --config-file or --stack and --region")
        return SamEnvironment(environment, None, None, None)
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    section = document.get(environment)
    if not isinstance(section, dict):
        if required:
            known = ", ".join(k for k, v in document.items() if isinstance(v, dict)) or "none"
            raise CliError(f"--config-env {environment}: {path} has no such environment (environments: {known})")
        return SamEnvironment(environment, None, None, None)

    def value(key: str) -> str | None:
        for command in ("deploy", "global"):
            found = section.get(command, {}).get("parameters", {}).get(key)
            if found:
                return str(found)
        return None

    return SamEnvironment(environment, value("stack_name"), value("region"), value("profile"))


class Environment:
    """The resolved settings of one CLI run, and the clients built from them."""

    def __init__(self, options: Any) -> None:
        self._options = options
        explicit_env = getattr(options, "config_env", None)
        config_file = Path(getattr(options, "config_file", None) or DEFAULT_CONFIG_FILE)
        sam = read_samconfig(config_file, explicit_env or "default", required=explicit_env is not None)
        self.config_env = sam.name if (explicit_env or sam.stack) else None
        self.stack = getattr(options, "stack", None) or sam.stack or DEFAULT_STACK
        region = getattr(options, "region", None) or sam.region
        profile = getattr(options, "profile", None) or sam.profile
        # The SDK's own variables, set before any client exists: every client of this run uses them.
        if profile:
            os.environ["AWS_PROFILE"] = profile
        if region:
            os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
        self._table = getattr(options, "table", None) or os.environ.get("LEDGER_TABLE")
        self._decisions = getattr(options, "decisions_table", None) or os.environ.get("DECISIONS_TABLE")
        self._topic = getattr(options, "topic", None) or os.environ.get("NOTIFICATION_TOPIC_ARN")

    @cached_property
    def clients(self) -> AwsClients:
        from autodeploy import wiring

        return wiring.aws_clients()

    @property
    def region(self) -> str:
        return self.clients.session.region_name or "(no region: pass --region)"

    def _where(self) -> str:
        source = f"--config-env {self.config_env}" if self.config_env else "--stack"
        return f"stack {self.stack} ({source}, region {self.region})"

    @cached_property
    def outputs(self) -> dict[str, str]:
        """The installed stack's outputs; a stack that is not there is a usage error with a hint."""
        try:
            with aws_call(f"reading the outputs of stack {self.stack}"):
                stacks = self.clients.cloudformation.describe_stacks(StackName=self.stack)["Stacks"]
        except AutodeployError as exc:
            if "does not exist" in str(exc):
                raise CliError(
                    f"{self._where()} not found: name the installed stack with --stack NAME or --config-env ENV "
                    "(samconfig.toml), and its region with --region, or give the table with --table"
                ) from exc
            raise
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def _output(self, key: str, option: str) -> str:
        values = self.outputs
        if key not in values:
            raise CliError(f"{self._where()} has no {key} output; pass {option}")
        return values[key]

    @cached_property
    def ledger_table(self) -> str:
        return self._table or self._output("LedgerTableName", "--table")

    @cached_property
    def decisions_table(self) -> str:
        return self._decisions or self._output("DecisionsTableName", "--decisions-table")

    @cached_property
    def topic(self) -> str | None:
        """The notification topic, found however the table was given; None (with a warning) if there is none."""
        if self._topic:
            return self._topic
        try:
            return self._output("NotificationTopicArn", "--topic")
        except CliError:
            print(
                f"autodeploy: warning: no notification will be sent: {self._where()} is not there to name the topic; "
                "pass --topic ARN",
                file=sys.stderr,
            )
            return None

    def configure_use_cases(self, notify: bool = False) -> None:
        """The use cases read their tables and topic from the environment, as in Lambda."""
        os.environ["LEDGER_TABLE"] = self.ledger_table
        topic = self.topic if notify else self._topic
        if topic:
            os.environ["NOTIFICATION_TOPIC_ARN"] = topic
        if topic and not self._topic and not os.environ.get("CHAT_NOTIFICATION_TOPIC_ARN"):
            # The chat topic comes with the stack's outputs (a stack older than it has none).
            chat = self.outputs.get("ChatNotificationTopicArn")
            if chat:
                os.environ["CHAT_NOTIFICATION_TOPIC_ARN"] = chat
        from autodeploy import wiring

        wiring.settings.cache_clear()
        wiring.deploy_on_push.cache_clear()


class _PlainFormatter(logging.Formatter):
    """One readable line per log record on stderr, with its structured fields, not a JSON object."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in self._STANDARD and not k.startswith("_")}
        extra = "".join(f" {k}={v}" for k, v in fields.items() if v not in (None, "", [], {}))
        return f"autodeploy: {record.levelname.lower()}: {record.getMessage()}{extra}"


@contextmanager
def plain_logs() -> Iterator[None]:
    """The use cases log JSON for CloudWatch; on a terminal, warnings only, as plain lines on stderr."""
    from autodeploy.observability import logger

    target = logging.getLogger(logger.name)
    saved = (target.handlers, target.level, target.propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainFormatter())
    target.handlers, target.propagate = [handler], False
    target.setLevel(logging.WARNING)
    try:
        yield
    finally:
        target.handlers, target.propagate = saved[0], saved[2]
        target.setLevel(saved[1])
