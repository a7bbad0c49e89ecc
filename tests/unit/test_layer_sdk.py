"""The SDK the layer ships is the one the tests run with, and clients are created only when used."""

from __future__ import annotations

import re
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from unittest.mock import Mock

import pytest

from autodeploy import wiring
from autodeploy.adapters.aws import AwsClients
from tools.template import ROOT, function_spec

LAYER = ROOT / "layers" / "shared"


def pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", path.read_text(), re.MULTILINE)
    return {name.lower().replace("_", "-"): pinned for name, pinned in found}


class CountingSession:
    """Stands in for boto3's session: records each client asked for."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def client(self, name: str, **_: object) -> object:
        self.created.append(name)
        return Mock(name=name)


def test_the_layer_and_the_dev_virtualenv_pin_the_same_sdk():
    layer, constraints = pins(LAYER / "requirements.txt"), pins(ROOT / "requirements" / "constraints.txt")
    for package in ("boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "jmespath", "six"):
        assert package in layer, f"{package} is not in the layer's list: the layer would borrow the runtime's"
    for package, pinned in layer.items():
        assert constraints.get(package) == pinned, (
            f"{package}: layer {pinned}, dev constraints {constraints.get(package)}"
        )
        assert version(package) == pinned, f"{package}: layer {pinned}, the tests run with {version(package)}"


def test_the_layer_keeps_the_model_of_every_client_the_code_creates():
    session = CountingSession()
    clients = AwsClients(session)  # type: ignore[arg-type]
    for name, attribute in vars(AwsClients).items():
        if isinstance(attribute, cached_property) and name != "session":
            getattr(clients, name)
    kept = [line for line in (LAYER / "botocore-models.txt").read_text().splitlines() if line and line[0] != "#"]
    assert sorted([*session.created, "xray"]) == kept  # xray: the X-Ray SDK's own client, when tracing is on


def test_building_the_deploy_use_case_creates_no_client(monkeypatch: pytest.MonkeyPatch):
    for key, value in function_spec("DeployFunction").environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LEDGER_TABLE", "ledger")
    session = CountingSession()
    wiring.reset()
    monkeypatch.setattr(wiring, "AwsClients", lambda: AwsClients(session))  # type: ignore[arg-type]
    try:
        deployer = wiring.deploy_on_push()
        assert session.created == []
        deployer.discovery._tagging.get_paginator  # noqa: B018  # the first use of one adapter's client
        assert session.created == ["resourcegroupstaggingapi"]
    finally:
        wiring.reset()
