"""The layer as `sam build` makes it (its Makefile, run here): 3.13 bytecode, the pinned SDK, its models."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tools.layer import LAYER_SOURCE, PYC_TAG, build_layer

LAMBDA_PYTHON = ["env", "PYENV_VERSION=3.13.0", "python3.13"]


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_layer(tmp_path_factory.mktemp("SharedLayer"))


def python313_magic() -> bytes:
    done = subprocess.run(
        [*LAMBDA_PYTHON, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return bytes.fromhex(done.stdout.strip())


def test_every_module_ships_bytecode_of_python_3_13_that_is_never_checked_against_its_source(layer):
    magic = python313_magic()
    sources = [p for p in layer.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 500
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{PYC_TAG}.pyc"
        header = compiled.read_bytes()[:8]
        assert header[:4] == magic, f"{compiled}: not CPython 3.13 bytecode"
        # PEP 552 flags: bit 0 = hash-based, bit 1 = check_source; unchecked-hash is 0b01
        assert int.from_bytes(header[4:8], "little") == 0b01, f"{compiled}: not unchecked-hash"
    assert not [p for p in layer.rglob("*.pyc") if PYC_TAG not in p.name]


def test_the_shipped_botocore_is_the_pinned_one_with_the_models_the_code_calls(layer):
    pins = dict(
        line.split("==") for line in (LAYER_SOURCE / "requirements.txt").read_text().splitlines() if "==" in line
    )
    info = next(layer.glob("botocore-*.dist-info"))
    assert info.name == f"botocore-{pins['botocore']}.dist-info"
    assert next(layer.glob("boto3-*.dist-info")).name == f"boto3-{pins['boto3']}.dist-info"
    wanted = [line for line in (LAYER_SOURCE / "botocore-models.txt").read_text().splitlines() if line[:1].isalpha()]
    shipped = sorted(p.name for p in (layer / "botocore" / "data").iterdir() if p.is_dir())
    assert shipped == wanted
    # and python3.13 can create each of those clients from the layer alone, read-only
    code = (
        "import sys, json; sys.path[:0] = [sys.argv[1]]; import boto3, botocore;"
        "s = boto3.session.Session(region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x');"
        "[s.client(n) for n in sys.argv[2:]];"
        "import aws_xray_sdk.core;"  # tracing on: the X-Ray SDK creates its xray client from the layer's models
        "print(json.dumps([botocore.__file__, botocore.__version__]))"
    )
    done = subprocess.run(
        [*LAMBDA_PYTHON, "-I", "-S", "-B", "-c", code, str(layer), *wanted], capture_output=True, text=True, check=True
    )
    where, shipped_version = json.loads(done.stdout)
    assert where.startswith(str(layer)) and shipped_version == pins["botocore"]


def test_the_layer_resolves_the_deploy_windows_time_zones_without_a_system_tz_database(layer):
    """zoneinfo reads the system's tz database first and falls back to the tzdata package; a Lambda
    image without /usr/share/zoneinfo (aws-lambda-dotnet#1620 measured one on provided.al2023) must
    still resolve `autodeploy:window` zones, so the layer ships tzdata and python3.13 finds it there."""
    code = (
        "import sys, zoneinfo, datetime; sys.path[:0] = [sys.argv[1]]; zoneinfo.reset_tzpath([]);"
        "berlin = zoneinfo.ZoneInfo('Europe/Berlin');"
        "print(datetime.datetime(2026, 7, 1, 12, tzinfo=berlin).utcoffset().total_seconds())"
    )
    done = subprocess.run(
        [*LAMBDA_PYTHON, "-I", "-S", "-B", "-c", code, str(layer)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7200.0"
