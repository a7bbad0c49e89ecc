"""A service's review settings from its ``autodeploy:scaling-*`` tags, validated like the deploy tags.

``autodeploy:scaling-review``: ``observe`` (default) or ``act``. The others override a default:

- ``autodeploy:scaling-target``: CPU and memory target utilization, percent (1-100).
- ``autodeploy:scaling-tolerance``: no change for a load within this percent of the target (0-50).
- ``autodeploy:scaling-stabilization``: scale in to the highest need over these minutes (1-60).
- ``autodeploy:scaling-scale-in-step``: remove at most this percent of the tasks at once (1-100).
- ``autodeploy:scaling-flap-window``: minutes in which direction changes count as flapping (10-1440).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from autodeploy.errors import MisconfiguredTarget
from autodeploy.scaling.models import ReviewMode, ReviewSettings

REVIEW_TAG = "autodeploy:scaling-review"
_NUMBERS = {
    # tag: (setting, lowest, highest, factor from the tag's unit to the setting's)
    "autodeploy:scaling-target": ("target", 1, 100, 1.0),
    "autodeploy:scaling-tolerance": ("tolerance", 0, 50, 0.01),
    "autodeploy:scaling-stabilization": ("stabilization_minutes", 1, 60, 1),
    "autodeploy:scaling-scale-in-step": ("scale_in_max_percent", 1, 100, 1),
    "autodeploy:scaling-flap-window": ("flap_window_minutes", 10, 1440, 1),
}


def parse_settings(
    tags: Mapping[str, str], defaults: ReviewSettings | None = None
) -> tuple[ReviewMode, ReviewSettings]:
    """The mode and settings a service's tags ask for; every problem is named in one message."""
    problems: list[str] = []
    text = tags.get(REVIEW_TAG, "").strip() or "observe"
    try:
        mode = ReviewMode(text)
    except ValueError:
        problems.append(f"{REVIEW_TAG}={text!r}: expected 'observe' or 'act'")
        mode = ReviewMode.OBSERVE
    changes: dict[str, float | int] = {}
    for key, (setting, lowest, highest, factor) in _NUMBERS.items():
        if key not in tags:
            continue
        raw = tags[key].strip()
        try:
            number = float(raw)
        except ValueError:
            number = float("nan")
        if not lowest <= number <= highest or (isinstance(factor, int) and not number.is_integer()):
            kind = "a whole number" if isinstance(factor, int) else "a number"
            problems.append(f"{key}={raw!r}: expected {kind} from {lowest} to {highest}")
            continue
        changes[setting] = int(number) if isinstance(factor, int) else number * factor
    if problems:
        raise MisconfiguredTarget("; ".join(problems))
    return mode, replace(defaults or ReviewSettings(), **changes)  # type: ignore[arg-type]
