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


# The day fields' wildcards as the EventBridge user guide's "Cron expressions reference" gives them
# (L: last day of the month or week; 3W: the weekday closest to the 3rd; 3#2: the second Tuesday),
# and nL as its examples use it (cron(15 10 ? * 6L ...): the last Friday of each month).
SIX_WEEKS = timedelta(days=42)


def at_eight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 8, tzinfo=UTC)


def test_cron_l_is_the_last_day_of_the_month_or_saturday_in_day_of_week():
    assert next_run("cron(0 8 L * ? *)", NOW, SIX_WEEKS) == at_eight(2026, 11, 30)
    assert next_run("cron(0 8 L * ? *)", datetime(2026, 2, 1, tzinfo=UTC), SIX_WEEKS) == at_eight(2026, 2, 28)
    assert next_run("cron(0 8 ? * L *)", NOW, SIX_WEEKS) == at_eight(2026, 11, 28)  # a Saturday


def test_cron_nl_is_the_last_such_day_of_the_month():
    assert next_run("cron(0 8 ? * 6L *)", NOW, SIX_WEEKS) == at_eight(2026, 11, 27)  # the last Friday
    assert next_run("cron(0 8 ? * 2L *)", NOW, SIX_WEEKS) == at_eight(2026, 11, 30)  # the last Monday


def test_cron_hash_is_the_nth_such_day_and_stands_alone():
    assert next_run("cron(0 8 ? * 3#2 *)", NOW, SIX_WEEKS) == at_eight(2026, 12, 8)  # Dec 1st is a Tuesday
    assert next_run("cron(0 8 ? * FRI#4 *)", NOW, SIX_WEEKS) == at_eight(2026, 11, 27)
    with pytest.raises(ValueError, match="one expression only"):
        next_run("cron(0 8 ? * 3#1,6#3 *)", NOW, SIX_WEEKS)


def test_cron_w_is_the_nearest_weekday_within_the_month():
    august = datetime(2026, 8, 1, tzinfo=UTC)  # a Saturday
    assert next_run("cron(0 8 1W * ? *)", august, SIX_WEEKS) == at_eight(2026, 8, 3)  # never back to July
    assert next_run("cron(0 8 8W * ? *)", august, SIX_WEEKS) == at_eight(2026, 8, 7)  # Saturday: the Friday
    assert next_run("cron(0 8 9W * ? *)", august, SIX_WEEKS) == at_eight(2026, 8, 10)  # Sunday: the Monday
    may = datetime(2026, 5, 1, tzinfo=UTC)
    assert next_run("cron(0 8 31W * ? *)", may, SIX_WEEKS) == at_eight(2026, 5, 29)  # Sunday the 31st: never June
    # November has no 31st: no run in it (none before December 13th, where six weeks end).
    assert next_run("cron(0 8 31W * ? *)", datetime(2026, 11, 1, tzinfo=UTC), SIX_WEEKS) is None


def test_what_is_not_read_is_said():
    with pytest.raises(ValueError, match="not read here"):
        next_run("cron(0 8 LW * ? *)", NOW, HALF_HOUR)  # not in AWS's reference
    with pytest.raises(ValueError, match="not an at"):
        next_run("every day", NOW, HALF_HOUR)
