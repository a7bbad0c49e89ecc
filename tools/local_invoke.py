"""Invoke a function locally the way `sam local invoke` would, without Docker.

The template's handler, the layer on the path, the environment from the template, and
AWS_ENDPOINT_URL pointing at a moto server: an embedded one unless --endpoint names another.

    python -m tools.local_invoke DeployFunction events/ecr-push.json [--endpoint URL] [--seed]
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.lambda_context import FakeLambdaContext
from tools.template import create_resources, function_spec


@contextmanager
def emulator(endpoint: str | None) -> Iterator[str]:
    """The given endpoint, or a moto server on a free loopback port for the duration."""
    if endpoint:
        yield endpoint
        return
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # a line per request, a traceback per moto gap
    logging.getLogger("moto").setLevel(logging.ERROR)  # its notes on the attributes it does not support
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def seed_world(event: dict[str, Any]) -> None:
    """A repository with the pushed image and an older one, and a service registered for it."""
    import boto3

    from tools import world

    detail = event.get("detail", {})
    repository = detail.get("repository-name") or "web"
    ecr, ecs = boto3.client("ecr"), boto3.client("ecs")
    world.ensure_repository(ecr, repository)
    world.push_image(ecr, repository, "1.4.0")
    if detail.get("image-digest", "").startswith("sha256:") and len(detail["image-digest"]) == 71:
        world.push_image(ecr, repository, detail.get("image-tag") or "untagged", detail["image-digest"])
    arn = world.create_service(
        ecs, "demo", repository, f"{world.REGISTRY}/{repository}:1.4.0", {"autodeploy:repository": repository}
    )
    print(f"seeded: repository {repository} (1.4.0 and the pushed image), service {arn}", file=sys.stderr)


def point_at(url: str, region: str = "us-east-1") -> None:
    """Every boto3 client created from now on talks to the emulator at ``url``."""
    os.environ["AWS_ENDPOINT_URL"] = url
    for key, default in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }.items():
        os.environ.setdefault(key, default)


def load_handler(function: str, parameters: dict[str, str] | None = None) -> Callable[[Any, Any], Any]:
    """Create the template's tables, set the function's environment, import its handler.

    ``parameters`` override the template's parameter defaults, like --parameter-overrides.
    """
    import boto3

    physical = create_resources(boto3.session.Session())
    spec = function_spec(function, parameters=parameters, physical=physical)
    os.environ.update(spec.environment)
    for path in (spec.code_uri, *spec.layer_paths):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(spec.module), spec.function)
    return handler


def invoke(function: str, event_path: Path, endpoint: str | None, seed: bool) -> int:
    event = json.loads(event_path.read_text())
    region = event.get("region", "us-east-1") if isinstance(event, dict) else "us-east-1"
    with emulator(endpoint) as url:
        point_at(url, region)
        handler = load_handler(function)
        if seed and not endpoint:
            seed_world(event)
        print(f"invoking {function} against {url}", file=sys.stderr)
        result = handler(event, FakeLambdaContext(function_name=function))
        print(json.dumps(result, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", help="logical id of the function in template.yaml, e.g. DeployFunction")
    parser.add_argument("event", type=Path, help="event file, e.g. events/ecr-push.json")
    parser.add_argument("--endpoint", help="an emulator already running (default: an embedded moto server)")
    parser.add_argument(
        "--seed", action="store_true", help="embedded emulator: create a repository and a registered service first"
    )
    args = parser.parse_args(argv)
    if not args.event.is_file():
        parser.error(f"no event file {args.event}")
    return invoke(args.function, args.event, args.endpoint, args.seed)


if __name__ == "__main__":
    sys.exit(main())
