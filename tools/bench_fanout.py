"""`make bench` (fan-out): one push to N targets of one repository, deployed by DeployFunction and the
rollout workers, simulated on a virtual clock. Writes its section of BENCHMARKS.md.

    python -m tools.bench_fanout [--services 100,1000,5000] [--stacks 50]

The functions' real handlers run against moto in-process (mock_aws) and moto's SQS holds the work
queue and the failure queue (the product's SendMessageBatch writes there, moto applies the
redrive policy's maxReceiveCount). What moto does not run is modelled here, on simulated time:

- ECS's throttling, per account and region, as token buckets at the HTTP layer (botocore's
  ``before-send``): RegisterTaskDefinition burst 20, 1 a second; UpdateService burst 50, 5 a second
  ("Request throttling for the Amazon ECS API"). A throttled request gets the 400
  ThrottlingException ECS sends, and botocore's own retry mode (adaptive) handles it.
- Every AWS call takes ``LATENCY`` of simulated time.
- Lambda's event source mapping for SQS: it polls every second, hands up to BatchSize messages to
  an invocation, runs at most MaximumConcurrency invocations at once (warm execution environments,
  each with its own clients and pacing buckets), deletes the messages that succeeded and lets
  the failed ones reappear after the visibility timeout. (An in-memory model rather than moto's
  Lambda, which runs functions in Docker and has no MaximumConcurrency.)
- Lambda's timeout as each invocation's deadline: its context's remaining time is simulated.

Simulated threads run one at a time and hand over only when they wait (a call's latency, a
throttled retry's backoff, a pacing token), in the order of their wake-up times: with botocore's
jitter seeded, a run is deterministic. botocore's clocks and sleeps are pointed at the virtual
clock for the run (its retry sleep, its token buckets' clock and condition waits).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import sys
import threading
import time
import tracemalloc
import types
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from tools.benchmarks_file import replace_section
from tools.template import ROOT, load_template

BENCHMARKS = ROOT / "BENCHMARKS.md"
FUNCTIONS_LOG = ROOT / "out" / "bench-fanout-functions.log"
SECTION = "## Fan-out"
LATENCY = 0.05  # simulated seconds per AWS call
POLL_SECONDS = 1.0  # the event source mapping's polling interval when it finds nothing
ECS_BUCKETS = {"RegisterTaskDefinition": (20, 1.0), "UpdateService": (50, 5.0)}  # burst, per second
SOLO_PUSHES_AT = (300.0, 450.0, 600.0)  # a single-service push to another repository, during the fan-out


# -- simulated time ------------------------------------------------------------------------------------


class VirtualTime:
    """A clock and a scheduler: simulated threads run one at a time, each until it sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, object]] = []
        self._seq = 0
        self._running: object | None = None
        self._live = 0
        self._local = threading.local()
        self.errors: list[BaseException] = []
        self.on_switch: Callable[[], None] = lambda: None

    def _schedule(self, at: float, token: object) -> None:
        heapq.heappush(self._heap, (at, self._seq, token))
        self._seq += 1

    def _dispatch(self) -> None:
        if self._running is None and self._heap:
            at, _, token = heapq.heappop(self._heap)
            self.now = max(self.now, at)
            self._running = token
            self._cv.notify_all()

    def _wait_turn(self, token: object) -> None:
        while self._running is not token:
            self._cv.wait()

    def sleep(self, seconds: float) -> None:
        token = getattr(self._local, "token", None)
        if token is None:
            raise RuntimeError("a simulated sleep outside a simulated thread")
        self.on_switch()
        with self._cv:
            self._schedule(self.now + max(0.0, seconds), token)
            self._running = None
            self._dispatch()
            self._wait_turn(token)

    def spawn(self, work: Callable[[], None], delay: float = 0.0) -> None:
        token = object()
        with self._cv:
            self._live += 1
            self._schedule(self.now + delay, token)

        def body() -> None:
            self._local.token = token
            with self._cv:
                self._wait_turn(token)
            try:
                work()
            except BaseException as exc:  # reported by run()
                self.errors.append(exc)
            finally:
                self.on_switch()
                with self._cv:
                    self._live -= 1
                    self._running = None
                    self._dispatch()
                    self._cv.notify_all()

        threading.Thread(target=body, daemon=True).start()

    def run(self) -> None:
        with self._cv:
            self._dispatch()
            while self._live:
                self._cv.wait()
        if self.errors:
            raise self.errors[0]


