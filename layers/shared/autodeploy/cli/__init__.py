"""`autodeploy`: see and steer what ecs-autodeploy does, from a terminal.

Works against real AWS, or an emulator through AWS_ENDPOINT_URL. Like `sam`, it reads the stack
name, region and profile of a samconfig.toml environment (--config-env, default "default"); the
tables and topic come from the stack's outputs unless given (--table, LEDGER_TABLE, ...).
Targets are named by ARN, by cluster/service for a service, or by name for a stack.
Options go before or after the command.

exit status: 0 done; 1 the operation did not succeed; 2 usage error; 3 AWS error;
4 nothing to do; 5 still waiting at --timeout; 130 interrupted while waiting.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from autodeploy import __version__
from autodeploy.cli import exit_codes
from autodeploy.cli.environment import CliError, Environment, plain_logs
from autodeploy.errors import AutodeployError
from autodeploy.operations import NothingToDo, OperationError


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (defaults are resolved later, by Environment)."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    where = common.add_argument_group("where ecs-autodeploy is installed")
    where.add_argument(
        "--config-env", metavar="ENV", help="samconfig.toml environment, as sam uses it (default: default)"
    )
    where.add_argument("--config-file", metavar="FILE", help="samconfig file (default: samconfig.toml)")
    where.add_argument(
        "--stack", metavar="NAME", help="the installed stack (default: from samconfig, else ecs-autodeploy)"
    )
    where.add_argument("--region", help="AWS region (default: from samconfig, else the SDK's)")
    where.add_argument("--profile", help="AWS profile (default: from samconfig, else the SDK's)")
    where.add_argument("--table", metavar="NAME", help="ledger table (default: LEDGER_TABLE, else the stack's output)")
    where.add_argument(
        "--decisions-table", metavar="NAME", help="decisions table (default: DECISIONS_TABLE, else the stack's output)"
    )
    where.add_argument(
        "--topic", metavar="ARN", help="notification topic (default: NOTIFICATION_TOPIC_ARN, else the stack's output)"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="autodeploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, reading: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[common])
        if reading:
            sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return sub

    status = command("status", "what is in flight, waiting and quarantined per target, and misconfigured targets")
    status.add_argument("target", nargs="?", help="one target (default: every registered target)")
    status.add_argument(
        "--limit", type=_positive, default=5, help="latest records of one target (default: %(default)s)"
    )
    history = command("history", "a target's deployments, newest first")
    history.add_argument("target")
    history.add_argument("--limit", type=_positive, default=20, help="how many records (default: %(default)s)")
    verify = command("verify", "check every registered target's tags, roles and alarms before the first push")
    verify.add_argument("target", nargs="?", help="one target (default: every registered target)")
    back = command("rollback", "deploy a previous image (past the policy and quarantine), waiting its turn", False)
    back.add_argument("target")
    back.add_argument(
        "--to", metavar="IMAGE", help="tag, digest or digest prefix (default: the last good image before the current)"
    )
    back.add_argument("--no-wait", action="store_true", help="start the rollback and return")
    back.add_argument(
        "--timeout", type=_positive, default=1800, help="seconds to wait for its end (default: %(default)s)"
    )
    back.add_argument("--poll", type=_positive, default=5, help=argparse.SUPPRESS)
    rel = command("release", "lift a quarantine, so reconcile may deploy that image again", False)
    rel.add_argument("target")
    rel.add_argument("image", help="digest, the digest prefix `status` prints, or a tag")
    approve = command("approve", "approve the push waiting for approval on a target, so it deploys", False)
    approve.add_argument("target")
    approve.add_argument("digest", nargs="?", help="the waiting push's digest or its prefix (default: whichever waits)")
    deny = command("deny", "deny the push waiting for approval on a target: it is refused", False)
    deny.add_argument("target")
    deny.add_argument("digest", nargs="?", help="the waiting push's digest or its prefix (default: whichever waits)")
    deny.add_argument("--reason", required=True, help="why, for the record and the team")
    promote = command("promote", "deploy a digest to a target past its bake, recorded as a promotion by hand", False)
    promote.add_argument("digest", help="the digest (sha256:...), or the prefix of the push waiting there")
    promote.add_argument("--to", metavar="TARGET", required=True, help="the target (cluster/service, stack or ARN)")
    dec = command("decisions", "a service's recent scaling decisions, newest first")
    dec.add_argument("target", help="cluster/service or service ARN")
    dec.add_argument("--limit", type=_positive, default=20, help="how many decisions (default: %(default)s)")
    line = command(
        "timeline", "draw a service's scaling timeline as a PNG (pip install 'ecs-autodeploy[timeline]')", False
    )
    line.add_argument("target", help="cluster/service or service ARN")
    line.add_argument("--limit", type=_positive, default=240, help="how many recent reviews (default: %(default)s)")
    line.add_argument("--out", type=Path, default=Path("timeline.png"), help="PNG file (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else exit_codes.USAGE
    from autodeploy.cli.commands import COMMANDS

    try:
        with plain_logs():
            return COMMANDS[args.command](Environment(args), args)
    except KeyboardInterrupt:  # outside a rollback's waiting, which says more
        print("\nautodeploy: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`autodeploy history web | head`): no traceback, no second error at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exit_codes.CLOSED_PIPE
    except NothingToDo as exc:
        print(f"autodeploy: {exc}", file=sys.stderr)
        return exit_codes.NOTHING_TO_DO
    except (CliError, OperationError) as exc:
        print(f"autodeploy: {exc}", file=sys.stderr)
        return exit_codes.USAGE if isinstance(exc, CliError) else exit_codes.FAILED
    except AutodeployError as exc:
        print(f"autodeploy: AWS error: {exc}", file=sys.stderr)
        return exit_codes.AWS_ERROR


if __name__ == "__main__":
    sys.exit(main())
