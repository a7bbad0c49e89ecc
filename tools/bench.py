"""`make bench`: cold start, AWS calls per deploy, a throttled burst and the review fan-out, measured
in one run on a moto server; writes BENCHMARKS.md. Benchmarks, not tests: they report figures."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders

from tools import moto_gaps, world
from tools.bench_coldstart import VARIANTS, build, measure
from tools.lambda_context import FakeLambdaContext
from tools.local_invoke import emulator, load_handler, point_at
from tools.template import ROOT

CLIENT_NAMES = (
    "tagging",
    "ecs",
    "ecr",
    "cloudformation",
    "dynamodb",
    "sns",
    "sqs",
    "application_autoscaling",
    "cloudwatch",
)


# The functions print their logs and metric documents to stdout; while they run, stdout goes to a
# log file, and progress goes to the terminal through a copy of the original stdout.
FUNCTIONS_LOG = ROOT / "out" / "bench-functions.log"
_terminal = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)


def say(text: str) -> None:
    print(text, file=_terminal, flush=True)


@contextmanager
def functions_output_to(path: Path) -> Iterator[None]:
    """Send everything written to file descriptors 1 and 2 meanwhile to ``path``."""
    path.parent.mkdir(exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


@dataclass
class CallCounter:
    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.split(".", 1)[1]] += 1

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        from autodeploy import wiring

        clients = [getattr(wiring.aws_clients(), n) for n in CLIENT_NAMES]
        self.calls.clear()
        for client in clients:
            client.meta.events.register("before-call.*.*", self)
        # Clients created meanwhile (the rollout worker's paced ones) are counted too, from then on.
        session_events = wiring.aws_clients().session.events
        session_events.register("before-call.*.*", self)
        try:
            yield self.calls
        finally:
            session_events.unregister("before-call.*.*", self)
            for client in clients:
                client.meta.events.unregister("before-call.*.*", self)


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload


@dataclass
class TokenBucket:
    """An API's throttling as ECS applies it: a bucket of ``burst`` tokens refilled at ``rate`` a second.

    Installed on botocore's ``before-send``, so a throttled request gets the HTTP 400 AWS sends and
    botocore's own retry mode (adaptive, as the functions configure it) handles it."""

    burst: float
    rate: float
    tokens: float = 0.0
    last: float = field(default_factory=time.monotonic)
    throttled: int = 0
    admitted: int = 0

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.admitted += 1
            return None
        self.throttled += 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, 400, headers, _Body(body))


def ecr_event(repository: str, tag: str, digest: str, at: datetime, event_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "ecr-push.json").read_text())
    event["id"] = event_id
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"].update({"repository-name": repository, "image-tag": tag, "image-digest": digest})
    return event


def with_lambda_retries(handler: Callable[[Any, Any], Any], event: dict[str, Any], stats: Counter[str]) -> Any:
    from autodeploy.errors import RetryableError

    for attempt in range(3):
        try:
            return handler(event, FakeLambdaContext())
        except RetryableError:
            stats["lambda_retries"] += 1
            if attempt == 2:
                stats["lost_to_failure_queue"] += 1
                raise
            time.sleep(1.0)  # Lambda waits about a minute between async retries; a second here
    return None


def drain_work_queue(worker: Callable[[Any, Any], Any], session: Any) -> int:
    """Hand every work message DeployFunction queued to RolloutWorkerFunction, as its event source
    mapping would (tools/bench_fanout.py simulates the mapping itself); returns how many."""
    from tests.support.events import rollout_work

    sqs = session.client("sqs")
    url = sqs.get_queue_url(QueueName="RolloutWorkQueue")["QueueUrl"]
    handled = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2).get("Messages", []):
        event = rollout_work([m["Body"] for m in messages])
        for record, message in zip(event["Records"], messages, strict=True):
            record["messageId"] = message["MessageId"]
        result = worker(event, FakeLambdaContext(function_name="RolloutWorkerFunction"))
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:  # a failed one comes back after the visibility timeout
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)
    return handled


# -- the benchmarks -----------------------------------------------------------------------------------


