"""The timeline picture: each driving metric on its own panel, the native count as AWS would set it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autodeploy.timeline import _latest, _metric_names, _target, draw

START = datetime(2026, 11, 26, 12, tzinfo=UTC)


def record(minute: int, cpu: float, memory: float, current: int, recommended: int, native: int) -> dict:
    return {
        "reviewed_at": (START + timedelta(minutes=minute)).isoformat(),
        "decision": "SCALE_OUT" if recommended > current else "HOLD",
        "current_count": current,
        "recommended_count": recommended,
        "native": {"adjustment": native - current, "new_desired": native},
        "alarms": {"web-cpu-high": "ALARM" if cpu > 60 else "OK"},
        "inputs": {
            "signals": {
                "CPUUtilization": {"target": 48.0, "recent": [cpu], "need": recommended},
                "MemoryUtilization": {"target": 60.0, "recent": [memory], "need": current},
            }
        },
    }


def test_each_metric_gets_its_panel_with_its_target(tmp_path):
    records = [record(m, 30 + 10 * m, 50.0, 2 + m // 3, 2 + m // 2, 2 + m // 4) for m in range(8)]
    assert _metric_names(records) == ["CPUUtilization", "MemoryUtilization"]
    assert (_latest(records[3], "CPUUtilization"), _target(records[3], "MemoryUtilization")) == (60.0, 60.0)
    out = draw(records, "prod/web", tmp_path / "timeline.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_records_from_before_signals_still_draw_their_cpu():
    old = {"inputs": {"cpu_recent": [40.0, 42.0]}}
    assert _metric_names([old]) == ["CPUUtilization"]
    assert _latest(old, "CPUUtilization") == 42.0
