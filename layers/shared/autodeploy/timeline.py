"""Draw a service's scaling timeline (PNG) from its decision records: desired, recommended and
native counts with the decisions on one panel, each metric that drives the scaling on its own
panel with its target, and the alarm states. For the `autodeploy timeline` command; needs matplotlib,
which the Lambda layer does not ship (no function imports this module)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

_DECISION_MARKERS = {"SCALE_OUT": ("^", "tab:red"), "SCALE_IN": ("v", "tab:blue"), "HOLD": ("o", "tab:gray")}
_ALARM_COLORS = {"ALARM": "tab:red", "OK": "tab:green", "INSUFFICIENT_DATA": "tab:orange"}


def draw(records: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """Write the picture of these decision records (any order) to ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:  # the command says what to install rather than a traceback
        raise RuntimeError("drawing a timeline needs matplotlib: pip install matplotlib") from exc
    if not records:
        raise ValueError("no decision records to draw")
    ordered = sorted(records, key=lambda r: str(r["reviewed_at"]))
    times = [datetime.fromisoformat(str(r["reviewed_at"])) for r in ordered]
    metrics = _metric_names(ordered)
    figure, axes = plt.subplots(
        2 + len(metrics),
        1,
        figsize=(11, 5 + 1.8 * len(metrics)),
        sharex=True,
        gridspec_kw={"height_ratios": [4, *([2] * len(metrics)), 1]},
        constrained_layout=True,
    )
    counts, alarms = axes[0], axes[-1]
    counts.step(times, [int(r["current_count"]) for r in ordered], where="post", label="desired count", color="black")
    counts.step(
        times,
        [int(r["recommended_count"]) for r in ordered],
        where="post",
        label="recommended",
        color="tab:purple",
        linestyle="--",
        linewidth=2,
        zorder=4,
    )
    native = [int(r.get("native", {}).get("new_desired", r["current_count"])) for r in ordered]
    counts.step(times, native, where="post", label="native (as AWS would set it)", color="tab:olive", linestyle=":")
    for decision, (marker, color) in _DECISION_MARKERS.items():
        picked = [
            (t, int(r["recommended_count"])) for t, r in zip(times, ordered, strict=True) if r["decision"] == decision
        ]
        if picked:
            counts.scatter(
                [p[0] for p in picked], [p[1] for p in picked], marker=marker, color=color, label=decision, zorder=5
            )
    counts.set_ylabel("tasks")
    counts.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts.set_title(title)
    counts.legend(loc="upper left", ncol=6, fontsize="small")
    for axis, name in zip(axes[1:-1], metrics, strict=True):
        # Each metric that drives a policy on its own axis, with the target the recommendation holds it at.
        values = [_latest(r, name) for r in ordered]
        targets = [_target(r, name) for r in ordered]
        axis.step(times, values, where="post", color="tab:cyan", label=name)
        axis.step(times, targets, where="post", color="tab:gray", linestyle="--", label="target")
        axis.set_ylabel(name if len(name) < 24 else name[:22] + "...", fontsize="small")
        axis.legend(loc="upper left", fontsize="small")
    names = sorted({name for r in ordered for name in r.get("alarms", {})})
    for row, name in enumerate(names):
        colors = [_ALARM_COLORS.get(r.get("alarms", {}).get(name, ""), "white") for r in ordered]
        alarms.scatter(times, [row] * len(times), c=colors, marker="s", s=60)
    alarms.set_yticks(range(len(names)), names)
    alarms.set_ylim(-1, max(1, len(names)))
    alarms.set_xlabel("review time (UTC)")
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _metric_names(records: Sequence[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for record in records:
        names |= dict.fromkeys(record.get("inputs", {}).get("signals", {}))
    if not names and any(r.get("inputs", {}).get("cpu_recent") for r in records):
        names["CPUUtilization"] = None  # records written before signals were recorded
    return list(names)


def _latest(record: dict[str, Any], name: str) -> float | None:
    facts = record.get("inputs", {})
    recent = facts.get("signals", {}).get(name, {}).get("recent") or (
        facts.get("cpu_recent") if name == "CPUUtilization" else None
    )
    return float(recent[-1]) if recent else None


def _target(record: dict[str, Any], name: str) -> float | None:
    target = record.get("inputs", {}).get("signals", {}).get(name, {}).get("target")
    return float(target) if target is not None else None