class _SimCondition:
    """threading.Condition for botocore's TokenBucket: waiting is a simulated sleep."""

    def __init__(self, clock: VirtualTime, lock: Any = None) -> None:
        self._clock = clock
        self._lock = lock or threading.Lock()

    def __enter__(self) -> bool:
        return bool(self._lock.acquire())

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        self._lock.release()
        try:  # at least a microsecond: a bucket a hair short of a token must see time pass
            self._clock.sleep(max(timeout or 0.0, 1e-6))
        finally:
            self._lock.acquire()
        return True

    def notify(self, n: int = 1) -> None:
        """Waiters wake at the time they computed; a new fill rate is read then."""


@contextmanager
def botocore_on(clock: VirtualTime) -> Iterator[None]:
    """botocore's retry sleep, its token buckets' clock and their waits, on the virtual clock."""
    import botocore.endpoint
    import botocore.retries.bucket

    endpoint: Any = botocore.endpoint
    bucket: Any = botocore.retries.bucket
    shim = types.SimpleNamespace(time=lambda: clock.now, sleep=clock.sleep, monotonic=lambda: clock.now)
    threads = types.SimpleNamespace(Lock=threading.Lock, Condition=partial(_SimCondition, clock))
    saved = endpoint.time, bucket.time, bucket.threading
    endpoint.time, bucket.time, bucket.threading = shim, shim, threads
    try:
        yield
    finally:
        endpoint.time, bucket.time, bucket.threading = saved


@contextmanager
def transactions_snapshot_items() -> Iterator[None]:
    """moto's TransactWriteItems deep-copies every table it touches, to roll back a cancelled
    transaction: a cost that grows with the ledger (quadratic over a push to thousands of targets).
    Here it keeps a copy of only the items the transaction touches and puts them back on
    cancellation: the same rollback, at the cost of the transaction's own items."""
    import copy as real_copy

    import moto.dynamodb.models as dynamodb_models

    models: Any = dynamodb_models
    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    tables_uncopied = types.SimpleNamespace(
        deepcopy=lambda value: value if isinstance(value, models.Table) else real_copy.deepcopy(value)
    )

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched = []
        for item in transact_items:
            _, op = next(iter(item.items()))
            table = self.get_table(op["TableName"])
            attrs = op.get("Item")
            key = op["Key"] if attrs is None else {table.hash_key_attr: attrs[table.hash_key_attr]}
            if attrs is not None and table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
            current = self.get_item(op["TableName"], key)
            touched.append((op["TableName"], key, None if current is None else current.to_json()["Attributes"]))
        saved = models.copy
        models.copy = tables_uncopied
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, before in touched:
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, real_copy.deepcopy(before))
            raise
        finally:
            models.copy = saved

    backend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        backend.transact_write_items = original


# -- ECS, as its throttling and latency look from the functions' clients --------------------------------


@dataclass
class Bucket:
    """ECS's token bucket for one API, per account and region."""

    clock: VirtualTime
    burst: float
    rate: float
    tokens: float = 0.0
    last: float = 0.0
    throttled: int = 0
    admitted: list[tuple[float, str]] = field(default_factory=list)  # (time, resource name)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        now = self.clock.now
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.admitted.append((now, _resource(request)))
            return None
        self.throttled += 1
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        response: Any = AWSResponse(request.url, 400, headers, None)
        response._content = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return response