def bench_cold_start(endpoint: str, runs: int) -> list[dict[str, Any]]:
    say("  building the layer as sam build does")
    layer = build(ROOT / "out" / "bench-layer")
    results = []
    for variant in VARIANTS:
        measured = measure(layer, endpoint, variant, runs=runs)
        results.append(
            {
                "variant": variant,
                "handler_ms": round(measured.handler_ms),
                "reference_ms": round(measured.reference_ms),
                "ratio": round(measured.ratio, 2),
                "inside_ratio": round(measured.inside_ratio, 2),
                "call_ms": round(measured.call_ms),
                "peak_mb": round(measured.rss_mb),
                "clients": measured.clients,
                "layer_mb": round(measured.layer_mb, 1),
            }
        )
        say(
            f"  cold start, layer {variant}: {measured.ratio:.2f}x the reference "
            f"({measured.handler_ms:.0f} / {measured.reference_ms:.0f} ms), peak {measured.rss_mb:.0f} MB, "
            f"clients created: {', '.join(measured.clients)}"
        )
    return results


def bench_calls_per_deploy(
    deploy: Callable[[Any, Any], Any], worker: Callable[[Any, Any], Any], counter: CallCounter, session: Any
) -> list[dict[str, Any]]:
    from autodeploy import wiring

    ecr, ecs, cfn = session.client("ecr"), session.client("ecs"), session.client("cloudformation")
    results = []
    shared_ops = {
        "resource-groups-tagging-api.GetResources",
        "ecs.DescribeServices",
        "ecr.DescribeImages",
        "sns.PublishBatch",
        "dynamodb.BatchGetItem",  # the targets' rollout states, by 100
        "sqs.SendMessageBatch",  # past ten targets, the rest handed to the rollout workers, ten a message
    }
    for kind, count in (("service", 1), ("service", 5), ("service", 20), ("stack", 1), ("stack", 5), ("stack", 20)):
        repository = f"calls-{kind}-{count}"
        world.ensure_repository(ecr, repository)
        world.push_image(ecr, repository, "1.0.0")
        targets = []
        for i in range(count):
            tags = {"autodeploy:repository": repository}
            if kind == "service":
                targets.append(
                    world.create_service(
                        ecs, f"calls{i % 3}", f"{repository}-{i}", f"{world.REGISTRY}/{repository}:1.0.0", tags
                    )
                )
            else:
                targets.append(
                    world.create_stack(
                        cfn, f"{repository}-{i}", "1.0.0", tags | {"autodeploy:parameter": "BuildNumber"}
                    )
                )
        digest = world.push_image(ecr, repository, "1.0.1")
        event = ecr_event(repository, "1.0.1", digest, datetime.now(UTC), f"calls-{kind}-{count}")
        with counter.counting() as calls:
            deploy(event, FakeLambdaContext())
            drain_work_queue(worker, session)
        ledger = wiring.deploy_on_push().ledger
        started = [t for t in targets if [r.status.value for r in ledger.history(t, limit=1)] == ["IN_PROGRESS"]]
        total = sum(calls.values())
        shared = sum(n for op, n in calls.items() if op in shared_ops)
        results.append(
            {
                "kind": kind,
                "targets": count,
                "started": len(started),
                "calls": total,
                "shared_calls": shared,
                "per_target": round((total - shared) / count, 2),
                "by_operation": dict(sorted(calls.items())),
            }
        )
        say(f"  calls per deploy, {count} {kind} targets: {total} calls, {(total - shared) / count:.2f} per target")
    return results


