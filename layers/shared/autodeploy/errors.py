"""The project's error hierarchy.

Adapters translate botocore errors into these, so the use cases decide on meaning, not on
error codes: a ``RetryableError`` propagates (Lambda retries, then the failure queue keeps the
event); a ``PermanentError`` is recorded and dropped, because no retry can fix it.
"""

from __future__ import annotations


class AutodeployError(Exception):
    """Base class of every error this project raises on purpose."""


class RetryableError(AutodeployError):
    """A condition that may clear by itself: throttling, 5xx, a stack busy updating."""


class PermanentError(AutodeployError):
    """A condition no retry can fix: bad input, a misconfigured target, a missing resource."""


class InvalidEvent(PermanentError):
    """The incoming event does not have the shape or values we accept."""


class InvalidImageReference(PermanentError):
    """A string is not a valid container image reference."""


class MisconfiguredTarget(PermanentError):
    """A registered target's tags or current definition cannot be deployed to."""


class TargetNotFound(PermanentError):
    """The target disappeared between discovery and deployment."""


class ConfigurationError(AutodeployError):
    """The function's own environment is wrong; fails the first invocation with a precise message."""
