"""What ECR knows of images: digest, tags and push time, in one batched call where it can."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import aws_call, error_code, translate
from autodeploy.policy import ImageFacts

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import ImageDetailTypeDef, ImageIdentifierTypeDef

_BATCH = 100  # DescribeImages takes at most 100 image ids


def _image_id(key: str) -> ImageIdentifierTypeDef:
    return {"imageDigest": key} if key.startswith("sha") and ":" in key else {"imageTag": key}


def _facts(detail: ImageDetailTypeDef) -> ImageFacts:
    return ImageFacts(
        digest=detail["imageDigest"],
        tags=tuple(detail.get("imageTags", [])),
        pushed_at=detail["imagePushedAt"],
    )


class EcrImages:
    def __init__(self, ecr: ECRClient) -> None:
        self._ecr = ecr

    def lookup(self, repository: str, keys: Iterable[str]) -> dict[str, ImageFacts]:
        """Facts by key (a digest or a tag); a key ECR does not know is simply absent.

        DescribeImages fails whole when one id is unknown, so a failed batch is retried one id
        at a time: the common case (every image exists) costs one call.
        """
        wanted = sorted(set(keys))
        found: dict[str, ImageFacts] = {}
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            details = self._describe(repository, batch)
            if details is None:
                for key in batch:
                    found.update(self._index(self._describe(repository, [key]) or [], [key]))
            else:
                found.update(self._index(details, batch))
        return found

    def list_tagged(self, repository: str) -> list[ImageFacts]:
        """Every tagged image of the repository (paginated, 1000 a call)."""
        images: list[ImageFacts] = []
        with aws_call(f"listing the images of {repository}"):
            pages = self._ecr.get_paginator("describe_images").paginate(
                repositoryName=repository, filter={"tagStatus": "TAGGED"}, PaginationConfig={"PageSize": 1000}
            )
            for page in pages:
                images.extend(_facts(d) for d in page.get("imageDetails", []))
        return images

    def _describe(self, repository: str, keys: list[str]) -> list[ImageDetailTypeDef] | None:
        try:
            response = self._ecr.describe_images(repositoryName=repository, imageIds=[_image_id(k) for k in keys])
        except ClientError as exc:
            if error_code(exc) == "ImageNotFoundException":
                return None
            translate(exc, f"describing images of {repository}")
        except BotoCoreError as exc:
            translate(exc, f"describing images of {repository}")
        return list(response.get("imageDetails", []))

    @staticmethod
    def _index(details: list[ImageDetailTypeDef], keys: list[str]) -> dict[str, ImageFacts]:
        facts = [_facts(d) for d in details]
        return {key: f for key in keys for f in facts if key == f.digest or key in f.tags}
