"""`make demo`: the whole story on an embedded moto server, through the real handlers.

Every event goes onto the emulator's EventBridge bus and reaches a function only if one of the
template's own rules routes it there. What moto cannot do is said as it happens: ECR, ECS and
CloudWatch emit no events on moto, so the demo puts on the bus the events AWS would send; ECS
never runs a rollout, so the demo reports its deployments' ends and crashes a deployment's tasks.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from tools import moto_gaps, world
from tools.demo_release import ReleaseAct
from tools.eventbridge import Delivery, Router
from tools.lambda_context import FakeLambdaContext
from tools.local_invoke import emulator, load_handler, point_at
from tools.template import ROOT

TIME = "%Y-%m-%d %H:%M:%S"  # the one time format of the demo and the CLI
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
EVENTS = ROOT / "events"


@dataclass
class Story:
    """What happened, step by step, for the e2e tests to check."""

    steps: dict[str, list[Delivery]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    timeline: Path | None = None
    approval_exit: int | None = None  # act 2: what `autodeploy approve` returned
    after_approval: tuple[str | None, str] | None = None  # act 2: prod/admin's latest (tag, status) then
    seconds: float = 0.0


def sample(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    for key, value in changes.items():
        if key == "detail":
            event["detail"].update(value)
        else:
            event[key] = value
    return event


class Demo:
    def __init__(self, url: str, out: Path, say: Any = print) -> None:
        self.url, self.out, self.say = url, out, say
        self.story = Story()
        self.clock = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)  # the story's own time
        self.cpu = 0.0  # the service's current CPU load in the story
        self.session = boto3.session.Session()
        self.ecr = self.session.client("ecr")
        self.ecs = self.session.client("ecs")
        self.cloudwatch: Any = self.session.client("cloudwatch")
        self.autoscaling = self.session.client("application-autoscaling")

    # -- narration ---------------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self.say(f"\n{BOLD}{title}{RESET}")

    def note(self, text: str) -> None:
        self.say(f"  {DIM}{text}{RESET}")

    def show(
        self, deliveries: list[Delivery], about: str = "-", at: datetime | None = None, repository: str | None = None
    ) -> None:
        """One line per decision: the function, the target, the push (or review time) it is about, the outcome."""
        for delivery in deliveries:
            result = delivery.result
            if delivery.function in ("DeployFunction", "ReleaseFunction"):
                repository = repository or result.get("repository") or _repository_of(delivery.event)
                push = (
                    f"{repository}:{result.get('tag')}" if result.get("tag") else short(str(result.get("digest", "")))
                )
                for target in result.get("targets", result.get("released", [])):
                    about = (
                        f"{repository}:{target['tag']}" if target.get("tag") else push
                    )  # a displaced push has its own
                    self.line(delivery.function, target["target"], about, target["status"], target["reason"])
                for note in result.get("notes", []):
                    self.line(delivery.function, note["target"], "-", "-", note["note"])
            elif delivery.function == "TrackFunction":
                status = result.get("status", result.get("outcome"))
                self.line(
                    "TrackFunction", result.get("target", "-"), about, status, result.get("reason", result.get("why"))
                )
                for target in result.get("next", []):
                    self.line(
                        "TrackFunction",
                        target["target"],
                        self.in_flight(),
                        target["status"],
                        f"next: {target['reason']}",
                    )
                for target in result.get("downstream", []):
                    self.line(
                        "TrackFunction", target["target"], about, target["status"], f"after it: {target['reason']}"
                    )
            elif delivery.function == "ReviewFunction":
                when = (at or datetime.now(UTC)).strftime(TIME)
                for reviewed in result.get("reviewed", []):
                    native = f"{reviewed['native']:+d}" if reviewed["native"] else "no change"
                    counts = f"{reviewed['current']} -> {reviewed['recommended']}"
                    self.line(
                        "ReviewFunction",
                        reviewed["service"],
                        when,
                        reviewed["decision"],
                        f"{counts} (native policy: {native}): {reviewed['reason']}",
                    )

    def line(self, function: str, arn: str, about: str, status: str, text: str) -> None:
        name = _name(arn) if arn != "-" else "-"
        self.say(f"  {function:<15} {name:<17} {about:<19} {status:<12} {text}")

    def in_flight(self, service: str | None = None) -> str:
        """The push now rolling out on the service (prod/web by default), as `autodeploy status` names it."""
        from autodeploy import wiring

        flight = wiring.deploy_on_push().ledger.state(service or self.service).in_flight
        if flight is None:
            return "-"
        return f"{flight.push.repository}:{flight.push.tag}" if flight.push.tag else short(flight.push.digest)

    def release(self, payload: dict[str, Any]) -> Any:
        """Invoke ReleaseFunction as a one-time schedule does (schedules do not go through the bus)."""
        return self.release_handler(payload, FakeLambdaContext(function_name="ReleaseFunction"))

    # -- the story ---------------------------------------------------------------------------------

    def play(self) -> Story:
        started = time.monotonic()
        self._start_functions()
        self._set_up()

        self.step("1. docker push web:1.0.1")
        first = self.push("1.0.1")
        self.remember("push 1.0.1", first)
        self.note(f"prod/web now runs {self.running()}")

        self.step("2. web:1.0.2 and web:1.0.3 are pushed while that rollout is in flight")
        second = self.push("1.0.2") + self.push("1.0.3")
        self.remember("pushes 1.0.2 and 1.0.3", second)

        self.step("3. ECS reports the 1.0.1 deployment complete; then the 1.0.3 one")
        done = self.deployment_event("ecs-deployment-completed.json")
        done += self.deployment_event("ecs-deployment-completed.json")
        self.remember("deployments complete", done)
        self.note(f"prod/web now runs {self.running()}")
        for message in self.drain_notifications():
            self.note(f"SNS: {message['subject']}")

        self.step("4. web:1.0.4 crashes on start; the circuit breaker rolls the service back")
        previous = self.describe()["taskDefinition"]
        self.remember("push 1.0.4", self.push("1.0.4"))
        deployment = world.primary_deployment(self.ecs, self.service)
        world.crash_tasks(
            self.ecs, "prod", deployment["taskDefinition"], deployment["id"], "Essential container in task exited"
        )
        self.note(
            "moto runs no rollout: the demo starts and stops a task of the new deployment, as ECS would see it crash"
        )
        failed = self.deployment_event("ecs-deployment-failed.json", deployment_id=deployment["id"])
        self.ecs.update_service(cluster="prod", service="web", taskDefinition=previous)  # what the rollback does
        self.remember("rollback", failed)
        self.note(f"prod/web runs {self.running()} again")
        for message in self.drain_notifications():
            self.note(f"SNS: {message['subject']}")
        from autodeploy import wiring
        from autodeploy.operations import status_of

        state = status_of(wiring.deploy_on_push(), self.service).state
        self.story.quarantined = dict(state.quarantined)
        for digest in state.quarantined:
            self.note(f"quarantined {short(digest)}: reconcile and redelivered events will not deploy it again")

        self.step("5. CPU rises past the alarm, then falls")
        self.now = datetime.now(UTC).replace(second=0, microsecond=0)  # the reviews' moments count back from here
        self.remember("load rises", self.load(96.0, minutes_ago=40, alarm="ALARM"))
        self.scheduled_reviews(minutes_ago=[35, 30])
        self.remember("load falls", self.load(5.0, minutes_ago=10, alarm="OK"))
        self.scheduled_reviews(minutes_ago=[5, 0])

        ReleaseAct(self).play()
        self._epilogue()
        self.story.seconds = time.monotonic() - started
        return self.story

    # -- the moves ---------------------------------------------------------------------------------

    def tick(self, seconds: int) -> str:
        """Advance the story's clock: events carry their own times, so lead times read as they would."""
        self.clock += timedelta(seconds=seconds)
        return self.clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def push(self, tag: str) -> list[Delivery]:
        digest = world.push_image(self.ecr, "web", tag)
        event = sample("ecr-push.json", time=self.tick(20), detail={"image-tag": tag, "image-digest": digest})
        deliveries = self.router.send(event)
        self.show(deliveries)
        return deliveries

    def deployment_event(
        self, name: str, deployment_id: str | None = None, service: str | None = None
    ) -> list[Delivery]:
        service = service or self.service
        deployment_id = deployment_id or world.primary_deployment(self.ecs, service)["id"]
        event = sample(name, time=self.tick(240), resources=[service], detail={"deploymentId": deployment_id})
        event["detail"]["reason"] = event["detail"]["reason"].replace("ecs-svc/4593284752196571201", deployment_id)
        about = self.in_flight(service)
        deliveries = self.router.send(event)
        self.show(deliveries, about=about)
        return deliveries

    def load(self, cpu: float, minutes_ago: int, alarm: str) -> list[Delivery]:
        from autodeploy import wiring

        reviewer = wiring.review_scaling()
        moment = self.now - timedelta(minutes=minutes_ago)
        reviewer._clock = _fixed(moment)  # the review happens at that moment of the story
        self.cpu = cpu
        self.publish_cpu(moment)
        self.cloudwatch.set_alarm_state(AlarmName="web-cpu-high", StateValue=alarm, StateReason=f"CPU {cpu:.0f}%")
        self.note(f"CPU of prod/web at {cpu:.0f}% for 15 minutes; alarm web-cpu-high is {alarm}")
        event = sample(
            "cloudwatch-alarm-state-change.json" if alarm == "ALARM" else "cloudwatch-alarm-ok.json",
            time=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        deliveries = self.router.send(event)
        self.show(deliveries, at=moment)
        return deliveries

    def publish_cpu(self, moment: datetime) -> None:
        """ECS publishes the service's CPU every minute: the 15 minutes before ``moment`` at the current load."""
        points = [
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "web"}],
                "Timestamp": moment - timedelta(minutes=15 - i),
                "Value": self.cpu,
                "Unit": "Percent",
            }
            for i in range(15)
        ]
        self.cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=points)

    def scheduled_reviews(self, minutes_ago: list[int]) -> None:
        """The every-minute schedule, at a few moments of the story (schedules do not go through the bus)."""
        from autodeploy import wiring

        reviewer = wiring.review_scaling()
        for minutes in minutes_ago:
            moment = self.now - timedelta(minutes=minutes)
            self.publish_cpu(moment)  # the load goes on between the story's moves
            reviewer._clock = _fixed(moment)
            result = self.review(sample("review-schedule.json"), FakeLambdaContext(function_name="ReviewFunction"))
            self.show([Delivery("ReviewFunction", {}, result)], at=moment)

    def remember(self, step: str, deliveries: list[Delivery]) -> None:
        self.story.steps[step] = deliveries

    def describe(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster="prod", services=["web"])["services"][0])

    def running(self) -> str:
        arn = self.describe()["taskDefinition"]
        image = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0][
            "image"
        ]
        return f"revision {arn.rsplit('/', 1)[-1]} ({image.rsplit('/', 1)[-1][:30]}...)"

    # -- set-up and epilogue -----------------------------------------------------------------------

    def _start_functions(self) -> None:
        """Load the handlers as the template configures them, bridge moto's gaps, route the bus."""
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        quiet = {"LogLevel": "WARNING"}
        handlers = {
            name: load_handler(name, parameters=quiet)
            for name in ("DeployFunction", "TrackFunction", "ReviewFunction", "ReleaseFunction")
        }
        self.release_handler = handlers["ReleaseFunction"]
        self.review = handlers["ReviewFunction"]
        from autodeploy import wiring

        for client in (self.ecs, wiring.aws_clients().ecs):
            moto_gaps.aws_like_deployments(client)
            moto_gaps.remember_deployment_configuration(client)
        moto_gaps.scaling_activities_unavailable(wiring.aws_clients().application_autoscaling)
        moto_gaps.tasks_run_as_desired(wiring.aws_clients().ecs)
        self.router = Router(self.session, handlers)
        self.router.install()
        self.notifications = self._subscribe_to_notifications()

    def _set_up(self) -> None:
        self.step("Setting up the emulated account")
        world.ensure_repository(self.ecr, "web")
        world.push_image(self.ecr, "web", "1.0.0")
        self._reference_load_balancer()
        self.service = world.scalable_service(
            self.ecs,
            self.autoscaling,
            self.cloudwatch,
            "prod",
            "web",
            desired=2,
            minimum=1,
            maximum=8,
            review="observe",
            extra_tags={"autodeploy:repository": "web", "autodeploy:tags": "semver"},
        )
        world.add_container_instance(self.ecs, self.session.client("ec2"), "prod")
        said = (
            "directly (moto cannot run stacks/cluster.yaml and stacks/service.yaml: its CloudFormation skips "
            "ScalableTarget, ScalingPolicy and Alarm resources and empties task definitions): ECR repository web "
            "with web:1.0.0, cluster prod with one container instance, service prod/web registered by its tags "
            "(autodeploy:repository=web, autodeploy:tags=semver, autodeploy:scaling-review=observe), circuit "
            "breaker with rollback, scalable target 1-8, the seed's +1 step policy (300 s cooldown), alarm "
            "web-cpu-high (CPU > 60% for 5 minutes)"
        )
        self.story.setup.append(said)
        self.note(said)

    def _reference_load_balancer(self) -> None:
        cfn, ec2 = self.session.client("cloudformation"), self.session.client("ec2")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        ][:2]
        status: str
        try:
            # moto prints the attributes it does not support.
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                self._create_alb_stack(cfn, vpc, subnets)
            status = str(cfn.describe_stacks(StackName="web-alb")["Stacks"][0]["StackStatus"])
        except Exception as exc:  # the emulator's limits, reported rather than fatal
            status = f"not created ({exc})"
        said = f"from stacks/alb.yaml: load balancer, listener, target group (stack web-alb: {status})"
        self.story.setup.append(said)
        self.note(said)

    @staticmethod
    def _create_alb_stack(cfn: Any, vpc: str, subnets: list[str]) -> None:
        cfn.create_stack(
            StackName="web-alb",
            TemplateBody=(ROOT / "stacks" / "alb.yaml").read_text(),
            Parameters=[
                {"ParameterKey": "VpcId", "ParameterValue": vpc},
                {"ParameterKey": "PublicSubnetIds", "ParameterValue": ",".join(subnets)},
                {"ParameterKey": "HealthCheckPath", "ParameterValue": "/health"},
                {"ParameterKey": "DeregistrationDelaySeconds", "ParameterValue": "300"},
            ],
        )

    def _subscribe_to_notifications(self) -> str:
        sns, sqs = self.session.client("sns"), self.session.client("sqs")
        topic = os.environ["NOTIFICATION_TOPIC_ARN"]
        queue = sqs.create_queue(QueueName="demo-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return str(queue)

    def drain_notifications(self) -> list[dict[str, Any]]:
        sqs = self.session.client("sqs")
        found = []
        while messages := sqs.receive_message(QueueUrl=self.notifications, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                envelope = json.loads(message["Body"])
                found.append({"subject": envelope.get("Subject"), **json.loads(envelope["Message"])})
                sqs.delete_message(QueueUrl=self.notifications, ReceiptHandle=message["ReceiptHandle"])
        self.story.notifications.extend(found)
        return found

    def _epilogue(self) -> None:
        from autodeploy import cli, wiring

        self.step("autodeploy history prod/web")
        cli.main(["history", "prod/web"])
        self.story.history = [r.to_item() for r in wiring.deploy_on_push().ledger.history(self.service)]
        self.step("autodeploy status")
        cli.main(["status"])
        self.step("autodeploy decisions prod/web")
        cli.main(["decisions", "prod/web"])
        self.story.decisions = wiring.review_scaling()._log.recent(self.service)
        self.out.mkdir(parents=True, exist_ok=True)
        picture = self.out / "timeline.png"
        self.step(f"autodeploy timeline prod/web --out {picture}")
        cli.main(["timeline", "prod/web", "--out", str(picture)])
        self.story.timeline = picture


def short(digest: str) -> str:
    """A digest as `autodeploy status` prints it."""
    return digest[: len("sha256:") + 12]


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _repository_of(event: dict[str, Any]) -> str:
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    return str(detail.get("repository-name", "web")) if detail else "web"


def _name(arn: str) -> str:
    kind, *path = arn.split(":", 5)[5].split("/")
    return f"{kind} {'/'.join(path) if kind == 'service' else path[0]}"


def play(out: Path, say: Any = print) -> Story:
    """Run the story on a fresh embedded emulator; the e2e tests call this too.

    The story points the process at the emulator and turns metrics off; both are undone at the
    end, so a test process that plays it goes on with the environment it had.
    """
    saved = dict(os.environ)
    try:
        with emulator(None) as url:
            point_at(url)
            say(f"{DIM}moto server on {url}; function logs at WARNING (make invoke shows them all){RESET}")
            story = Demo(url, out, say).play()
            say(f"\n{DIM}done in {story.seconds:.1f}s; the emulator is stopped{RESET}")
    finally:
        # Imported only now: the functions' logger takes its level from the environment their
        # template gives them (LogLevel WARNING here) when it is first imported.
        from autodeploy.observability import metrics

        os.environ.clear()
        os.environ.update(saved)
        metrics.clear_metrics()  # with metrics off, Powertools keeps every value it was given
    return story


def main() -> int:
    play(ROOT / "out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