def _resource(request: Any) -> str:
    body = request.body or b""
    text = body.decode() if isinstance(body, bytes) else str(body)
    if text.startswith("{"):
        parsed = json.loads(text)
        return str(parsed.get("service") or parsed.get("family") or "").rsplit("/", 1)[-1]
    fields = urllib.parse.parse_qs(text)
    return fields.get("StackName", [""])[0].split("/")[-2 if "/" in fields.get("StackName", [""])[0] else -1]


@dataclass
class Calls:
    """Every call the functions make, counted, each taking LATENCY of simulated time."""

    clock: VirtualTime
    by_operation: Counter[str] = field(default_factory=Counter)

    def __call__(self, event_name: str, **_: Any) -> None:
        self.by_operation[event_name.split(".", 1)[1]] += 1
        self.clock.sleep(LATENCY)


# -- Lambda: execution environments, deadlines, memory ---------------------------------------------------


class Environments:
    """Each execution environment builds its own clients and use cases (``autodeploy.wiring``), as in
    Lambda: the wiring's cached builders are made per environment for the run."""

    NAMES = ("aws_clients", "settings", "deploy_on_push", "rollout_worker", "track_rollouts", "reconcile")

    def __init__(self, session: Any) -> None:
        self._session = session
        self._local = threading.local()
        self._built: dict[str, dict[str, Any]] = {}
        self._saved: dict[str, Any] = {}

    @contextmanager
    def installed(self) -> Iterator[None]:
        from autodeploy import wiring
        from autodeploy.adapters.aws import AwsClients

        for name in self.NAMES:
            original = getattr(wiring, name)
            self._saved[name] = original
            build = (lambda: AwsClients(self._session)) if name == "aws_clients" else original.__wrapped__
            setattr(wiring, name, partial(self._get, name, build))
        try:
            yield
        finally:
            for name, original in self._saved.items():
                setattr(wiring, name, original)

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        built = self._built.setdefault(self._local.environment, {})
        if name not in built:
            built[name] = build()
        return built[name]

    @contextmanager
    def using(self, environment: str) -> Iterator[None]:
        self._local.environment = environment
        yield


@dataclass
class SimContext:
    clock: VirtualTime
    function_name: str
    timeout: float
    started: float = 0.0
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.started + self.timeout - self.clock.now) * 1000)


class Memory:
    """tracemalloc's peak while an invocation runs, above what was traced when it began. An upper
    bound of its own: the window includes the emulator's allocations in this process and those of
    the invocations running at the same time."""

    def __init__(self, traced: str = "all") -> None:
        self.traced = traced  # "all" invocations, or only the "push" invocations (tracing on meanwhile)
        self._live: dict[int, int] = {}
        self.peaks: Counter[str] = Counter()
        self._names: dict[int, str] = {}
        self._ids = 0

    def switch(self) -> None:
        if not self._live or not tracemalloc.is_tracing():
            return
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for key, base in self._live.items():
            name = self._names[key]
            self.peaks[name] = max(self.peaks[name], peak - base)

    @contextmanager
    def watching(self, function: str) -> Iterator[None]:
        own = self.traced == "push" and function == "DeployFunction" and not tracemalloc.is_tracing()
        if own:
            tracemalloc.start(1)
        if not tracemalloc.is_tracing():
            yield
            return
        self.switch()
        tracemalloc.reset_peak()
        self._ids += 1
        key = self._ids
        self._live[key], self._names[key] = tracemalloc.get_traced_memory()[0], function
        try:
            yield
        finally:
            self.switch()
            del self._live[key]
            if own:
                tracemalloc.stop()


@dataclass
class Invocation:
    function: str
    started: float
    ended: float
    deadline: float
    outcome: str


