from __future__ import annotations

from datetime import UTC, datetime

import pytest

from autodeploy.errors import InvalidEvent
from autodeploy.events import ImagePush
from tests.support.events import load_event


def test_the_push_sample_parses():
    push = ImagePush.from_event(load_event("ecr-push.json"))
    assert (push.repository, push.tag) == ("web", "1.5.0")
    assert push.digest.startswith("sha256:")
    assert push.envelope.time == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    assert (push.envelope.account, push.envelope.region) == ("123456789012", "us-east-1")


def test_extra_fields_are_tolerated():
    push = ImagePush.from_event(load_event("ecr-push-with-media-types.json"))
    assert push.tag == "1.5.0"


def test_a_push_by_digest_has_no_tag():
    assert ImagePush.from_event(load_event("ecr-push-without-tag.json")).tag is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.pop("detail"), "detail is missing or not an object"),
        (lambda e: e.update(account="12345"), "account must be 12 digits"),
        (lambda e: e.update(time="yesterday"), "time is not an ISO 8601 timestamp"),
        (lambda e: e.update(source="aws.s3"), "expected source 'aws.ecr'"),
        (lambda e: e["detail"].update({"action-type": "DELETE"}), "not a successful push"),
        (lambda e: e["detail"].update({"image-tag": "bad tag"}), "detail.image-tag 'bad tag' is not a valid image tag"),
        (lambda e: e["detail"].update({"image-tag": 7}), "detail.image-tag 7 is not a valid image tag"),
        (lambda e: e["detail"].update({"repository-name": ""}), "detail.repository-name is missing"),
        (lambda e: e["detail"].pop("image-digest"), "detail.image-digest is missing"),
    ],
)
def test_malformed_events_name_the_problem(change, reason):
    event = load_event("ecr-push.json")
    change(event)
    with pytest.raises(InvalidEvent, match=reason):
        ImagePush.from_event(event)


@pytest.mark.parametrize(
    "sample", ["ecr-push-invalid-digest.json", "ecr-push-missing-repository.json", "ecr-push-failed.json"]
)
def test_the_bad_samples_are_rejected(sample):
    with pytest.raises(InvalidEvent):
        ImagePush.from_event(load_event(sample))