def bench_burst(
    deploy: Callable[[Any, Any], Any],
    worker: Callable[[Any, Any], Any],
    track: Callable[[Any, Any], Any],
    counter: CallCounter,
    session: Any,
) -> dict[str, Any]:
    from autodeploy import wiring

    ecr, ecs = session.client("ecr"), session.client("ecs")
    moto_gaps.aws_like_deployments(ecs)  # so that the completion events name the rollout's deployment
    world.ensure_repository(ecr, "burst")
    world.push_image(ecr, "burst", "1.0.0")
    tags = {"autodeploy:repository": "burst", "autodeploy:tags": "semver"}
    services = [
        world.create_service(ecs, f"burst{i % 4}", f"burst-{i}", f"{world.REGISTRY}/burst:1.0.0", tags)
        for i in range(20)
    ]
    start = datetime.now(UTC) - timedelta(hours=2)
    events = [
        ecr_event(
            "burst", f"2.0.{i}", world.push_image(ecr, "burst", f"2.0.{i}"), start + timedelta(seconds=i), f"burst-{i}"
        )
        for i in range(200)
    ]
    rng = random.Random(2026)  # noqa: S311  # a fixed shuffle, not a secret
    deliveries = events + rng.sample(events, 40)  # out of order, some twice
    rng.shuffle(deliveries)
    from autodeploy.deploy.dispatch import worker_rates

    # ECS throttles the account, not a client: the push's ECS client and the rollout worker's own
    # paced one (created here under the name the worker uses) share the buckets and moto's bridge.
    rates = worker_rates(wiring.settings().worker_concurrency)["ecs"]
    clients = [wiring.aws_clients().ecs, wiring.aws_clients().paced("rollout_ecs", "ecs", rates)]
    moto_gaps.aws_like_deployments(clients[1])
    buckets = {
        "RegisterTaskDefinition": TokenBucket(burst=10, rate=1.0),
        "UpdateService": TokenBucket(burst=10, rate=1.0),
    }
    for client in clients:
        for operation, bucket in buckets.items():
            client.meta.events.register(f"before-send.ecs.{operation}", bucket)
    stats: Counter[str] = Counter()
    began = time.monotonic()
    with counter.counting() as calls:
        for event in deliveries:
            with_lambda_retries(deploy, event, stats)
            drain_work_queue(worker, session)
        delivered = time.monotonic() - began
        for _ in range(5):  # ECS finishes each rollout; the tracker deploys the pending push
            busy = [s for s in services if wiring.deploy_on_push().ledger.state(s).in_flight]
            if not busy:
                break
            for service in busy:
                completed = json.loads((ROOT / "events" / "ecs-deployment-completed.json").read_text())
                completed["resources"] = [service]
                completed["detail"]["deploymentId"] = world.primary_deployment(ecs, service)["id"]
                track(completed, FakeLambdaContext(function_name="TrackFunction"))
        total_calls = sum(calls.values())
    wall = time.monotonic() - began
    for client in clients:
        for operation, bucket in buckets.items():
            client.meta.events.unregister(f"before-send.ecs.{operation}", bucket)
    last = f"{world.REGISTRY}/burst@{events[-1]['detail']['image-digest']}"
    on_last = 0
    records = 0
    for service in services:
        cluster = service.split("/")[1]
        running = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
        image = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]["containerDefinitions"][0][
            "image"
        ]
        on_last += image == last
        records += len(wiring.deploy_on_push().ledger.history(service, limit=500))
    registrations = buckets["RegisterTaskDefinition"].admitted
    result = {
        "pushes": len(events),
        "deliveries": len(deliveries),
        "services": len(services),
        "services_on_last_image": on_last,
        "ledger_records": records,
        "registrations": registrations,
        "registrations_per_service": round(registrations / len(services), 2),
        "throttled_requests": sum(b.throttled for b in buckets.values()),
        "lambda_retries": stats["lambda_retries"],
        "lost_to_failure_queue": stats["lost_to_failure_queue"],
        "api_calls": total_calls,
        "delivery_seconds": round(delivered, 1),
        "wall_seconds": round(wall, 1),
    }
    say(
        f"  burst: {on_last} of {len(services)} services on the last image, {registrations} registrations, "
        f"{result['throttled_requests']} throttled, {stats['lost_to_failure_queue']} lost, {wall:.1f} s"
    )
    return result


