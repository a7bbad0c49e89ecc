"""Scheduled actions' next run, by PutScheduledAction's schedule expressions (Application Auto
Scaling API reference: at(), rate() from the start, cron() with day-of-week 1-7 = SUN-SAT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autodeploy.scaling.schedule import next_run

NOW = datetime(2026, 11, 26, 7, 50, 30, tzinfo=UTC)  # a Thursday
HALF_HOUR = timedelta(minutes=30)


def test_at_runs_once_at_its_time_in_its_timezone():
    assert next_run("at(2026-11-26T08:00:00)", NOW, HALF_HOUR) == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert next_run("at(2026-11-26T09:00:00)", NOW, HALF_HOUR, timezone="Europe/Paris") == datetime(
        2026, 11, 26, 8, tzinfo=UTC
    )
    assert next_run("at(2026-11-26T07:00:00)", NOW, HALF_HOUR) is None


def test_rate_counts_from_the_start_else_the_creation():
    start = datetime(2026, 11, 26, 6, 5, tzinfo=UTC)
    assert next_run("rate(15 minutes)", NOW, HALF_HOUR, start=start) == datetime(2026, 11, 26, 8, 5, tzinfo=UTC)
    assert next_run("rate(1 hour)", NOW, HALF_HOUR, created=start) == datetime(2026, 11, 26, 8, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="no start"):
        next_run("rate(1 hour)", NOW, HALF_HOUR)


def test_cron_weekdays_at_eight():
    """The API reference's example shape: cron(0 8 ? * MON-FRI *)."""
    assert next_run("cron(0 8 ? * MON-FRI *)", NOW, HALF_HOUR) == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert next_run("cron(0 8 ? * SAT,SUN *)", NOW, HALF_HOUR) is None
    assert next_run("cron(0 8 ? * 5 *)", NOW, HALF_HOUR) is not None  # 5 = THU
    assert next_run("cron(*/20 * * * ? *)", NOW, HALF_HOUR) == datetime(2026, 11, 26, 8, tzinfo=UTC)


def test_what_is_not_read_is_said():
    with pytest.raises(ValueError, match="not read here"):
        next_run("cron(0 8 L * ? *)", NOW, HALF_HOUR)
    with pytest.raises(ValueError, match="not an at"):
        next_run("every day", NOW, HALF_HOUR)
