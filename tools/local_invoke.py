"""Invoke a function locally the way `sam local invoke` would, without Docker.

The template's handler, the layer on the path, the environment from the template, and
AWS_ENDPOINT_URL pointing at a moto server: --endpoint if given, else the persistent emulator of
`make emulator` if it runs, else an embedded one for this invocation only. The world the event
refers to is seeded first (tools/story.py), so Deploy, then Track, then Review follow one story on
a persistent emulator. Logs go to stderr, the handler's result to stdout (`| jq` works).

    python -m tools.local_invoke DeployFunction events/ecr-push.json [--endpoint URL] [--no-seed]
    python -m tools.local_invoke push 1.5.0 [--repository web]     # docker push, then DeployFunction
"""

from __future__ import annotations

import argparse
import contextlib
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


def invoke(function: str, event: dict[str, Any], endpoint: str | None, seed: bool = True) -> int:
    from tools import emulator as persistent
    from tools import story

    region = event.get("region", "us-east-1") if isinstance(event, dict) else "us-east-1"
    endpoint = endpoint or persistent.running_url()
    with emulator(endpoint) as url, contextlib.redirect_stdout(sys.stderr):
        # Everything but the result goes to stderr: the functions' JSON logs and their EMF metrics.
        point_at(url, region)
        handler = load_handler(function)
        _logs_to_stderr()
        if seed:
            event = story.prepare(function, event, say=lambda text: print(f"seeded: {text}", file=sys.stderr))
        where = "the persistent emulator" if endpoint else "an embedded emulator (gone after this invocation)"
        print(f"invoking {function} against {url}, {where}", file=sys.stderr)
        result = handler(event, FakeLambdaContext(function_name=function))
    print(json.dumps(result, indent=2, default=str))
    return 0


def _logs_to_stderr() -> None:
    """Powertools' handler writes to the stdout it found at import; point it at stderr."""
    from autodeploy.observability import logger

    for handler in logging.getLogger(logger.name).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["push"]:
        return _push(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", help="logical id of the function in template.yaml, e.g. DeployFunction")
    parser.add_argument("event", type=Path, help="event file, e.g. events/ecr-push.json")
    parser.add_argument("--endpoint", help="an emulator already running (default: `make emulator`'s, else embedded)")
    parser.add_argument("--no-seed", action="store_true", help="do not create what the event refers to")
    args = parser.parse_args(argv)
    if not args.event.is_file():
        parser.error(f"no event file {args.event}")
    return invoke(args.function, json.loads(args.event.read_text()), args.endpoint, seed=not args.no_seed)


def _push(argv: list[str]) -> int:
    """`docker push <repository>:<tag>` on the emulator: the image in ECR, then ECR's event to DeployFunction."""
    from tools import story

    parser = argparse.ArgumentParser(prog="make push", description="simulate docker push on the emulator")
    parser.add_argument("tag")
    parser.add_argument("--repository", default="web")
    parser.add_argument("--endpoint")
    args = parser.parse_args(argv)
    return invoke("DeployFunction", story.push_event(args.repository, args.tag), args.endpoint)


if __name__ == "__main__":
    sys.exit(main())