def bench_review_fan_out(
    review: Callable[[Any, Any], Any], counter: CallCounter, session: Any, services: int
) -> dict[str, Any]:
    ecs, aas, cw = session.client("ecs"), session.client("application-autoscaling"), session.client("cloudwatch")
    began = time.monotonic()
    for i in range(services):
        world.scalable_service(ecs, aas, cw, f"fleet{i % 10}", f"svc{i}", review="observe")
    setup = time.monotonic() - began
    began = time.monotonic()
    with counter.counting() as calls:
        result = review({}, FakeLambdaContext(function_name="ReviewFunction"))
    wall = time.monotonic() - began
    total = sum(calls.values())
    outcome = {
        "services": services,
        "reviewed": len(result["reviewed"]),
        "api_calls": total,
        "calls_per_service": round(total / services, 3),
        "wall_seconds": round(wall, 1),
        "setup_seconds": round(setup, 1),
        "by_operation": dict(sorted(calls.items())),
    }
    say(f"  review fan-out: {services} services, {total} calls ({total / services:.3f} a service), {wall:.1f} s")
    return outcome


# -- the report ---------------------------------------------------------------------------------------


def write_report(results: dict[str, Any]) -> None:
    cold = results["cold_start"]
    calls = results["calls_per_deploy"]
    burst = results["burst"]
    fan = results["review_fan_out"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {results['measured_at']} (2 cores, Python {sys.version.split()[0]},",
        "moto server on loopback). Figures are from that one run; rerun `make bench` to reproduce them.",
        "",
        "## Cold start",
        "",
        "As Lambda starts DeployFunction for a push nobody registered: a fresh `python3.13` process (CPython 3.13.0",
        "from pyenv), the layer built by its own Makefile (what `sam build` runs) copied read-only with its",
        "bytecode as shipped, `sys.path` as Lambda sets it (the function's code, then the layer's `python/`), and",
        "nothing written (`-B`: Lambda's file system is read-only, and root ignores permission bits). The handler",
        "parses the event, makes one Resource Groups Tagging query against the moto server, and returns.",
        "The reference is a fresh process that imports boto3 from the same layer and makes that one call.",
        f"Medians of {results['cold_start_runs']} alternating runs each, timed from the process's spawn to the",
        "handler's return (interpreter start included, as in Lambda's init); the ratio from the process's first",
        "statement is given too. Peak memory is the handler process's VmHWM. Target: at most 1.25x the",
        "reference, peak under 100 MB.",
        "",
        "| layer | handler (ms) | reference (ms) | ratio | ratio without interpreter start "
        "| of which the tagging call (ms) | peak RSS (MB) | clients created | layer size (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
        *[
            f"| {c['variant']} | {c['handler_ms']} | {c['reference_ms']} | {c['ratio']}x | {c['inside_ratio']}x "
            f"| {c['call_ms']} | {c['peak_mb']} | {', '.join(c['clients'])} | {c['layer_mb']} |"
            for c in cold
        ],
        "",
        "The layer ships its own boto3/botocore (the pinned versions the tests run with), bytecode compiled by",
        "python3.13 in unchecked-hash mode, and only the botocore models of the services the code calls (plus",
        "xray, for tracing). The other rows show what those two choices are worth; the reference runs from the",
        "same layer, so compare the handler column across rows: without bytecode every cold start compiles",
        "the modules it imports again in memory. With every model the layer is twice the size for Lambda to",
        "fetch and unpack (not simulated here); botocore reads only the models it is asked for, so the",
        "process itself barely differs. The machine's load moves every figure; the ratios are the measure.",
        "",
        "## AWS calls per deploy",
        "",
        "One push to a repository with N registered targets, every call counted with botocore's `before-call`",
        "hook, the rollout worker's included (past ten targets the push hands the rest to the work queue; the",
        "worker's messages are handed to it as its event source mapping would). Shared calls (Resource Groups",
        "Tagging discovery, the targets' rollout states by 100, DescribeServices by 10, DescribeImages and",
        "SNS PublishBatch once a message, SendMessageBatch) are amortized; the rest is per",
        "target. Target: at most 5 per service and 3 per stack, ledger writes included (the fifth, since",
        "issue 10: the ECS deployment id UpdateService returns is written into the rollout in flight, so the",
        "tracker and reconcile can ask ECS's deployment history for its outcome once it has drained).",
        "",
        "| kind | targets | rollouts started | calls | shared | per target |",
        "|---|---|---|---|---|---|",
        *[
            f"| {c['kind']} | {c['targets']} | {c['started']} | {c['calls']} | {c['shared_calls']} "
            f"| {c['per_target']} |"
            for c in calls
        ],
        "",
        "Per service target: DescribeTaskDefinition, the ledger transaction (record + lock), RegisterTaskDefinition,",
        "UpdateService, the deployment id kept (UpdateItem). Per stack target: DescribeStacks, the ledger",
        "transaction, UpdateStack.",
        "",
        "## Burst",
        "",
        f"{burst['pushes']} pushes to one repository registered by {burst['services']} services (semver), delivered in",
        f"random order with duplicates ({burst['deliveries']} deliveries), one at a time, with ECS throttling injected",
        "at the HTTP layer as token buckets (RegisterTaskDefinition and UpdateService: 10 burst, 1 a second",
        "sustained), so botocore's adaptive retry mode meets it as it would on AWS. Then ECS finishes each rollout",
        "(the tracker gets its completion event) until nothing is in flight.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| services ending on the last pushed image | {burst['services_on_last_image']} of {burst['services']} |",
        f"| ledger records (one per service per push) | {burst['ledger_records']} |",
        f"| task definition registrations | {burst['registrations']} "
        f"({burst['registrations_per_service']} a service) |",
        f"| throttled requests (absorbed by botocore retries) | {burst['throttled_requests']} |",
        f"| Lambda retries | {burst['lambda_retries']} |",
        f"| pushes lost to the failure queue | {burst['lost_to_failure_queue']} |",
        f"| AWS calls | {burst['api_calls']} |",
        f"| wall time: deliveries / total | {burst['delivery_seconds']} s / {burst['wall_seconds']} s |",
        "",
        "## Review fan-out",
        "",
        f"One scheduled review of {fan['services']} services tagged `autodeploy:scaling-review`. Target: about",
        "one call a service for its scaling activities (DescribeScalingActivities by ResourceId: AWS lists an",
        "account's activities 50 at a time, so only a per-service read sees all of a service's), plus under 0.3",
        "for everything else, which is batched.",
        "",
        "| services | AWS calls | calls a service | wall time |",
        "|---|---|---|---|",
        f"| {fan['services']} | {fan['api_calls']} | {fan['calls_per_service']} | {fan['wall_seconds']} s |",
        "",
        "Calls by operation: " + ", ".join(f"{op} {n}" for op, n in fan["by_operation"].items()) + ".",
        "",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))
    (ROOT / "out").mkdir(exist_ok=True)
    (ROOT / "out" / "benchmarks.json").write_text(json.dumps(results, indent=2, default=str))


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    results: dict[str, Any] = {"measured_at": datetime.now(UTC).strftime("%Y-%m-%d"), "cold_start_runs": runs}
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    FUNCTIONS_LOG.unlink(missing_ok=True)
    with emulator(None) as url, functions_output_to(FUNCTIONS_LOG):
        say(f"cold start (the functions' own output goes to {FUNCTIONS_LOG.relative_to(ROOT)})")
        results["cold_start"] = bench_cold_start(url, runs)
        point_at(url)
        session = boto3.session.Session()
        handlers = {
            n: load_handler(n, parameters={"LogLevel": "ERROR"})
            for n in ("DeployFunction", "RolloutWorkerFunction", "TrackFunction", "ReviewFunction")
        }
        from autodeploy import wiring

        moto_gaps.aws_like_deployments(wiring.aws_clients().ecs)
        moto_gaps.scaling_activities_unavailable(wiring.aws_clients().application_autoscaling)
        counter = CallCounter()
        say("calls per deploy")
        results["calls_per_deploy"] = bench_calls_per_deploy(
            handlers["DeployFunction"], handlers["RolloutWorkerFunction"], counter, session
        )
        say("burst")
        results["burst"] = bench_burst(
            handlers["DeployFunction"], handlers["RolloutWorkerFunction"], handlers["TrackFunction"], counter, session
        )
        say("review fan-out")
        results["review_fan_out"] = bench_review_fan_out(handlers["ReviewFunction"], counter, session, services=500)
    write_report(results)
    say("closed-loop scaling")
    from tools import bench_scaling

    bench_scaling.update_benchmarks()
    say("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
