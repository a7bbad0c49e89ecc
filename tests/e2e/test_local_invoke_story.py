"""`make invoke` on one emulator, invocation after invocation: Deploy, then Track, then a push, then Review.

Each invocation is its own process (as `make invoke` runs it), against one moto server that
outlives them (as `make emulator` leaves it): what the first seeded, the next ones reuse. The
result is the only thing on stdout, so it parses as JSON (`| jq` works); the rest is on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's servers in one process share one in-memory account: forget what other tests left there.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    yield url
    server.stop()


def invoke(endpoint: str, *args: str) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LEDGER_", "DECISIONS_", "POWERTOOLS_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run(
        [sys.executable, "-m", "tools.local_invoke", *args, "--endpoint", endpoint],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout), done.stderr


def test_deploy_then_track_then_push_then_review_follow_one_story(endpoint):
    deployed, said = invoke(endpoint, "DeployFunction", "events/ecr-push.json")
    assert [(t["status"], t["tag"]) for t in deployed["targets"]] == [("IN_PROGRESS", "1.5.0")]
    assert "seeded: service prod/web running web:1.0.0, registered for repository web (semver)" in said
    assert '"message":"deployment decision"' in said  # the function's JSON logs: on stderr, not stdout

    tracked, said = invoke(endpoint, "TrackFunction", "events/ecs-deployment-completed.json")
    assert (tracked["status"], tracked["outcome"]) == ("SUCCEEDED", "closed")
    assert "the PRIMARY deployment of prod/web (moto runs no rollout)" in said
    assert "seeded: service prod/web running" not in said  # the second invocation reuses the first's world

    pushed, _ = invoke(endpoint, "push", "1.5.1")
    assert [t["status"] for t in pushed["targets"]] == ["IN_PROGRESS"]
    assert pushed["targets"][0]["reason"] == "rollout started (version 1.5.1 is newer than the deployed 1.5.0)"

    reviewed, said = invoke(endpoint, "ReviewFunction", "events/cloudwatch-alarm-state-change.json")
    assert [(r["decision"], r["current"], r["recommended"]) for r in reviewed["reviewed"]] == [("SCALE_OUT", 2, 4)]
    assert "CPU of prod/web at 96% for 15 minutes; alarm web-cpu-high is ALARM" in said

    again, _ = invoke(endpoint, "DeployFunction", "events/ecr-push.json")  # the first push, delivered again
    [target] = again["targets"]
    assert (target["status"], target["duplicate"]) == ("SKIPPED", True)