class Lambda:
    def __init__(self, clock: VirtualTime, environments: Environments, memory: Memory) -> None:
        self.clock, self.environments, self.memory = clock, environments, memory
        self.invocations: list[Invocation] = []
        self.timeouts = {k: _timeout(k) for k in ("DeployFunction", "RolloutWorkerFunction")}

    def invoke(self, function: str, handler: Callable[[Any, Any], Any], event: Any, environment: str) -> Any:
        context = SimContext(self.clock, function, self.timeouts[function], started=self.clock.now)
        outcome, result = "ok", None
        with self.environments.using(environment), self.memory.watching(function):
            try:
                result = handler(event, context)
            except Exception as exc:  # Lambda records the error; the caller decides
                outcome, result = type(exc).__name__, exc
        self.invocations.append(
            Invocation(function, context.started, self.clock.now, context.started + context.timeout, outcome)
        )
        return result


def _timeout(function: str) -> float:
    template = load_template()
    return float(
        template["Resources"][function]["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"])
    )


class EventSourceMapping:
    """Lambda's SQS poller for the work queue, as configured in template.yaml."""

    def __init__(self, clock: VirtualTime, aws_lambda: Lambda, sqs: Any, queue_url: str, handler: Any) -> None:
        properties = load_template()["Resources"]["RolloutWorkerFunction"]["Properties"]["Events"]["Work"]["Properties"]
        parameters = load_template()["Parameters"]
        self.batch_size = int(properties["BatchSize"])
        self.max_concurrency = int(parameters["RolloutWorkerConcurrency"]["Default"])
        queue = load_template()["Resources"]["RolloutWorkQueue"]["Properties"]
        self.visibility = float(queue["VisibilityTimeout"])
        self.clock, self.aws_lambda, self.sqs, self.queue_url, self.handler = clock, aws_lambda, sqs, queue_url, handler
        self.free = [f"worker-{i}" for i in range(self.max_concurrency)]
        self.active = 0
        self.reappearing = 0
        self.producers = 0
        self.receives = 0

    def _receive(self) -> list[dict[str, Any]]:
        self.receives += 1
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            VisibilityTimeout=43_200,  # the model makes a failed message visible again, on simulated time
            AttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _idle(self) -> bool:
        if self.active or self.reappearing or self.producers:
            return False
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
            == 0
        )

    def poll(self) -> None:
        while not self._idle():
            self._fill()
            self.clock.sleep(POLL_SECONDS)

    def _fill(self) -> None:
        """Invoke the worker for what the queue holds, up to MaximumConcurrency at once."""
        while self.active < self.max_concurrency and (messages := self._receive()):
            self.active += 1
            self.clock.spawn(partial(self._invoke, messages, self.free.pop()))

    def _invoke(self, messages: list[dict[str, Any]], environment: str) -> None:
        from tests.support.events import rollout_work

        event = rollout_work([m["Body"] for m in messages])
        for record, message in zip(event["Records"], messages, strict=True):
            record["messageId"] = message["MessageId"]
            record["receiptHandle"] = message["ReceiptHandle"]
            record["attributes"]["ApproximateReceiveCount"] = message["Attributes"]["ApproximateReceiveCount"]
        result = self.aws_lambda.invoke("RolloutWorkerFunction", self.handler, event, environment)
        failed = (
            {m["MessageId"] for m in messages}
            if isinstance(result, Exception)
            else {f["itemIdentifier"] for f in result["batchItemFailures"]}
        )
        received = self.clock.now
        for message in messages:
            if message["MessageId"] in failed:
                self.reappearing += 1
                self.clock.spawn(partial(self._reappear, message), delay=self.visibility - (self.clock.now - received))
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.free.append(environment)
        self.active -= 1
        self._fill()  # with a backlog, Lambda's pollers start the next batch as soon as a slot is free

    def _reappear(self, message: dict[str, Any]) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
        self.reappearing -= 1


# -- one scenario -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    targets: int
    deployed: int
    registered: int
    max_revisions: int
    lost: int
    in_failure_queue: int
    past_deadline: int
    last_update_s: float
    limit_s: float
    ratio: float
    peak_mb: float
    calls_per_target: float
    sends: int
    throttled: int
    invocations: int
    solo_waits: list[float]
    wall_s: float
    setup_s: float
    by_operation: dict[str, int]
    traced: str = "all"  # tracemalloc over every invocation, or only while the push's invocation ran


