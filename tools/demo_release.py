"""`make demo`, act 2: release gates, through the real handlers and the template's own rules.

`stage/shop` takes every push of `shop`; `prod/shop` declares `autodeploy:after=stage/shop`,
`autodeploy:bake=30m` and `autodeploy:scan=critical`; `prod/admin` (repository `admin`) declares
`autodeploy:approval=required`. A push rolls out on staging, waits its scan and its bake, and is
promoted to prod; a push whose scan finds a critical vulnerability is refused by prod; a push to
admin waits for the approval the demo gives with the CLI.

What moto cannot do is said as it happens: ECR neither scans on push nor emits the scan event
(the demo sets the findings through moto's own API and puts ECR's event on the bus), and
EventBridge Scheduler keeps the product's one-time schedule but never fires it (the demo delivers
the schedule's own input to the function the schedule names, at the time it names).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from tools import world
from tools.eventbridge import Delivery

if TYPE_CHECKING:
    from tools.demo import Demo

STAGING, PROD, ADMIN = "stage/shop", "prod/shop", "prod/admin"


class ReleaseAct:
    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.scheduler: Any = demo.session.client("scheduler")
        self.arns: dict[str, str] = {}

    def play(self) -> None:
        """The act, with the gates judging at the story's time (its events carry that time too)."""
        from autodeploy import wiring

        gates = wiring.deploy_on_push().gates
        clock = gates._clock
        gates._clock = lambda: self.demo.clock
        try:
            self._play()
        finally:
            gates._clock = clock

    def _play(self) -> None:
        demo = self.demo
        demo.step("6. Act 2, release gates: stage/shop -> prod/shop (bake 30m, scan critical); prod/admin by approval")
        self._set_up()

        demo.step("7. docker push shop:1.1.0: staging rolls it out; prod waits for its scan, then for the bake")
        digest = world.push_image(demo.ecr, "shop", "1.1.0")
        demo.remember("act 2: push shop:1.1.0", self.push("shop", "1.1.0", digest))
        demo.remember("act 2: scan of shop:1.1.0", self.scan_completes("shop", "1.1.0", digest, {"LOW": 2}))
        tracked = demo.deployment_event("ecs-deployment-completed.json", service=self.arns[STAGING])
        demo.remember("act 2: staging succeeded", tracked)

        demo.step("8. 30 minutes on staging with its alarms quiet: the bake's schedule fires, prod gets shop:1.1.0")
        demo.remember("act 2: bake ends", self.fire_schedules(until=demo.clock + timedelta(minutes=30, seconds=5)))
        demo.note(f"prod/shop now runs {self.running(PROD)}")
        demo.remember(
            "act 2: prod succeeded", demo.deployment_event("ecs-deployment-completed.json", service=self.arns[PROD])
        )

        demo.step("9. docker push shop:1.2.0, whose scan finds a critical vulnerability: prod refuses it")
        vulnerable = world.push_image(demo.ecr, "shop", "1.2.0")
        demo.remember("act 2: push shop:1.2.0", self.push("shop", "1.2.0", vulnerable))
        demo.remember(
            "act 2: critical scan",
            self.scan_completes("shop", "1.2.0", vulnerable, {"CRITICAL": 1, "HIGH": 3, "LOW": 7}),
        )
        demo.note(f"prod/shop still runs {self.running(PROD)}")

        demo.step("10. docker push admin:2.0.0: prod/admin waits for a person; the demo approves with the CLI")
        admin = world.push_image(demo.ecr, "admin", "2.0.0")
        demo.remember("act 2: push admin:2.0.0", self.push("admin", "2.0.0", admin))
        from autodeploy import cli

        demo.step(f"autodeploy approve {ADMIN} {admin[:19]}")
        demo.story.approval_exit = cli.main(["approve", ADMIN, admin[:19]])
        from autodeploy import wiring

        [latest] = wiring.deploy_on_push().ledger.history(self.arns[ADMIN], limit=1)
        demo.story.after_approval = (latest.tag, latest.status.value)
        demo.note(f"prod/admin now runs {self.running(ADMIN)}")
        for message in demo.drain_notifications():
            demo.note(f"SNS: {message['subject']}")
        demo.step(f"autodeploy status {PROD}")
        cli.main(["status", PROD])

    # -- the moves ---------------------------------------------------------------------------------

    def push(self, repository: str, tag: str, digest: str) -> list[Delivery]:
        from tools.demo import sample

        event = sample(
            "ecr-push.json",
            time=self.demo.tick(20),
            detail={"repository-name": repository, "image-tag": tag, "image-digest": digest},
        )
        deliveries = self.demo.router.send(event)
        self.demo.show(deliveries)
        return deliveries

    def scan_completes(self, repository: str, tag: str, digest: str, counts: dict[str, int]) -> list[Delivery]:
        """ECR's basic scan of the image completes with ``counts``; ECR's event goes on the bus."""
        from tools.demo import sample

        result: dict[str, Any] = {
            "registryId": world.ACCOUNT,
            "repositoryName": repository,
            "imageId": {"imageDigest": digest},
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {"findingSeverityCounts": counts},
        }
        # moto's own API sets what DescribeImageScanFindings answers after StartImageScan.
        url = f"{self.demo.url}/moto-api/static/ecr/scan-finding-results"
        requests.post(url, json={"results": [result], "region": "us-east-1"}, timeout=10).raise_for_status()
        self.demo.ecr.start_image_scan(repositoryName=repository, imageId={"imageDigest": digest})
        found = ", ".join(f"{k} {v}" for k, v in counts.items())
        self.demo.note(f"moto scans nothing on push: the demo completes the scan ({found}) and sends ECR's event")
        event = sample(
            "ecr-image-scan.json",
            time=self.demo.tick(60),
            resources=[f"arn:aws:ecr:us-east-1:{world.ACCOUNT}:repository/{repository}"],
            detail={
                "repository-name": repository,
                "image-digest": digest,
                "image-tags": [tag],
                "finding-severity-counts": counts,
            },
        )
        deliveries = self.demo.router.send(event)
        self.demo.show(deliveries)
        return deliveries

    def fire_schedules(self, until: datetime) -> list[Delivery]:
        """The story's clock moves to ``until``: deliver each schedule due by then to ReleaseFunction."""
        self.demo.clock = until
        deliveries = []
        for schedule in sorted(self._schedules(), key=lambda s: str(s["ScheduleExpression"])):
            at = datetime.fromisoformat(schedule["ScheduleExpression"][3:-1]).replace(tzinfo=until.tzinfo)
            if at > until:
                continue
            payload = json.loads(schedule["Target"]["Input"])
            self.demo.note(
                f"moto's Scheduler never fires: the demo delivers schedule {schedule['Name'][:24]}... "
                f"due at {at:%H:%M:%S} ({payload['gate']} gate)"
            )
            result = self.demo.release(payload)
            self.scheduler.delete_schedule(
                Name=schedule["Name"], GroupName=schedule["GroupName"]
            )  # ActionAfterCompletion
            delivered = Delivery("ReleaseFunction", payload, result)
            self.demo.show([delivered], repository=self._repository_of(payload["target"]))
            deliveries.append(delivered)
        return deliveries

    def _repository_of(self, arn: str) -> str:
        return next(name.split("/")[1] for name, known in self.arns.items() if known == arn)

    def running(self, name: str) -> str:
        cluster, service = name.split("/")
        arn = self.demo.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
        definition = self.demo.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        image = definition["containerDefinitions"][0]["image"]
        return f"revision {arn.rsplit('/', 1)[-1]} ({image.rsplit('/', 1)[-1][:30]}...)"

    # -- set-up ------------------------------------------------------------------------------------

    def _set_up(self) -> None:
        demo = self.demo
        for repository in ("shop", "admin"):
            world.ensure_repository(demo.ecr, repository)
            world.push_image(demo.ecr, repository, "1.0.0")
        image = f"{world.ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{{}}:1.0.0"
        shop = {"autodeploy:repository": "shop", "autodeploy:tags": "semver"}
        tags = {
            STAGING: shop,
            PROD: {**shop, "autodeploy:after": STAGING, "autodeploy:bake": "30m", "autodeploy:scan": "critical"},
            ADMIN: {"autodeploy:repository": "admin", "autodeploy:tags": "semver", "autodeploy:approval": "required"},
        }
        for name, declared in tags.items():
            cluster, service = name.split("/")
            repository = declared["autodeploy:repository"]
            self.arns[name] = world.create_service(demo.ecs, cluster, service, image.format(repository), declared)
            gates = " ".join(f"{k.split(':')[1]}={v}" for k, v in declared.items() if k.split(":")[1] not in ("tags",))
            demo.note(f"service {name}: {gates}")

    def _schedules(self) -> list[dict[str, Any]]:
        groups = [g["Name"] for g in self.scheduler.list_schedule_groups()["ScheduleGroups"] if g["Name"] != "default"]
        found = []
        for group in groups:
            for listed in self.scheduler.list_schedules(GroupName=group)["Schedules"]:
                found.append(self.scheduler.get_schedule(Name=listed["Name"], GroupName=group))
        return found
