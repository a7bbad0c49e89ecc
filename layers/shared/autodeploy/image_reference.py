"""Container image references, parsed by the grammar of the OCI distribution reference.

``[registry[:port]/]path[/path...][:tag][@algorithm:hex]``. The first component is a registry
only when it looks like a host (has a dot or a port, or is ``localhost``), exactly as Docker and
ECS read it, so ``web-frontend`` never matches ``web`` and ``team/web`` never matches ``web``.

Every grammar is matched against the whole string (``fullmatch``: ``$`` would also match before a
trailing newline) and in ASCII (a word class would accept any Unicode letter), so a value with a stray
newline or a look-alike letter is refused, never deployed nor written as a ledger key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from autodeploy.errors import InvalidImageReference

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_REGISTRY = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # the OCI tag grammar, in ASCII
DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
# botocore's ECR model: RegistryId is 12 digits; RepositoryName is 2 to 256 characters of this pattern.
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_REPOSITORY_NAME_LENGTH = (2, 256)
_MAX_NAME_LENGTH = 255


def _whole(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def is_valid_digest(value: object) -> bool:
    return _whole(DIGEST, value)


def is_valid_tag(value: object) -> bool:
    return _whole(_TAG, value)


def is_valid_account_id(value: object) -> bool:
    """An AWS account id, which is also an ECR registry id."""
    return _whole(_ACCOUNT_ID, value)


def is_valid_region(value: object) -> bool:
    """An AWS region name (``us-east-1``, ``us-gov-west-1``, ``ap-southeast-5``)."""
    return _whole(_REGION, value)


def repository_name_problem(value: object) -> str | None:
    """Why a value is not an ECR repository name (botocore's ECR model), or None when it is one."""
    if not isinstance(value, str):
        return f"{value!r} is not a string"
    low, high = _REPOSITORY_NAME_LENGTH
    if not low <= len(value) <= high:
        return f"{value[:60]!r} is not {low} to {high} characters long"
    if not _whole(_PATH, value):
        return (
            f"{value[:60]!r} is not an ECR repository name: lowercase letters and digits, "
            "separated by '.', '_', '__', '-' or '/'"
        )
    return None


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
            if not _whole(_REGISTRY, registry):
                raise InvalidImageReference(f"image reference {text!r} has an invalid registry {registry!r}")
        if not _whole(_PATH, path):
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