def scenario(kind: str, count: int, solo: bool, traced: str = "all") -> Outcome:  # noqa: PLR0912, PLR0915  # one simulation, read top to bottom
    import boto3
    from moto import mock_aws

    from tests.support.events import ecr_push
    from tools import world
    from tools.local_invoke import load_handler

    began = time.monotonic()
    random.seed(2026)  # botocore's jitter
    clock = VirtualTime()
    memory = Memory(traced)
    with mock_aws(), botocore_on(clock), transactions_snapshot_items():
        harness: Any = boto3.session.Session(region_name="us-east-1")
        functions = boto3.session.Session(region_name="us-east-1")
        calls = Calls(clock)
        functions.events.register("before-call.*.*", calls)
        buckets = {op: Bucket(clock, burst, rate) for op, (burst, rate) in ECS_BUCKETS.items()}
        for operation, bucket in buckets.items():
            functions.events.register(f"before-send.ecs.{operation}", bucket)
        updates: list[tuple[float, str]] = []
        functions.events.register(
            "before-send.cloudformation.UpdateStack",
            lambda request, **_: updates.append((clock.now, _resource(request))),
        )
        deploy = load_handler("DeployFunction", parameters={"LogLevel": "ERROR"})
        worker = load_handler("RolloutWorkerFunction", parameters={"LogLevel": "ERROR"})
        ecr, ecs, cfn, sqs = (harness.client(n) for n in ("ecr", "ecs", "cloudformation", "sqs"))
        world.ensure_repository(ecr, "fleet")
        world.push_image(ecr, "fleet", "1.0.0")
        tags = {"autodeploy:repository": "fleet"}
        if kind == "service":
            targets = [
                world.create_service(ecs, f"c{i % 10}", f"fleet-{i}", f"{world.REGISTRY}/fleet:1.0.0", tags, 1)
                for i in range(count)
            ]
        else:
            targets = [
                world.create_stack(cfn, f"fleet-{i}", "1.0.0", tags | {"autodeploy:parameter": "BuildNumber"})
                for i in range(count)
            ]
        for n in range(len(SOLO_PUSHES_AT) if solo else 0):  # one service, one repository each
            world.ensure_repository(ecr, f"solo-{n}")
            world.push_image(ecr, f"solo-{n}", "1.0.0")
            tags_n = {"autodeploy:repository": f"solo-{n}"}
            world.create_service(ecs, "c0", f"solo-{n}", f"{world.REGISTRY}/solo-{n}:1.0.0", tags_n, 1)
        queue_url = sqs.get_queue_url(QueueName="RolloutWorkQueue")["QueueUrl"]
        failure_url = sqs.get_queue_url(QueueName="DeployFailureQueue")["QueueUrl"]
        setup = time.monotonic() - began

        environments = Environments(functions)
        aws_lambda = Lambda(clock, environments, memory)
        mapping = EventSourceMapping(clock, aws_lambda, sqs, queue_url, worker)
        digest = world.push_image(ecr, "fleet", "1.1.0")
        pushes = [(0.0, ecr_push("1.1.0", digest, repository="fleet", time="2026-11-29T12:00:00Z"))]
        for n, at in enumerate(SOLO_PUSHES_AT if solo else ()):
            solo_digest = world.push_image(ecr, f"solo-{n}", "1.1.0")
            stamp = f"2026-11-29T12:{int(at) // 60:02d}:{int(at) % 60:02d}Z"
            pushes.append((at, ecr_push("1.1.0", solo_digest, repository=f"solo-{n}", time=stamp)))
        retried: list[str] = []

        def push_invocation(event: dict[str, Any], name: str) -> None:
            for attempt in range(3):  # Lambda's asynchronous retries, a minute apart
                result = aws_lambda.invoke("DeployFunction", deploy, event, name)
                if not isinstance(result, Exception):
                    break
                retried.append(name)
                if attempt < 2:
                    clock.sleep(60.0)
            mapping.producers -= 1

        if memory.traced == "all":
            tracemalloc.start(1)
        clock.on_switch = memory.switch
        for n, (at, event) in enumerate(pushes):
            mapping.producers += 1
            clock.spawn(partial(push_invocation, event, "deploy-fleet" if n == 0 else f"deploy-solo-{n}"), delay=at)
        clock.spawn(mapping.poll)
        FUNCTIONS_LOG.parent.mkdir(exist_ok=True)
        with environments.installed(), FUNCTIONS_LOG.open("a") as log, contextlib.redirect_stdout(log):
            clock.run()  # the functions' logs and metric documents go to the log file
        if tracemalloc.is_tracing():
            tracemalloc.stop()

        # -- what happened
        pinned = f"{world.REGISTRY}/fleet@{digest}"
        deployed = registered = max_revisions = 0
        if kind == "service":
            for start in range(0, len(targets), 10):
                for cluster in {arn.split("/")[1] for arn in targets[start : start + 10]}:
                    chunk = [a for a in targets[start : start + 10] if a.split("/")[1] == cluster]
                    for service in ecs.describe_services(cluster=cluster, services=chunk)["services"]:
                        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
                        deployed += definition["taskDefinition"]["containerDefinitions"][0]["image"] == pinned
            # Every RegisterTaskDefinition that reached ECS, by family (a service's family is its name).
            per_family = Counter(name for _, name in buckets["RegisterTaskDefinition"].admitted)
            fleet_families = [n for n in per_family if n.startswith("fleet-")]
            registered = len(fleet_families)
            max_revisions = max((per_family[n] for n in fleet_families), default=0)
            fleet_updates = [t for t, name in buckets["UpdateService"].admitted if name.startswith("fleet-")]
        else:
            for arn in targets:
                stack = cfn.describe_stacks(StackName=arn)["Stacks"][0]
                value = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["BuildNumber"]
                deployed += value == "1.1.0"
            per_stack = Counter(name for _, name in updates if name.startswith("fleet-"))
            registered = len(per_stack)
            max_revisions = max(per_stack.values(), default=0)
            fleet_updates = [t for t, name in updates if name.startswith("fleet-")]
        dead: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=failure_url, MaxNumberOfMessages=10).get("Messages", []):
            dead += batch
            for message in batch:
                sqs.delete_message(QueueUrl=failure_url, ReceiptHandle=message["ReceiptHandle"])
        named = {t["arn"] for m in dead for t in json.loads(m["Body"]).get("targets", [])}
        lost = sum(1 for arn in targets if arn not in named) - deployed
        burst, rate = ECS_BUCKETS["RegisterTaskDefinition"]
        limit = burst + max(0, count - burst) / rate if kind == "service" else count / rate
        last = max(fleet_updates, default=float("nan"))
        solo_waits = []
        for n, at in enumerate(SOLO_PUSHES_AT if solo else ()):
            after = [t for t, name in buckets["UpdateService"].admitted if name == f"solo-{n}"]
            solo_waits.append(round(min(after) - at, 1) if after else float("inf"))
        fleet_calls = sum(calls.by_operation.values())
        return Outcome(
            kind=kind,
            targets=count,
            deployed=deployed,
            registered=registered,
            max_revisions=max_revisions,
            lost=max(lost, 0),
            in_failure_queue=len(named & set(targets)),
            past_deadline=sum(1 for i in aws_lambda.invocations if i.ended > i.deadline),
            last_update_s=round(last, 1),
            limit_s=limit,
            ratio=round(last / limit, 3),
            peak_mb=round(max(memory.peaks.values(), default=0) / 2**20, 1),
            calls_per_target=round(fleet_calls / (count + len(solo_waits)), 2),
            sends=calls.by_operation.get("sqs.SendMessageBatch", 0) + calls.by_operation.get("sqs.SendMessage", 0),
            throttled=sum(b.throttled for b in buckets.values()),
            invocations=len(aws_lambda.invocations),
            solo_waits=solo_waits,
            wall_s=round(time.monotonic() - began, 1),
            setup_s=round(setup, 1),
            by_operation=dict(sorted(calls.by_operation.items())),
            traced=traced,
        )


