"""The CLI's commands: each reads what it needs, prints, and returns its exit status."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, Any

from autodeploy.cli import render
from autodeploy.cli.environment import CliError, Environment
from autodeploy.cli.exit_codes import FAILED, INTERRUPTED, NOTHING_TO_DO, OK, STILL_WAITING
from autodeploy.errors import AutodeployError
from autodeploy.gate_operations import answer, describe_gates, promote_by_hand, waiting_record
from autodeploy.gates.approval import Answer
from autodeploy.operations import (
    misconfigured,
    release,
    resolve_quarantined,
    rollback,
    short,
    status_of,
    statuses,
    wait_for_outcome,
)
from autodeploy.records import DeploymentRecord, Status

if TYPE_CHECKING:
    import argparse

    from autodeploy.deploy import DeployOnPush


def resolve_target(env: Environment, name: str) -> str:
    """An ARN as given; ``cluster/service`` for a service; a bare name for a stack."""
    from autodeploy.adapters.aws import aws_call

    if name.startswith("arn:"):
        return name
    if "/" in name:
        cluster, service = name.split("/", 1)
        try:
            with aws_call(f"looking up service {name}"):
                found = env.clients.ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        except AutodeployError as exc:
            if "ClusterNotFoundException" in str(exc):
                raise CliError(f"no cluster {cluster} in region {env.region}") from exc
            raise
        if not found or found[0].get("status") == "INACTIVE":
            raise CliError(f"no service {service} in cluster {cluster}")
        return str(found[0]["serviceArn"])
    try:
        with aws_call(f"looking up stack {name}"):
            stacks = env.clients.cloudformation.describe_stacks(StackName=name)["Stacks"]
    except AutodeployError as exc:
        if "does not exist" in str(exc):
            raise CliError(f"no stack {name} in region {env.region} (a service is named cluster/service)") from exc
        raise
    return str(stacks[0]["StackId"])


def _deployer(env: Environment, notify: bool = False) -> DeployOnPush:
    from autodeploy import wiring

    env.configure_use_cases(notify=notify)
    return wiring.deploy_on_push()


def status(env: Environment, args: argparse.Namespace) -> int:
    deployer = _deployer(env)
    if args.target is None:
        found = statuses(deployer)
        problems = misconfigured(deployer)
        if args.json:
            print(
                render.as_json(
                    {
                        "targets": [
                            render.state_json(t, t.arn, s, describe_gates(t.gates), waiting_record(deployer, t.arn))
                            for t, s in found
                        ],
                        "misconfigured": [
                            {"target": arn, "name": render.target_name(arn), "problem": why} for arn, why in problems
                        ],
                    }
                )
            )
            return OK
        if not found and not problems:
            print("no registered targets")
        for target, state in found:
            waiting = waiting_record(deployer, target.arn) if state.pending else None
            print(render.state(render.heading(target), state, gates=describe_gates(target.gates), waiting=waiting))
        if problems:
            print(render.misconfigured(problems))
        return OK
    arn = resolve_target(env, args.target)
    one = status_of(deployer, arn, records=args.limit)
    if args.json:
        print(
            render.as_json(
                {
                    **render.state_json(
                        one.target, arn, one.state, describe_gates(one.target.gates), waiting_record(deployer, arn)
                    ),
                    "latest": [r.to_item() for r in one.latest],
                }
            )
        )
        return OK
    findings = one.latest[0].findings if one.latest else ()
    waiting = waiting_record(deployer, arn) if one.state.pending else None
    print(render.state(render.heading(one.target), one.state, findings, describe_gates(one.target.gates), waiting))
    print(render.history(one.latest))
    return OK


def history(env: Environment, args: argparse.Namespace) -> int:
    deployer = _deployer(env)
    arn = resolve_target(env, args.target)
    records = deployer.ledger.history(arn, limit=args.limit)
    print(render.as_json([r.to_item() for r in records]) if args.json else render.history(records))
    return OK


def caller(env: Environment) -> str:
    """Who runs the command, as AWS knows them (STS GetCallerIdentity): recorded with their answer."""
    from autodeploy.adapters.aws import aws_call

    with aws_call("asking STS who the caller is"):
        return str(env.clients.sts.get_caller_identity()["Arn"])


def approve_command(env: Environment, args: argparse.Namespace) -> int:
    return _answer(env, args, Answer.APPROVED, "")


def deny_command(env: Environment, args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise CliError("--reason says why the push is denied; it cannot be empty")
    return _answer(env, args, Answer.DENIED, args.reason.strip())


def _answer(env: Environment, args: argparse.Namespace, given: Answer, reason: str) -> int:
    deployer = _deployer(env, notify=True)
    arn = resolve_target(env, args.target)
    answered = answer(deployer, arn, args.digest, given, caller(env), reason)
    record = answered.record
    name = render.target_name(arn)
    print(f"{given.value} {short(answered.digest)} on {name}")
    if record is not None:
        print(f"  now {record.status.value}: {record.reason}")
    return OK if record is None or record.status is not Status.FAILED else FAILED


def promote_command(env: Environment, args: argparse.Namespace) -> int:
    deployer = _deployer(env, notify=True)
    arn = resolve_target(env, args.to)
    report = promote_by_hand(deployer, arn, args.digest, caller(env))
    own = [r.record for r in report.recorded if r.record.target == arn and r.record.digest.startswith(args.digest)]
    if not own:
        print(
            f"autodeploy: nothing was promoted to {render.target_name(arn)}: " + "; ".join(report.retryable),
            file=sys.stderr,
        )
        return FAILED
    record = own[-1]
    name = render.target_name(arn)
    print(f"promoted {short(record.digest)} to {name} past the bake: {record.status.value}: {record.reason}")
    return OK if record.status in (Status.IN_PROGRESS, Status.QUEUED, Status.WAITING, Status.SUCCEEDED) else FAILED


def release_command(env: Environment, args: argparse.Namespace) -> int:
    deployer = _deployer(env)
    arn = resolve_target(env, args.target)
    digest = resolve_quarantined(deployer, arn, args.image)
    if not release(deployer, arn, digest):  # released by someone else meanwhile
        print(f"{digest} was no longer quarantined on {render.target_name(arn)}", file=sys.stderr)
        return NOTHING_TO_DO
    print(f"released {digest} on {render.target_name(arn)}: reconcile and redelivered events may deploy it again")
    return OK


def rollback_command(env: Environment, args: argparse.Namespace) -> int:
    deployer = _deployer(env, notify=True)
    arn = resolve_target(env, args.target)
    name = render.target_name(arn)
    started = rollback(deployer, arn, args.to, requested_by=getpass.getuser())
    record = started.record
    if record is None:
        print(
            f"autodeploy: the rollback of {name} was not started: " + "; ".join(started.report.retryable),
            file=sys.stderr,
        )
        return FAILED
    print(
        f"rollback of {name} to {started.choice.label} ({started.choice.found_in}): "
        f"{record.status.value}: {record.reason}"
    )
    if started.waits_behind is not None:
        flight = started.waits_behind
        print(f"  waits behind {render.push_label(flight.push)}, rolling out since {render.when(flight.started_at)}")
    follow = f"follow it with `autodeploy status {name}`"
    if record.status.is_terminal or args.no_wait:
        if not record.status.is_terminal:
            print(f"  the rollback goes on; {follow}")
        return OK if record.status in (Status.IN_PROGRESS, Status.QUEUED, Status.SUCCEEDED) else FAILED
    watch = _Progress(env, deployer, arn)
    try:
        final = wait_for_outcome(deployer, record, args.timeout, watch.show, poll_seconds=args.poll)
    except KeyboardInterrupt:
        print(f"\nstopped waiting: the rollback goes on ({watch.last_status}); {follow}")
        return INTERRUPTED
    if not final.status.is_terminal:
        print(f"still {final.status.value} after {args.timeout}s: the rollback goes on; {follow}")
        return STILL_WAITING
    print(f"rollback {final.status.value}: {final.reason}")
    return OK if final.status is Status.SUCCEEDED else FAILED


class _Progress:
    """While waiting: the record's status, what it waits behind, the ECS deployment's counts and new service events."""

    def __init__(self, env: Environment, deployer: DeployOnPush, arn: str) -> None:
        self._env = env
        self._deployer = deployer
        self._arn = arn
        self._said: set[str] = set()
        self._last_detail = ""
        self.last_status = "QUEUED"

    def show(self, current: DeploymentRecord, elapsed: float) -> None:
        from autodeploy.adapters.ecs import EcsServices

        self.last_status = current.status.value
        state = self._deployer.ledger.state(self._arn)
        detail = current.status.value
        deployment_id, task_definition = current.deployment_id, current.task_definition_arn
        if current.status is Status.QUEUED and state.in_flight is not None:
            detail += f"  behind {render.push_label(state.in_flight.push)}"
            deployment_id, task_definition = state.in_flight.deployment_id, state.in_flight.task_definition_arn
        elif state.in_flight is not None and state.in_flight.sort_key == current.sort_key:
            deployment_id = deployment_id or state.in_flight.deployment_id
            task_definition = task_definition or state.in_flight.task_definition_arn
        events: tuple[str, ...] = ()
        if ":ecs:" in self._arn:
            service = EcsServices(self._env.clients.ecs).describe([self._arn]).get(self._arn)
            if service is not None:
                detail += "  " + render.deployment_progress(service, task_definition, deployment_id)
                events = service.events
        if detail != self._last_detail:  # a line when something changed, not one per poll
            print(f"{elapsed:5.0f}s  {detail}", flush=True)
            self._last_detail = detail
        for message in reversed(events[:5]):  # oldest first, each once
            if message not in self._said:
                self._said.add(message)
                print(f"         event: {message}", flush=True)


def decisions(env: Environment, args: argparse.Namespace) -> int:
    records = _decision_records(env, args)
    print(render.as_json(records) if args.json else render.decisions(records))
    return OK


def timeline(env: Environment, args: argparse.Namespace) -> int:
    from autodeploy.timeline import draw

    records = _decision_records(env, args)
    if not records:
        print(f"no scaling decisions recorded for {args.target}: nothing to draw", file=sys.stderr)
        return NOTHING_TO_DO
    try:
        path = draw(records, f"{args.target}: scaling decisions", args.out)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    print(f"wrote {path} ({len(records)} reviews)")
    return OK


def _decision_records(env: Environment, args: argparse.Namespace) -> list[dict[str, Any]]:
    from autodeploy.adapters.decision_log import DecisionLog

    table = env.decisions_table
    arn = resolve_target(env, args.target)
    return DecisionLog(env.clients.dynamodb, table, 30).recent(arn, limit=args.limit)


def verify(env: Environment, args: argparse.Namespace) -> int:
    from functools import partial

    from autodeploy.adapters.autoscaling import AutoScalingReader
    from autodeploy.adapters.cloudformation import CloudFormationStacks
    from autodeploy.adapters.cloudwatch import CloudWatchReader
    from autodeploy.adapters.discovery import TargetDiscovery, reviewed_services
    from autodeploy.adapters.ecr import EcrImages
    from autodeploy.adapters.ecs import EcsServices
    from autodeploy.adapters.iam import IamRoles
    from autodeploy.verification import VerifyTargets

    clients = env.clients
    stacks = CloudFormationStacks(clients.cloudformation)
    verifier = VerifyTargets(
        discovery=TargetDiscovery(clients.tagging, stacks.service_arns),
        services=EcsServices(clients.ecs),
        stacks=stacks,
        images=EcrImages(clients.ecr),
        roles=IamRoles(clients.iam),
        autoscaling=AutoScalingReader(clients.application_autoscaling),
        cloudwatch=CloudWatchReader(clients.cloudwatch),
        registry_for=clients.ecr_registry,
        reviewed=partial(reviewed_services, clients.tagging),
    )
    only = resolve_target(env, args.target) if args.target else None
    results = verifier.run(only)
    if args.json:
        print(
            render.as_json(
                [
                    {
                        "target": r.arn,
                        "name": r.name,
                        "ok": not r.failed,
                        "checks": [
                            {"subject": c.subject, "outcome": c.outcome.value, "detail": c.detail} for c in r.checks
                        ],
                    }
                    for r in results
                ]
            )
        )
    else:
        print(render.verification(results))
    if only and not results:
        raise CliError(f"{args.target} is not registered (no autodeploy:repository tag)")
    return FAILED if any(r.failed for r in results) else OK


COMMANDS = {
    "status": status,
    "history": history,
    "rollback": rollback_command,
    "release": release_command,
    "approve": approve_command,
    "deny": deny_command,
    "promote": promote_command,
    "decisions": decisions,
    "timeline": timeline,
    "verify": verify,
}
