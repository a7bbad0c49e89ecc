from __future__ import annotations

import pytest

from autodeploy.errors import InvalidImageReference
from autodeploy.image_reference import ImageReference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", None, "nginx", None, None),
        ("nginx:1.27", None, "nginx", "1.27", None),
        ("library/nginx:1.27", None, "library/nginx", "1.27", None),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.5.0",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "web",
            "1.5.0",
            None,
        ),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web/api@" + DIGEST,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "team/web/api",
            None,
            DIGEST,
        ),
        ("registry.local:5000/web", "registry.local:5000", "web", None, None),
        ("registry.local:5000/web:v2", "registry.local:5000", "web", "v2", None),
        ("localhost/web:dev", "localhost", "web", "dev", None),
        ("localhost:5000/a/b:c@" + DIGEST, "localhost:5000", "a/b", "c", DIGEST),
        ("Registry/web", "Registry", "web", None, None),
        (
            "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
            "public.ecr.aws",
            "aws-observability/aws-for-fluent-bit",
            "2.32.4",
            None,
        ),
        ("my__repo.name-x:tag_1.0-rc.1", None, "my__repo.name-x", "tag_1.0-rc.1", None),
    ],
)
def test_parses_each_part(text, registry, repository, tag, digest):
    ref = ImageReference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        (" web", "surrounding spaces"),
        ("web@sha256:abc", "invalid digest"),
        ("web@md5:" + "a" * 32, "invalid digest"),
        ("web:", "invalid tag"),
        ("web:-x", "invalid tag"),
        ("web:" + "t" * 129, "invalid tag"),
        ("Web", "invalid repository path"),
        ("web//api", "invalid repository path"),
        ("web-", "invalid repository path"),
        ("reg_istry.com/web", "invalid registry"),
        ("a" * 256, "longer than 255"),
    ],
)
def test_rejects_invalid_references(text, problem):
    with pytest.raises(InvalidImageReference, match=problem):
        ImageReference.parse(text)


def test_is_from_requires_the_exact_registry_and_repository():
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert ImageReference.parse(f"{registry}/web:1").is_from(registry, "web")
    assert ImageReference.parse(f"{registry.upper()}/web:1").is_from(registry, "web")
    assert not ImageReference.parse(f"{registry}/web-admin:1").is_from(registry, "web")
    assert not ImageReference.parse(f"{registry}/team/web:1").is_from(registry, "web")
    assert not ImageReference.parse("web:1").is_from(registry, "web")
    assert not ImageReference.parse("999999999999.dkr.ecr.us-east-1.amazonaws.com/web:1").is_from(registry, "web")


def test_pinned_to_drops_the_tag_and_keeps_the_rest():
    ref = ImageReference.parse("registry.local:5000/team/web:1.5.0")
    assert str(ref.pinned_to(DIGEST)) == f"registry.local:5000/team/web@{DIGEST}"
