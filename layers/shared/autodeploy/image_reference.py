"""Container image references, parsed by the grammar of the OCI distribution reference.

``[registry[:port]/]path[/path...][:tag][@algorithm:hex]``. The first component is a registry
only when it looks like a host (has a dot or a port, or is ``localhost``), exactly as Docker and
ECS read it, so ``web-frontend`` never matches ``web`` and ``team/web`` never matches ``web``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from autodeploy.errors import InvalidImageReference

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_REGISTRY = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")
_MAX_NAME_LENGTH = 255


def is_valid_digest(value: str) -> bool:
    return DIGEST.match(value) is not None


def is_valid_tag(value: str) -> bool:
    return _TAG.match(value) is not None


@dataclass(frozen=True, slots=True)
class ImageReference:
    """One parsed image reference; ``str()`` gives it back in canonical form."""

    repository: str
    registry: str | None = None
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        if not text or text != text.strip():
            raise InvalidImageReference(f"image reference {text!r} is empty or has surrounding spaces")
        remainder, digest = text, None
        if "@" in remainder:
            remainder, digest = remainder.split("@", 1)
            if not is_valid_digest(digest):
                raise InvalidImageReference(f"image reference {text!r} has an invalid digest {digest!r}")
        name, tag = remainder, None
        last_slash = remainder.rfind("/")
        last_colon = remainder.rfind(":")
        if last_colon > last_slash:  # a colon after the last slash separates the tag, not a port
            name, tag = remainder[:last_colon], remainder[last_colon + 1 :]
            if not is_valid_tag(tag):
                raise InvalidImageReference(f"image reference {text!r} has an invalid tag {tag!r}")
        registry, path = None, name
        first, sep, rest = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
            registry, path = first, rest
            if not _REGISTRY.match(registry):
                raise InvalidImageReference(f"image reference {text!r} has an invalid registry {registry!r}")
        if not _PATH.match(path):
            raise InvalidImageReference(f"image reference {text!r} has an invalid repository path {path!r}")
        if len(name) > _MAX_NAME_LENGTH:
            raise InvalidImageReference(f"image reference {text!r} is longer than {_MAX_NAME_LENGTH} characters")
        return cls(repository=path, registry=registry, tag=tag, digest=digest)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry else self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def is_from(self, registry: str, repository: str) -> bool:
        """Whether this image comes from exactly that registry and repository."""
        return (self.registry or "").lower() == registry.lower() and self.repository == repository

    def pinned_to(self, digest: str) -> ImageReference:
        """The same repository pinned by digest alone: what runs can no longer change under a tag."""
        return replace(self, tag=None, digest=digest)
