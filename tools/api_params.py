"""A call's API parameters where botocore's later hooks cannot see them.

botocore's ``before-call`` handlers get the serialized request (the wire body), not the parameters
the caller passed; ``before-parameter-build`` gets those, for every call, and runs before any
``before-call`` handler can answer in the service's stead (botocore stops at the first answer, and
runs ``before-call.<service>.*`` handlers before plain ``before-call`` ones). So a bridge that
answers a call reads the parameters kept here, and a recorder that must see every call, answered
or not, listens here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_KEY = "api_params"


def on_api_params(
    events: Any, handler: Callable[..., None], operation: str | None = None, first: bool = False
) -> Callable[[], None]:
    """Call ``handler(params=, model=, context=, ...)`` with each call's API parameters.

    ``operation``: ``<service>.<Operation>`` (``*`` allowed), or every call; ``first``: before the
    other handlers of that event. Returns what unregisters it.
    """
    event = f"before-parameter-build.{operation}" if operation else "before-parameter-build"
    if first:
        events.register_first(event, handler)
    else:
        events.register(event, handler)
    return lambda: events.unregister(event, handler)


def keep_api_params(events: Any, operation: str | None = None) -> Callable[[], None]:
    """Keep each call's API parameters in its request context, for ``api_params`` in ``before-call``."""

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_KEY] = dict(params)

    return on_api_params(events, keep, operation)


def api_params(context: dict[str, Any]) -> dict[str, Any]:
    """The API parameters ``keep_api_params`` kept for this call ({} when it was not kept)."""
    return dict(context.get(_KEY, {}))
