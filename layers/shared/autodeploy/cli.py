"""`autodeploy`: read what ecs-autodeploy did, from a terminal.

Works against real AWS, or an emulator through AWS_ENDPOINT_URL. The ledger table comes from
--table, else LEDGER_TABLE, else the outputs of the installed stack (--stack, default ecs-autodeploy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from autodeploy.adapters.aws import AwsClients, aws_call
from autodeploy.adapters.ledger import Ledger
from autodeploy.errors import AutodeployError
from autodeploy.records import DeploymentRecord


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def ledger_table(clients: AwsClients, table: str | None, stack: str) -> str:
    if table or os.environ.get("LEDGER_TABLE"):
        return table or os.environ["LEDGER_TABLE"]
    with aws_call(f"reading the outputs of stack {stack}"):
        outputs = clients.cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "LedgerTableName":
            return output["OutputValue"]
    raise CliError(f"stack {stack} has no LedgerTableName output; pass --table")


def resolve_target(clients: AwsClients, name: str) -> str:
    """An ARN as given; ``cluster/service`` for a service; a bare name for a stack."""
    if name.startswith("arn:"):
        return name
    if "/" in name:
        cluster, service = name.split("/", 1)
        with aws_call(f"looking up service {name}"):
            found = clients.ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        if not found:
            raise CliError(f"no service {service} in cluster {cluster}")
        return found[0]["serviceArn"]
    with aws_call(f"looking up stack {name}"):
        stacks = clients.cloudformation.describe_stacks(StackName=name)["Stacks"]
    return stacks[0]["StackId"]


def render_history(records: Sequence[DeploymentRecord]) -> str:
    if not records:
        return "no deployments recorded for this target"
    rows = [("PUSHED (UTC)", "TAG", "STATUS", "IMAGE", "REASON")]
    for r in records:
        image = (r.image or r.digest).rsplit("@", 1)[-1][:19]
        rows.append((r.pushed_at.strftime("%Y-%m-%d %H:%M:%S"), r.tag or "-", r.status.value, image, r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4] for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="autodeploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", help="ledger table name")
    parser.add_argument(
        "--stack", default="ecs-autodeploy", help="the installed ecs-autodeploy stack (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    history = commands.add_parser("history", help="a target's deployments, newest first")
    history.add_argument("target", help="service ARN or cluster/service, or stack ARN or name")
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--json", action="store_true", help="print the records as JSON")
    args = parser.parse_args(argv)

    clients = AwsClients()
    try:
        ledger = Ledger(clients.dynamodb, ledger_table(clients, args.table, args.stack))
        records = ledger.history(resolve_target(clients, args.target), limit=args.limit)
    except (CliError, AutodeployError) as exc:
        print(f"autodeploy: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([r.to_item() for r in records], indent=2, default=str))
    else:
        print(render_history(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
