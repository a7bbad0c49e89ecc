"""`make demo`: the deploy-on-push story, played through the real handler on an embedded moto server.

Each step sends the event EventBridge would deliver and prints what the function decided, as
recorded in the ledger, and why.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import boto3

from tools import world
from tools.lambda_context import FakeLambdaContext
from tools.local_invoke import emulator, load_handler, point_at

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def event(tag: str, digest: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or f"demo-{tag}-{int(time.time() * 1000)}",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": world.ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": world.REGION,
        "resources": [],
        "detail": {
            "result": "SUCCESS",
            "repository-name": "web",
            "image-digest": digest,
            "action-type": "PUSH",
            "image-tag": tag,
        },
    }


def step(title: str) -> None:
    print(f"\n{BOLD}{title}{RESET}")


def show(result: dict[str, Any]) -> None:
    for target in result["targets"]:
        kind, *path = target["target"].split(":", 5)[5].split("/")
        name = f"{kind} {'/'.join(path) if kind == 'service' else path[0]}"
        duplicate = " (already recorded: duplicate delivery)" if target.get("duplicate") else ""
        print(f"  {name:<26} {target['status']:<12} {target['reason']}{duplicate}")


def main() -> int:
    started = time.monotonic()
    with emulator(None) as url:
        point_at(url)
        print(f"{DIM}moto server on {url}; function logs at WARNING (make invoke shows them all){RESET}")
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        deploy = load_handler("DeployFunction", parameters={"LogLevel": "WARNING"})
        ecr, ecs, cfn = boto3.client("ecr"), boto3.client("ecs"), boto3.client("cloudformation")

        step("Setting up: repository web; service prod/web and stack web-service (semver), staging/web (dry-run)")
        world.ensure_repository(ecr, "web")
        world.push_image(ecr, "web", "1.0.0")
        image = f"{world.REGISTRY}/web:1.0.0"
        service = world.create_service(
            ecs, "prod", "web", image, {"autodeploy:repository": "web", "autodeploy:tags": "semver"}
        )
        world.create_service(
            ecs, "staging", "web", image, {"autodeploy:repository": "web", "autodeploy:mode": "dry-run"}
        )
        stack_tags = {
            "autodeploy:repository": "web",
            "autodeploy:parameter": "BuildNumber",
            "autodeploy:tags": "semver",
        }
        world.create_stack(cfn, "web-service", "1.0.0", stack_tags)

        def push(tag: str) -> dict[str, Any]:
            return event(tag, world.push_image(ecr, "web", tag))

        step("1. docker push web:1.0.1")
        first = push("1.0.1")
        show(deploy(first, FakeLambdaContext()))
        running = ecs.describe_services(cluster="prod", services=["web"])["services"][0]["taskDefinition"]
        definition = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
        revision, image = running.rsplit("/", 1)[-1], definition["containerDefinitions"][0]["image"]
        print(f"  {DIM}prod/web now runs {revision}: {image}{RESET}")
        print(f"  {DIM}its sidecar is untouched: {definition['containerDefinitions'][1]['image']}{RESET}")

        step("2. EventBridge delivers the same event again")
        show(deploy(first, FakeLambdaContext()))

        step("3. web:1.0.2 and web:1.0.3 are pushed; the event for 1.0.2 arrives after 1.0.3's")
        earlier = push("1.0.2")
        time.sleep(1)  # ECR keeps push times to the second
        later = push("1.0.3")
        show(deploy(later, FakeLambdaContext()))
        show(deploy(earlier, FakeLambdaContext()))

        step("4. a push without a tag (docker push by digest)")
        untagged = event("x", world.push_image(ecr, "web", "scratch", world.digest_for("web", "untagged")))
        del untagged["detail"]["image-tag"]
        show(deploy(untagged, FakeLambdaContext()))

        from autodeploy import cli

        step("autodeploy history prod/web")
        cli.main(["history", "prod/web"])
        step("autodeploy history web-service")
        cli.main(["history", "web-service"])
        print(f"\n{DIM}service {service}; done in {time.monotonic() - started:.1f}s, emulator stopped{RESET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
