from __future__ import annotations

import os

import pytest

# Lambda sets the template's Globals environment before any import; Powertools' Metrics reads its
# namespace when autodeploy.observability is first imported, whichever test does that first.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EcsAutodeploy")


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real account is ever reached: fake credentials, a fixed region, no endpoint override."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def _runs_the_integration_suite(config: pytest.Config) -> bool:
    """The whole integration suite runs (not a selection): only then is the call record complete."""
    args = [str(a).rstrip("/") for a in config.args]
    whole = not args or any(a in {"tests", ".", "tests/integration"} for a in args)
    selected = config.option.keyword or config.option.markexpr or config.getoption("lf", False)
    return whole and not selected


def pytest_sessionstart(session: pytest.Session) -> None:
    """A fresh record of the functions' AWS calls (tests/support/call_recorder.py) for each whole run."""
    import shutil

    from tests.support.call_recorder import RECORDS

    if not hasattr(session.config, "workerinput") and _runs_the_integration_suite(session.config):
        shutil.rmtree(RECORDS, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import json

    from tests.support.call_recorder import RECORDS

    if not hasattr(session.config, "workerinput") and _runs_the_integration_suite(session.config):
        RECORDS.mkdir(parents=True, exist_ok=True)
        outcome = {"exitstatus": int(exitstatus), "integration_suite": True}
        (RECORDS / "finished.json").write_text(json.dumps(outcome))
