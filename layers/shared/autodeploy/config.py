"""Function configuration, read once from the environment and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from autodeploy.errors import ConfigurationError


def _required(environ: Mapping[str, str], name: str, purpose: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set: it names {purpose}")
    return value


@dataclass(frozen=True, slots=True)
class DeploySettings:
    ledger_table: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> DeploySettings:
        return cls(ledger_table=_required(environ, "LEDGER_TABLE", "the DynamoDB deployment ledger table"))
