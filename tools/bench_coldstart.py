"""Cold start as Lambda starts a function: a fresh python3.13 process, the layer built by its own
Makefile, read-only, with its bytecode as shipped, on the path where Lambda puts it.

The scenario is a push nobody registered: DeployFunction parses the event, makes one tagging query
(Resource Groups Tagging GetResources) against the emulator and returns. The reference is a fresh
process that imports boto3 (the same SDK, from the same read-only layer) and makes that one call.
Handler and reference runs alternate; medians, and the peak RSS of any handler run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.layer import build_layer
from tools.template import ROOT, function_spec

LAMBDA_PYTHON = ["env", "PYENV_VERSION=3.13.0", "python3.13"]
FUNCTION = "DeployFunction"
NOBODY = "nobody-registered"  # a repository no target registered for
# The layer as shipped, and two it could have been, to show what its bytecode and its trimmed
# botocore are worth.
VARIANTS = ("as shipped", "without bytecode", "with every botocore model")

# Timed from the first statement of a fresh process (interpreter start-up is the same for both).
# sys.path as Lambda sets it: the function's code (/var/task), then the layer (/opt/python).
_PROLOGUE = """
import time
started = time.perf_counter()
import json, sys
sys.path[:0] = {paths!r}
"""
_EPILOGUE = """
elapsed = time.perf_counter() - started
# VmHWM: this process image's peak RSS (ru_maxrss would carry the parent's across fork and exec)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"ms": elapsed * 1000, "end": time.time(), "rss_mb": peak_kb / 1024, "clients": clients,
                  "botocore": sys.modules["botocore"].__file__, "call_ms": globals().get("call_ms")}))
"""
_HANDLER = """
import {module}

class Context:
    function_name = "{function}"
    memory_limit_in_mb = 128
    aws_request_id = "cold-start"
    invoked_function_arn = "arn:aws:lambda:{region}:{account}:function:{function}"
    def get_remaining_time_in_millis(self):
        return 60_000

result = {module}.{handler}(json.loads({event!r}), Context())
assert result["targets"] == [], result
from autodeploy import wiring
clients = sorted(k for k in vars(wiring.aws_clients()) if not k.startswith("_") and k != "session")
"""
_REFERENCE = """
import boto3
tagging = boto3.client("resourcegroupstaggingapi")
calling = time.perf_counter()
tagging.get_resources(TagFilters=[{{"Key": "autodeploy:repository", "Values": ["{repository}"]}}])
call_ms = (time.perf_counter() - calling) * 1000
clients = ["tagging"]
"""


@dataclass
class ColdStart:
    variant: str
    handler_ms: float  # medians, from the process's spawn to the handler's return
    reference_ms: float
    handler_inside_ms: float  # medians, from the process's first statement (no interpreter start)
    reference_inside_ms: float
    call_ms: float  # the reference's one tagging call on the emulator, median
    rss_mb: float  # the handler's peak RSS over all runs
    clients: list[str]
    layer_mb: float

    @property
    def ratio(self) -> float:
        return self.handler_ms / self.reference_ms

    @property
    def inside_ratio(self) -> float:
        return self.handler_inside_ms / self.reference_inside_ms


def _tree_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _files(path: Path) -> int:
    return sum(1 for _ in path.rglob("*"))


@contextmanager
def lambda_filesystem(layer: Path, variant: str) -> Iterator[tuple[Path, Path]]:
    """/var/task and /opt/python, copied and made read-only; ``variant`` changes the layer first."""
    with tempfile.TemporaryDirectory(prefix="coldstart-") as root:
        task, opt = Path(root) / "var" / "task", Path(root) / "opt" / "python"
        code = function_spec(FUNCTION).code_uri
        shutil.copytree(code, task, ignore=shutil.ignore_patterns("Makefile", "__pycache__"))
        shutil.copytree(layer, opt)
        if variant == "without bytecode":
            for cache in list(opt.rglob("__pycache__")):
                shutil.rmtree(cache)
        elif variant == "with every botocore model":
            import botocore  # the dev virtualenv's: the same pinned version, with all its models

            shutil.rmtree(opt / "botocore" / "data")
            shutil.copytree(Path(botocore.__file__).parent / "data", opt / "botocore" / "data")
        subprocess.run(["chmod", "-R", "a-w", root], check=True)
        try:
            yield task, opt
        finally:
            subprocess.run(["chmod", "-R", "u+w", root], check=True)


def _run(code: str, env: dict[str, str]) -> dict[str, Any]:
    spawned = time.time()
    done = subprocess.run(
        [*LAMBDA_PYTHON, "-I", "-S", "-B", "-c", code], capture_output=True, text=True, env=env, cwd="/", check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold-start run failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_ms"] = (result["end"] - spawned) * 1000  # from the spawn: the interpreter's start too
    return result


def build(out: Path) -> Path:
    """The layer as `sam build` makes it, in ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    return build_layer(out)


def measure(layer: Path, endpoint: str, variant: str = "as shipped", runs: int = 15) -> ColdStart:
    spec = function_spec(FUNCTION)
    event = json.loads((ROOT / "events" / "ecr-push.json").read_text())
    event["detail"]["repository-name"] = NOBODY
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        # Lambda's file system is read-only: Python compiles in memory what has no usable bytecode,
        # and writes nothing. Root ignores permission bits, so this says it to Python directly.
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": event["region"],
        "AWS_DEFAULT_REGION": event["region"],
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
        **spec.environment,
    }
    with lambda_filesystem(layer, variant) as (task, opt):
        before = _files(opt)
        handler = (
            _PROLOGUE.format(paths=[str(task), str(opt)])
            + _HANDLER.format(
                module=spec.module,
                handler=spec.function,
                function=FUNCTION,
                region=event["region"],
                account=event["account"],
                event=json.dumps(event),
            )
            + _EPILOGUE
        )
        reference = _PROLOGUE.format(paths=[str(opt)]) + _REFERENCE.format(repository=NOBODY) + _EPILOGUE
        _run(reference, env)  # the emulator's first answer of a kind is slow: not the function's to pay
        handler_runs, reference_runs = [], []
        for _ in range(runs):
            handler_runs.append(_run(handler, env))
            reference_runs.append(_run(reference, env))
        if _files(opt) != before:
            raise RuntimeError("a cold-start run wrote into the read-only layer")
        for run in handler_runs + reference_runs:
            if not str(run["botocore"]).startswith(str(opt)):
                raise RuntimeError(f"botocore came from {run['botocore']}, not the layer")
        layer_mb = _tree_mb(opt)
    return ColdStart(
        variant=variant,
        handler_ms=statistics.median(r["process_ms"] for r in handler_runs),
        reference_ms=statistics.median(r["process_ms"] for r in reference_runs),
        handler_inside_ms=statistics.median(r["ms"] for r in handler_runs),
        reference_inside_ms=statistics.median(r["ms"] for r in reference_runs),
        call_ms=statistics.median(r["call_ms"] for r in reference_runs),
        rss_mb=max(r["rss_mb"] for r in handler_runs),
        clients=list(handler_runs[0]["clients"]),
        layer_mb=layer_mb,
    )
