"""`autodeploy`: see and steer what ecs-autodeploy does, from a terminal.

Works against real AWS, or an emulator through AWS_ENDPOINT_URL. The ledger table comes from
--table, else LEDGER_TABLE, else the outputs of the installed stack (--stack, default ecs-autodeploy).
Targets are named by ARN, by cluster/service for a service, or by name for a stack.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autodeploy.adapters.aws import AwsClients, aws_call
from autodeploy.errors import AutodeployError
from autodeploy.operations import OperationError, release, rollback, status_of, statuses, wait_for_outcome
from autodeploy.records import DeploymentRecord

if TYPE_CHECKING:
    from autodeploy.deploy import DeployOnPush
    from autodeploy.rollout import TargetState


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def configure(clients: AwsClients, table: str | None, stack: str) -> None:
    """Point the use cases at the installed stack's ledger and topic (flags, environment, or outputs)."""
    if table:
        os.environ["LEDGER_TABLE"] = table
    if os.environ.get("LEDGER_TABLE"):
        return
    values = stack_outputs(clients, stack)
    if "LedgerTableName" not in values:
        raise CliError(f"stack {stack} has no LedgerTableName output; pass --table")
    os.environ["LEDGER_TABLE"] = values["LedgerTableName"]
    if "NotificationTopicArn" in values:
        os.environ.setdefault("NOTIFICATION_TOPIC_ARN", values["NotificationTopicArn"])


def stack_outputs(clients: AwsClients, stack: str) -> dict[str, str]:
    """The installed ecs-autodeploy stack's outputs, by key."""
    with aws_call(f"reading the outputs of stack {stack}"):
        outputs = clients.cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def resolve_target(clients: AwsClients, name: str) -> str:
    """An ARN as given; ``cluster/service`` for a service; a bare name for a stack."""
    if name.startswith("arn:"):
        return name
    if "/" in name:
        cluster, service = name.split("/", 1)
        with aws_call(f"looking up service {name}"):
            found = clients.ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        if not found or found[0].get("status") == "INACTIVE":
            raise CliError(f"no service {service} in cluster {cluster}")
        return found[0]["serviceArn"]
    with aws_call(f"looking up stack {name}"):
        stacks = clients.cloudformation.describe_stacks(StackName=name)["Stacks"]
    return stacks[0]["StackId"]


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in rows
    )


def render_history(records: Sequence[DeploymentRecord]) -> str:
    if not records:
        return "no deployments recorded for this target"
    rows = [("PUSHED (UTC)", "TAG", "STATUS", "IMAGE", "LEAD", "REASON")]
    for r in records:
        image = (r.image or r.digest).rsplit("@", 1)[-1][:19]
        lead = f"{r.lead_time_seconds}s" if r.lead_time_seconds is not None else "-"
        rows.append((r.pushed_at.strftime("%Y-%m-%d %H:%M:%S"), r.tag or "-", r.status.value, image, lead, r.reason))
    return _table(rows)


