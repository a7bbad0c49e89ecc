"""Fault injection through botocore's own event hooks: a ``before-call`` handler that returns a
response short-circuits the HTTP request, so the client raises exactly what AWS would send."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""


@contextmanager
def failing(
    client: Any,
    operation: str,
    code: str,
    message: str = "injected",
    status: int = 400,
    times: int = 1,
    when: Callable[[dict[str, Any]], bool] = lambda params: True,
) -> Iterator[list[dict[str, Any]]]:
    """Make ``operation`` fail ``times`` times (when ``when(params)``), then behave normally."""
    failed: list[dict[str, Any]] = []
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def inject(params: dict[str, Any], **_: Any) -> Any:
        if len(failed) >= times or not when(params):
            return None
        failed.append(params)
        body = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return _Response(status), body

    client.meta.events.register_first(event, inject)
    try:
        yield failed
    finally:
        client.meta.events.unregister(event, inject)


@contextmanager
def amended(client: Any, operation: str, amend: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Let ``amend`` add to a real response, for fields the emulator does not keep (a moto gap)."""
    event = f"after-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        amend(parsed)

    client.meta.events.register(event, handler)
    try:
        yield
    finally:
        client.meta.events.unregister(event, handler)