# -- the report -------------------------------------------------------------------------------------------


def _traced(outcome: Outcome) -> str:
    return "" if outcome.traced == "all" else " (the push's invocation)"


def section(outcomes: list[Outcome], measured_at: str) -> str:
    from autodeploy.deploy.dispatch import FAN_OUT_SHARE

    floor = f"1 / {FAN_OUT_SHARE} = {1 / FAN_OUT_SHARE:.2f}x"
    rows = [
        f"| {o.kind} | {o.targets:,} | {o.deployed:,} / {o.registered:,} | {o.max_revisions} | {o.lost} "
        f"| {o.in_failure_queue} | {o.past_deadline} / {o.invocations} | {o.last_update_s:,} s | {o.limit_s:,.0f} s "
        f"| {o.ratio:.2f}x | {o.peak_mb}{_traced(o)} | {o.calls_per_target} | {o.throttled} | {o.wall_s:,.0f} s |"
        for o in outcomes
    ]
    solo = [o for o in outcomes if o.solo_waits]
    fairness = [
        f"With the {o.targets:,}-{o.kind} push in flight, single-service pushes to another repository at "
        + ", ".join(f"{at:.0f} s" for at in SOLO_PUSHES_AT)
        + " reached their UpdateService after "
        + ", ".join(f"{w} s" for w in o.solo_waits)
        + " (target: under 30 s)."
        for o in solo
    ]
    calls = [
        f"- {o.kind}, {o.targets:,}: " + ", ".join(f"{k} {v}" for k, v in o.by_operation.items()) for o in outcomes
    ]
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured by `make bench` (`tools/bench_fanout.py`) on {measured_at}: one push to N targets of one",
            "repository, on a simulated clock. The real handlers run on moto in-process; moto's SQS holds the work",
            "queue and applies its redrive policy. Modelled on simulated time: ECS's throttling at the HTTP layer",
            "(RegisterTaskDefinition burst 20, 1 a second; UpdateService burst 50, 5 a second, per account and",
            'region: "Request throttling for the Amazon ECS API"), 50 ms per AWS call, Lambda\'s event source',
            "mapping (polls every second, BatchSize, MaximumConcurrency, visibility timeout, as template.yaml sets",
            "them) and each invocation's timeout as its deadline. botocore's retries, jitter (seeded) and token",
            "buckets run on the simulated clock. Stack targets: moto's CloudFormation does not replace ECS",
            "resources, so no ECS bucket sees their updates; the limit for them is UpdateStack paced at ECS's",
            "RegisterTaskDefinition rate (CloudFormation's quotas page publishes no request rate for UpdateStack).",
            "",
            "Targets: revisions per target 1, lost 0, invocations past their deadline 0; time from the push to the",
            "last UpdateService (UpdateStack) at most 1.15x the limit the bucket imposes, burst + (N - burst) / rate;",
            "peak memory of any invocation under MemorySize (256 MB); AWS calls per target at most today's 5 plus",
            "the hand-off amortized.",
            "",
            "| kind | targets | deployed / registered | revisions per target (max) | lost | in the failure queue "
            "| invocations past deadline / all | push to last update | limit | ratio | peak MB (tracemalloc, "
            "upper bound) | AWS calls per target | throttled requests | wall time |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            *fairness,
            "",
            "Why about 1.11x: the push's invocation deploys the first ten targets on ECS's burst and the workers the",
            f"rest at {FAN_OUT_SHARE:.0%} of ECS's RegisterTaskDefinition rate, the rest of it left to the pushes",
            "deployed in-process (the single-service pushes above find the bucket full: the workers never empty",
            f"it), so the floor is {floor}; at 100 targets the last chunk, run by one",
            "worker at its half of that, adds some seconds. Stack targets: the limit is N / (1 a second), no burst",
            "being published for them; 0.91x because the first ten go at once.",
            "",
            "Wall time on the shared 2-core machine (other jobs running), of which building the world in moto: "
            + ", ".join(f"{o.kind} {o.targets:,}: {o.wall_s:,.0f} s ({o.setup_s:,.0f} s)" for o in outcomes)
            + ". moto's TransactWriteItems deep-copies every table it touches to roll back a cancelled",
            "transaction, a cost that grows with the ledger (quadratic over the push); the bench rolls back from",
            "copies of the items the transaction touches instead (the same rollback); a 1,000-target run without it",
            "had not finished after 12 minutes, when it was stopped. At 5,000 tracemalloc traces only while the",
            "push's invocation runs (`--traced auto`): the workers' invocations do not grow with N (one message",
            "each) and are traced at 100 and 1,000.",
            "",
            "Peak memory: tracemalloc's peak while an invocation ran, above what was traced when it began; it",
            "counts the emulator's allocations in the same process and those of invocations running at the same",
            "time, so it bounds the invocation's own from above. AWS calls are the functions' own (the event",
            "source mapping's polling is Lambda's), the single-service pushes included:",
            "",
            *calls,
            "",
        ]
    )