def render_state(name: str, state: TargetState, findings: Sequence[str] = ()) -> str:
    """A target's rollout state; ``findings``: what weakens its tracking (the newest record's)."""
    lines = [name]
    flight = state.in_flight
    lines.append(
        f"  in flight:  {flight.push.tag or flight.push.digest[:19]} since {flight.started_at:%Y-%m-%d %H:%M:%S}"
        + (f" ({flight.deployment_id})" if flight.deployment_id else "")
        if flight
        else "  in flight:  nothing"
    )
    pending = state.pending
    lines.append(f"  waiting:    {pending.tag or pending.digest[:19]}" if pending else "  waiting:    nothing")
    good = state.last_succeeded
    lines.append(
        f"  last good:  {good.get('tag') or good.get('digest')} at {good.get('at')}"
        if good
        else "  last good:  none recorded"
    )
    for digest, why in state.quarantined.items():
        lines.append(f"  quarantined {digest[:19]}: {why}")
    for finding in dict.fromkeys([*(flight.findings if flight else ()), *findings]):
        lines.append(f"  warning:    {finding}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autodeploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", help="ledger table name")
    parser.add_argument(
        "--stack", default="ecs-autodeploy", help="the installed ecs-autodeploy stack (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    history = commands.add_parser("history", help="a target's deployments, newest first")
    history.add_argument("target")
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--json", action="store_true", help="print the ledger items as JSON")
    status = commands.add_parser("status", help="what is in flight, waiting and quarantined, per target")
    status.add_argument("target", nargs="?", help="one target (default: every registered target)")
    back = commands.add_parser("rollback", help="deploy a previous image now (past policy and quarantine)")
    back.add_argument("target")
    back.add_argument("--to", help="tag or digest to go back to (default: the last good image before the current)")
    back.add_argument("--no-wait", action="store_true", help="start the rollback and return")
    back.add_argument(
        "--timeout", type=int, default=1800, help="seconds to wait for its outcome (default: %(default)s)"
    )
    rel = commands.add_parser("release", help="let reconcile deploy a quarantined digest again")
    rel.add_argument("target")
    rel.add_argument("digest")
    dec = commands.add_parser("decisions", help="a service's recent scaling decisions, newest first")
    dec.add_argument("target", help="cluster/service or service ARN")
    dec.add_argument("--limit", type=int, default=20)
    dec.add_argument("--json", action="store_true", help="print the decision records as JSON")
    line = commands.add_parser("timeline", help="draw a service's scaling timeline as a PNG")
    line.add_argument("target", help="cluster/service or service ARN")
    line.add_argument("--limit", type=int, default=240, help="how many recent reviews (default: %(default)s)")
    line.add_argument("--out", type=Path, default=Path("timeline.png"), help="PNG file (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("decisions", "timeline"):
        return _scaling_command(args)

    from autodeploy import wiring

    clients = wiring.aws_clients()
    try:
        configure(clients, args.table, args.stack)
        deployer = wiring.deploy_on_push()
        if args.command == "status" and args.target is None:
            return _status_all(deployer)
        arn = resolve_target(clients, args.target)
        if args.command == "history":
            records = deployer.ledger.history(arn, limit=args.limit)
            print(
                json.dumps([r.to_item() for r in records], indent=2, default=str)
                if args.json
                else render_history(records)
            )
        elif args.command == "status":
            found = status_of(deployer, arn)
            print(
                render_state(
                    f"{found.target.kind.value} {found.target.name} ({found.target.repository})",
                    found.state,
                    found.latest[0].findings if found.latest else (),
                )
            )
            print(render_history(found.latest))
        elif args.command == "rollback":
            return _rollback(deployer, arn, args.to, not args.no_wait, args.timeout)
        elif args.command == "release":
            released = release(deployer, arn, args.digest)
            print(f"released {args.digest}" if released else f"{args.digest} was not quarantined")
    except (CliError, AutodeployError, OperationError) as exc:
        print(f"autodeploy: {exc}", file=sys.stderr)
        return 2
    return 0


def _scaling_command(args: argparse.Namespace) -> int:
    from autodeploy import wiring
    from autodeploy.adapters.decision_log import DecisionLog

    clients = wiring.aws_clients()
    try:
        table = _decisions_table(clients, args.stack)
        arn = resolve_target(clients, args.target)
        records = DecisionLog(clients.dynamodb, table, 30).recent(arn, limit=args.limit)
        if args.command == "decisions":
            print(json.dumps(records, indent=2, default=str) if args.json else render_decisions(records))
            return 0
        from autodeploy.timeline import draw

        path = draw(records, f"{args.target}: scaling decisions", args.out)
    except (CliError, AutodeployError, RuntimeError, ValueError) as exc:
        print(f"autodeploy: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({len(records)} reviews)")
    return 0


def _decisions_table(clients: AwsClients, stack: str) -> str:
    if os.environ.get("DECISIONS_TABLE"):
        return os.environ["DECISIONS_TABLE"]
    values = stack_outputs(clients, stack)
    if "DecisionsTableName" in values:
        return values["DecisionsTableName"]
    raise CliError(f"stack {stack} has no DecisionsTableName output; set DECISIONS_TABLE")


def render_decisions(records: Sequence[dict[str, Any]]) -> str:
    if not records:
        return "no scaling decisions recorded for this service"
    rows = [("REVIEWED (UTC)", "DECISION", "COUNT", "NATIVE", "APPLIED", "ALARMS", "REASON")]
    for r in records:
        native = int(r.get("native", {}).get("adjustment", 0))
        alarms = ",".join(f"{k}={v}" for k, v in sorted(r.get("alarms", {}).items())) or "-"
        rows.append(
            (
                str(r["reviewed_at"])[:19].replace("T", " "),
                str(r["decision"]),
                f"{r['current_count']}->{r['recommended_count']}",
                f"{native:+d}" if native else "0",
                "yes" if r.get("applied") else "no",
                alarms,
                str(r["reason"]),
            )
        )
    findings = sorted({f for r in records[:1] for f in r.get("findings", [])})
    text = _table(rows)
    if findings:
        text += "\nfindings (latest review):\n" + "\n".join(f"  - {f}" for f in findings)
    return text


def _status_all(deployer: DeployOnPush) -> int:
    found = statuses(deployer)
    if not found:
        print("no registered targets")
    for target, state in found:
        print(
            render_state(
                f"{target.kind.value} {target.name} ({target.repository}, {target.tag_filter}, {target.mode})", state
            )
        )
    return 0


def _rollback(deployer: DeployOnPush, arn: str, to: str | None, wait: bool, timeout: int) -> int:
    report = rollback(deployer, arn, to, requested_by=getpass.getuser())
    recorded = next((r for r in report.recorded if r.record.target == arn), None)
    if recorded is None:
        print("autodeploy: the rollback was not started: " + "; ".join(report.retryable), file=sys.stderr)
        return 2
    record = recorded.record
    print(f"rollback of {record.target_name} to {record.tag or record.digest}: {record.status.value} ({record.reason})")
    if not wait or record.status.is_terminal:
        return 0 if record.status.value in ("IN_PROGRESS", "QUEUED", "SUCCEEDED") else 1

    def progress(current: DeploymentRecord, elapsed: float) -> None:
        print(f"  {elapsed:5.0f}s  {current.status.value}", flush=True)

    final = wait_for_outcome(deployer, record, timeout, progress)
    print(f"rollback {final.status.value}: {final.reason}")
    return 0 if final.status.value == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
