"""The `make demo` story on a moto server, through the real handlers and the template's own
EventBridge rules, asserted step by step."""

from __future__ import annotations

import pytest

from autodeploy import wiring
from tools.demo import play

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    wiring.reset()
    told: list[str] = []
    result = play(tmp_path_factory.mktemp("demo"), say=told.append)
    result.told = told  # type: ignore[attr-defined]
    yield result
    wiring.reset()


def statuses(deliveries, function="DeployFunction"):
    found = []
    for delivery in deliveries:
        if delivery.function != function:
            continue
        if function == "DeployFunction":
            found += [t["status"] for t in delivery.result["targets"]]
        elif function == "TrackFunction":
            found.append(delivery.result.get("status", delivery.result["outcome"]))
            found += [t["status"] for t in delivery.result.get("next", [])]
        else:
            found += [r["decision"] for r in delivery.result["reviewed"]]
    return found


def test_each_event_was_routed_by_the_template_rules(story):
    functions = {d.function for step in story.steps.values() for d in step}
    assert functions == {"DeployFunction", "TrackFunction", "ReviewFunction"}


def test_1_a_push_registers_a_revision_and_starts_the_rollout(story):
    assert statuses(story.steps["push 1.0.1"]) == ["IN_PROGRESS"]


def test_2_newer_pushes_wait_and_the_older_waiting_one_is_superseded(story):
    assert statuses(story.steps["pushes 1.0.2 and 1.0.3"]) == ["QUEUED", "SUPERSEDED", "QUEUED"]


def test_3_completion_is_recorded_notified_and_the_newest_push_wins(story):
    assert statuses(story.steps["deployments complete"], "TrackFunction") == ["SUCCEEDED", "IN_PROGRESS", "SUCCEEDED"]
    by_tag = {r["tag"]: r["status"] for r in story.history}
    assert (by_tag["1.0.1"], by_tag["1.0.2"], by_tag["1.0.3"]) == ("SUCCEEDED", "SUPERSEDED", "SUCCEEDED")
    subjects = [n["subject"] for n in story.notifications]
    assert "[autodeploy] SUCCEEDED prod/web: web:1.0.1 in 280s" in subjects
    assert "[autodeploy] SUCCEEDED prod/web: web:1.0.3 in 480s" in subjects


def test_4_a_crash_is_rolled_back_with_the_stopped_tasks_reason_and_quarantined(story):
    assert statuses(story.steps["rollback"], "TrackFunction") == ["ROLLED_BACK"]
    [rolled] = [r for r in story.history if r["tag"] == "1.0.4"]
    assert rolled["status"] == "ROLLED_BACK"
    assert "stopped: Essential container in task exited" in rolled["reason"]
    assert list(story.quarantined) == [rolled["digest"]]
    assert "[autodeploy] ROLLED_BACK prod/web: web:1.0.4 in 240s" in [n["subject"] for n in story.notifications]


def test_5_the_reviewer_records_scale_out_next_to_the_native_plus_one_then_scale_in(story):
    assert statuses(story.steps["load rises"], "ReviewFunction") == ["SCALE_OUT"]
    assert statuses(story.steps["load falls"], "ReviewFunction") == ["SCALE_IN"]
    out = next(d for d in story.decisions if d["decision"] == "SCALE_OUT")
    assert out["native"]["adjustment"] == 1
    assert (out["current_count"], out["recommended_count"]) == (2, 4)
    assert [d["decision"] for d in story.decisions][:3] == ["SCALE_IN"] * 3


def test_the_story_ends_with_history_status_and_the_timeline_picture(story):
    told = "\n".join(story.told)
    for heading in ("autodeploy history prod/web", "autodeploy status", "autodeploy decisions prod/web"):
        assert heading in told
    assert story.timeline is not None
    assert story.timeline.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("from stacks/alb.yaml" in line for line in story.setup)
