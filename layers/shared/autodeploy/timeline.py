"""Draw a service's scaling timeline (PNG) from its decision records: desired and recommended
counts, CPU, alarm states and decisions. For the `autodeploy timeline` command; needs matplotlib,
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
    figure, (counts, alarms) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [4, 1]}, constrained_layout=True
    )
    counts.step(times, [int(r["current_count"]) for r in ordered], where="post", label="desired count", color="black")
    counts.step(
        times,
        [int(r["recommended_count"]) for r in ordered],
        where="post",
        label="recommended",
        color="tab:purple",
        linestyle="--",
    )
    native = [int(r.get("native", {}).get("new_desired", r["current_count"])) for r in ordered]
    counts.step(times, native, where="post", label="native policy", color="tab:olive", linestyle=":")
    for decision, (marker, color) in _DECISION_MARKERS.items():
        picked = [
            (t, int(r["recommended_count"])) for t, r in zip(times, ordered, strict=True) if r["decision"] == decision
        ]
        if picked:
            counts.scatter(
                [p[0] for p in picked], [p[1] for p in picked], marker=marker, color=color, label=decision, zorder=3
            )
    counts.set_ylabel("tasks")
    counts.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts.set_title(title)
    cpu_axis = counts.twinx()
    cpu = [_last_cpu(r) for r in ordered]
    cpu_axis.step(times, cpu, where="post", color="tab:cyan", label="CPU % (latest minute)")
    cpu_axis.set_ylabel("CPU %")
    cpu_axis.set_ylim(0, 100)
    handles, labels = counts.get_legend_handles_labels()
    cpu_handles, cpu_labels = cpu_axis.get_legend_handles_labels()
    figure.legend(handles + cpu_handles, labels + cpu_labels, loc="outside lower center", ncol=7, fontsize="small")
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


def _last_cpu(record: dict[str, Any]) -> float | None:
    recent = record.get("inputs", {}).get("cpu_recent") or []
    return float(recent[-1]) if recent else None
