"""The payload a gate-release schedule sends (events/gate-release.json): read strictly, every problem named."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodeploy.errors import InvalidEvent
from autodeploy.gates.verdict import Gate
from autodeploy.release import GateRelease
from tests.support.events import load_event


def test_the_sample_is_a_release_of_a_push_at_a_gate():
    release = GateRelease.from_event(load_event("gate-release.json"))
    assert release.target == "arn:aws:ecs:us-east-1:123456789012:service/main/prod"
    assert release.push.startswith("push#2026-11-26T10:15:00+00:00#")
    assert release.gate is Gate.BAKE


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"source": "aws.ecr"}, "not a gate release"),
        ({"detail-type": "Scheduled Event"}, "not a gate release"),
        ({"target": "main/prod"}, "is not a service or stack ARN"),
        ({"target": None}, "is not a service or stack ARN"),
        ({"push": "state"}, "is not a ledger push key"),
        ({"push": 7}, "is not a ledger push key"),
        ({"gate": "tests"}, "is not one of scan, bake, window, approval"),
    ],
)
def test_a_broken_payload_is_refused_saying_what_is_wrong(change: dict[str, Any], problem: str):
    with pytest.raises(InvalidEvent, match=problem):
        GateRelease.from_event(load_event("gate-release.json") | change)


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.text()), st.dictionaries(st.text(), st.text())))
def test_anything_else_parses_or_is_an_invalid_event(value: Any):
    reasons: list[str] = []
    for event in (
        value,
        load_event("gate-release.json") | {"target": value},
        load_event("gate-release.json") | {"push": value},
    ):
        try:
            parsed = GateRelease.from_event(event)
        except InvalidEvent as refused:  # refused with a reason, never another exception
            reasons.append(str(refused))
        else:
            assert parsed.target.startswith("arn:") and parsed.push.startswith("push#")
    assert all(reasons)
