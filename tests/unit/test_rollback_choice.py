"""Which image a plain `autodeploy rollback` goes back to, and where `--to` finds one: pure rules over the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from autodeploy.operations import NothingToDo, OperationError, choose_rollback
from autodeploy.policy import ImageFacts
from autodeploy.records import DeploymentRecord, Reason, Status
from autodeploy.registration import Target, TargetKind
from autodeploy.rollout import InFlight, PushRef, TargetState

ARN = "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
TARGET = Target(ARN, TargetKind.SERVICE, "web")
T0 = datetime(2026, 11, 26, 10, tzinfo=UTC)


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def record(n: int, status: Status, previous: str | None = None) -> DeploymentRecord:
    at = T0 + timedelta(hours=n)
    return DeploymentRecord(
        ARN,
        "service",
        "web",
        "web",
        f"1.{n}.0",
        digest(n),
        status,
        Reason.DEPLOYED,
        "",
        f"e{n}",
        at,
        at,
        previous_image=previous,
    )


def state(good: int | None, flying: int | None = None) -> TargetState:
    in_flight = None
    if flying is not None:
        push = PushRef(f"e{flying}", "web", digest(flying), f"1.{flying}.0", T0, "123456789012", "us-east-1")
        in_flight = InFlight(push, f"{REGISTRY}/web@{digest(flying)}", T0)
    last = {"digest": digest(good), "tag": f"1.{good}.0"} if good is not None else {}
    return TargetState(ARN, in_flight=in_flight, last_succeeded=last)


def deployer(ecr: dict[str, ImageFacts] | None = None) -> SimpleNamespace:
    known = ecr or {}
    return SimpleNamespace(images=SimpleNamespace(lookup=lambda repo, keys: {k: known[k] for k in keys if k in known}))


def test_on_the_last_good_image_it_goes_to_the_good_one_before():
    history = [record(2, Status.SUCCEEDED), record(1, Status.SUCCEEDED)]
    assert choose_rollback(deployer(), TARGET, history, state(good=2), None).digest == digest(1)


def test_after_a_rollback_by_ecs_the_target_is_on_its_last_good_image_again():
    history = [record(3, Status.ROLLED_BACK), record(2, Status.SUCCEEDED), record(1, Status.SUCCEEDED)]
    assert choose_rollback(deployer(), TARGET, history, state(good=2), None).digest == digest(1)


@pytest.mark.parametrize("latest", [Status.FAILED, Status.TIMED_OUT])
def test_after_a_failure_ecs_did_not_undo_it_goes_to_the_last_good_image(latest):
    history = [record(3, latest), record(2, Status.SUCCEEDED), record(1, Status.SUCCEEDED)]
    chosen = choose_rollback(deployer(), TARGET, history, state(good=2), None)
    assert (chosen.digest, chosen.found_in) == (digest(2), "the last good image")


def test_with_nothing_earlier_it_goes_to_what_ran_before_ecs_autodeploy():
    history = [record(1, Status.SUCCEEDED, previous=f"{REGISTRY}/web@{digest(0)}")]
    chosen = choose_rollback(deployer(), TARGET, history, state(good=1), None)
    assert (chosen.digest, chosen.found_in) == (digest(0), "the image the target ran before ecs-autodeploy")


def test_with_nothing_at_all_there_is_nothing_to_do():
    with pytest.raises(NothingToDo, match="no earlier good image in this target's history; name one with --to"):
        choose_rollback(deployer(), TARGET, [record(1, Status.SUCCEEDED)], state(good=1), None)


def test_to_a_digest_prefix_must_be_unambiguous():
    twins = [record(1, Status.SUCCEEDED), record(2, Status.SUCCEEDED)]
    with pytest.raises(OperationError, match="'sha256:0000' matches 2 digests"):
        choose_rollback(deployer(), TARGET, twins, state(good=2), "sha256:0000")
    assert choose_rollback(deployer(), TARGET, twins, state(good=2), digest(1)).tag == "1.1.0"


def test_to_a_tag_the_target_ran_before_is_found_in_ecr():
    history = [record(1, Status.SUCCEEDED, previous=f"{REGISTRY}/web:0.9.0")]
    ecr = {"0.9.0": ImageFacts(digest(9), ("0.9.0",), T0)}
    chosen = choose_rollback(deployer(ecr), TARGET, history, state(good=1), "0.9.0")
    assert (chosen.digest, chosen.tag) == (digest(9), "0.9.0")
    assert chosen.found_in == "the image the target ran before its first rollout by ecs-autodeploy"


def test_to_something_that_is_no_image_name_is_refused():
    with pytest.raises(OperationError, match="'web latest' is neither an image tag nor a digest"):
        choose_rollback(deployer(), TARGET, [], state(good=None), "web latest")
