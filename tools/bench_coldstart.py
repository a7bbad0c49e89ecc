"""Cold start: a fresh process imports a function's handler and creates its clients, against a
reference process that only imports boto3 and creates the same clients. Medians of alternating runs."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass

from tools.template import ROOT, function_spec

# The clients each function's use case creates (AwsClients attribute -> boto3 service name).
CLIENTS = {
    "DeployFunction": ["tagging", "ecs", "cloudformation", "ecr", "dynamodb", "sns"],
    "TrackFunction": ["tagging", "ecs", "cloudformation", "ecr", "dynamodb", "sns"],
    "ReconcileFunction": ["tagging", "ecs", "cloudformation", "ecr", "dynamodb", "sns"],
    "ReviewFunction": ["tagging", "ecs", "application_autoscaling", "cloudwatch", "dynamodb"],
}
BUILDERS = {
    "DeployFunction": "deploy_on_push",
    "TrackFunction": "track_rollouts",
    "ReconcileFunction": "reconcile",
    "ReviewFunction": "review_scaling",
}
SERVICE_NAMES = {"tagging": "resourcegroupstaggingapi", "application_autoscaling": "application-autoscaling"}

_MEASURED = """
import json, os, resource, sys, time
started = time.perf_counter()
{body}
elapsed = time.perf_counter() - started
print(json.dumps({{"ms": elapsed * 1000, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "xray": "aws_xray_sdk" in sys.modules, "pydantic": "pydantic" in sys.modules}}))
"""


@dataclass
class ColdStart:
    function: str
    handler_ms: float
    reference_ms: float
    rss_mb: float
    xray_imported: bool
    pydantic_imported: bool

    @property
    def ratio(self) -> float:
        return self.handler_ms / self.reference_ms


def _run(code: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(function: str, runs: int = 15) -> ColdStart:
    spec = function_spec(function)
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PYTHONPATH": ":".join([str(spec.code_uri), *(str(p) for p in spec.layer_paths)]),
        **spec.environment,
        "LEDGER_TABLE": "bench",
        "DECISIONS_TABLE": "bench",
    }
    clients = CLIENTS[function]
    handler = _MEASURED.format(
        body=f"import {spec.module}\nfrom autodeploy import wiring\nwiring.{BUILDERS[function]}()\n"
        f"c = wiring.aws_clients()\nfor n in {clients!r}: getattr(c, n)"
    )
    reference = _MEASURED.format(
        body="import boto3\ns = boto3.session.Session()\n"
        f"for n in {[SERVICE_NAMES.get(c, c) for c in clients]!r}: s.client(n)"
    )
    handler_runs, reference_runs = [], []
    for _ in range(runs):
        handler_runs.append(_run(handler, env))
        reference_runs.append(_run(reference, env))
    return ColdStart(
        function=function,
        handler_ms=statistics.median(r["ms"] for r in handler_runs),
        reference_ms=statistics.median(r["ms"] for r in reference_runs),
        rss_mb=max(r["rss_mb"] for r in handler_runs),
        xray_imported=any(r["xray"] for r in handler_runs),
        pydantic_imported=any(r["pydantic"] for r in handler_runs),
    )