def update_benchmarks(outcomes: list[Outcome], path: Path = BENCHMARKS) -> None:
    outcomes = sorted(outcomes, key=lambda o: (o.kind != "service", o.targets))
    new = section(outcomes, datetime.now(UTC).strftime("%Y-%m-%d"))
    replace_section(path, SECTION, new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", default="100,1000,5000", help="service target counts, comma separated")
    parser.add_argument("--stacks", type=int, default=50, help="stack targets (0: none)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    parser.add_argument(
        "--traced",
        choices=("auto", "all", "push"),
        default="auto",
        help="tracemalloc over every invocation, or only while a push's invocation runs (auto: all up to "
        "1,000 targets, push beyond, where tracing everything would double a run that takes minutes)",
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "out" / "bench-fanout.json", help="where to keep the figures"
    )
    parser.add_argument("--merge", type=Path, nargs="*", help="write the section from figures kept by earlier runs")
    args = parser.parse_args(argv)
    if args.merge:
        update_benchmarks([Outcome(**o) for path in args.merge for o in json.loads(path.read_text())])
        print("wrote the 'Fan-out' section of BENCHMARKS.md from " + ", ".join(map(str, args.merge)), flush=True)
        return 0
    for variable in ("AWS_ENDPOINT_URL",):  # moto in-process, never a server
        os.environ.pop(variable, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    import logging

    logging.disable(logging.CRITICAL)
    runs = [("service", int(n), int(n) == 1000) for n in args.services.split(",") if n]
    if args.stacks:
        runs.append(("stack", args.stacks, False))
    outcomes = []
    for kind, count, solo in runs:
        print(f"  fan-out: {count} {kind} targets{' and single-service pushes' if solo else ''}", flush=True)
        traced = args.traced if args.traced != "auto" else ("all" if count <= 1000 else "push")
        outcome = scenario(kind, count, solo, traced)
        print(
            f"    {outcome.deployed}/{outcome.targets} deployed, {outcome.max_revisions} revisions at most, "
            f"{outcome.lost} lost, {outcome.past_deadline} past deadline, last update {outcome.last_update_s} s "
            f"({outcome.ratio}x), peak {outcome.peak_mb} MB, {outcome.calls_per_target} calls a target, "
            f"solo waits {outcome.solo_waits}, {outcome.wall_s} s wall ({outcome.setup_s} s set-up)",
            flush=True,
        )
        outcomes.append(outcome)
    args.json.parent.mkdir(exist_ok=True)
    args.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=2))
    if not args.no_write:
        update_benchmarks(outcomes)
        print("wrote the 'Fan-out' section of BENCHMARKS.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
