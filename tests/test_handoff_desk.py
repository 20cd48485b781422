"""The volunteer desk's hours, in the deployment's time zone."""

import datetime as dt

import pytest

from bot.handoff.desk import hours_label, in_hours
from bot.settings import Settings

SAIGON = dt.timezone(dt.timedelta(hours=7))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """2026-11-23 is a Monday; the time is Saigon's, given to the desk in UTC."""
    return dt.datetime(2026, 11, 23 + day, hour, minute, tzinfo=SAIGON).astimezone(dt.timezone.utc)


@pytest.mark.parametrize(
    "moment, expected",
    [
        (at(0, 7, 29), False),
        (at(0, 7, 30), True),
        (at(0, 21, 29), True),
        (at(0, 21, 30), False),
        (at(5, 9), True),  # Saturday is a working day here
        (at(6, 9), False),  # Sunday is not
    ],
)
def test_desk_hours_are_local_and_weekday_aware(moment, expected):
    settings = Settings(volunteer_hours="07:30-21:30", volunteer_weekdays="0,1,2,3,4,5", timezone="Asia/Ho_Chi_Minh")
    assert in_hours(settings, moment) is expected


def test_equal_opening_and_closing_means_all_day():
    settings = Settings(volunteer_hours="00:00-00:00")
    assert all(in_hours(settings, at(day, hour)) for day in range(7) for hour in (0, 12, 23))
    assert hours_label(settings) == "cả ngày"
    assert hours_label(Settings(volunteer_hours="07:30-21:30")) == "07:30-21:30"
