"""Dates and times as a person types them and reads them back."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from flows.moments import (
    PRESETS,
    format_clock,
    format_date,
    format_moment,
    next_daily,
    parse_clock,
    parse_duration,
    parse_moment,
    preset_moment,
)

# Amsterdam by name, not the default zone: the expected UTC hours below are Amsterdam's.
AMS = ZoneInfo("Europe/Amsterdam")
DEFAULT = time(19, 0)  # the flow's default time; different from 9:00 and 20:00 on purpose

# Wednesday 9 December 2026, 10:00 in Amsterdam.
NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, tz: ZoneInfo = AMS) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def ams(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A moment given as Amsterdam wall-clock time, as UTC (for `now`)."""
    return local(y, m, d, hh, mm).astimezone(UTC)


def exists(moment: datetime) -> bool:
    """Whether the wall-clock time of `moment` happens in its zone (not in a spring-forward gap)."""
    back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None) == moment.replace(tzinfo=None)


def parse(text: str, now: datetime = NOW, lang: str = "nl") -> datetime | None:
    return parse_moment(text, lang, now, AMS, DEFAULT)


# --- what a person types when asked "wanneer ga je het doen?" -------------------------------------

PHRASES = [
    ("morgen", local(2026, 12, 10, 19)),
    ("overmorgen", local(2026, 12, 11, 19)),
    ("vandaag om 20:00", local(2026, 12, 9, 20)),
    ("vanavond", local(2026, 12, 9, 20)),
    ("morgenochtend", local(2026, 12, 10, 9)),
    ("morgenavond", local(2026, 12, 10, 20)),
    ("morgen om half negen", local(2026, 12, 10, 8, 30)),
    ("vrijdag", local(2026, 12, 11, 19)),
    ("vrijdag om 20:00", local(2026, 12, 11, 20)),
    ("vrijdag 20u", local(2026, 12, 11, 20)),
    ("vrijdagavond", local(2026, 12, 11, 20)),
    ("vrijdagavond om 8", local(2026, 12, 11, 20)),
    ("vrijdag 8 uur 's avonds", local(2026, 12, 11, 20)),
    ("zaterdag 10.30", local(2026, 12, 12, 10, 30)),
    ("volgende week dinsdag", local(2026, 12, 15, 19)),
    ("dinsdag volgende week", local(2026, 12, 15, 19)),
    ("over 3 dagen", local(2026, 12, 12, 19)),
    ("over een week", local(2026, 12, 16, 19)),
    ("over twee weken", local(2026, 12, 23, 19)),
    ("over 2 uur", local(2026, 12, 9, 12)),
    ("over een half uur", local(2026, 12, 9, 10, 30)),
    ("12 december", local(2026, 12, 12, 19)),
    ("12 dec om 9:00", local(2026, 12, 12, 9)),
    ("12-12", local(2026, 12, 12, 19)),
    ("12/12/2026", local(2026, 12, 12, 19)),
    ("2026-12-12 09:00", local(2026, 12, 12, 9)),
    ("2026-12-12T09:00", local(2026, 12, 12, 9)),
    ("20:00", local(2026, 12, 9, 20)),
    ("dit weekend", local(2026, 12, 12, 19)),
    ("in het weekend om 10:00", local(2026, 12, 12, 10)),
    ("volgend weekend", local(2026, 12, 19, 19)),
    ("volgende week", local(2026, 12, 14, 19)),
    ("Vrijdag om 20:00!", local(2026, 12, 11, 20)),
    ("  vrijdag   om 20.00  ", local(2026, 12, 11, 20)),
    ("tomorrow", local(2026, 12, 10, 19)),
    ("tomorrow at 8pm", local(2026, 12, 10, 20)),
    ("tomorrow morning", local(2026, 12, 10, 9)),
    ("friday 8 pm", local(2026, 12, 11, 20)),
    ("on friday at 20:00", local(2026, 12, 11, 20)),
    ("friday evening", local(2026, 12, 11, 20)),
    ("in 3 days", local(2026, 12, 12, 19)),
    ("in 2 hours", local(2026, 12, 9, 12)),
    ("next week", local(2026, 12, 14, 19)),
    ("next tuesday", local(2026, 12, 15, 19)),
    ("tuesday next week", local(2026, 12, 15, 19)),
    ("december 12", local(2026, 12, 12, 19)),
    ("December 12th, 2026", local(2026, 12, 12, 19)),
    ("12 december at 9am", local(2026, 12, 12, 9)),
    ("the 12th of December at 9 a.m.", local(2026, 12, 12, 9)),
    ("tonight", local(2026, 12, 9, 20)),
    ("tonight at 9", local(2026, 12, 9, 21)),
    ("this weekend", local(2026, 12, 12, 19)),
    ("the day after tomorrow", local(2026, 12, 11, 19)),
]


@pytest.mark.parametrize(("text", "expected"), PHRASES, ids=[text for text, _ in PHRASES])
def test_a_typed_moment_on_wednesday_morning_means(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), PHRASES, ids=[text for text, _ in PHRASES])
def test_english_and_dutch_are_both_understood_whatever_the_language(text, expected):
    assert parse(text, lang="en") == expected


def test_the_moment_comes_back_in_the_persons_time_zone():
    moment = parse("vrijdag om 20:00")
    assert moment.tzinfo == AMS
    assert moment.utcoffset() == timedelta(hours=1)


# --- weekdays -------------------------------------------------------------------------------------

FRIDAY_EVENING = ams(2026, 12, 11, 21)
FRIDAY_AFTERNOON = ams(2026, 12, 11, 15)


def test_vrijdag_om_acht_on_a_friday_evening_means_next_friday():
    assert parse("vrijdag om 20:00", now=FRIDAY_EVENING) == local(2026, 12, 18, 20)


def test_vrijdag_om_acht_on_a_friday_afternoon_means_tonight():
    assert parse("vrijdag om 20:00", now=FRIDAY_AFTERNOON) == local(2026, 12, 11, 20)


def test_next_friday_on_a_friday_afternoon_is_a_week_later():
    assert parse("next friday at 20:00", now=FRIDAY_AFTERNOON) == local(2026, 12, 18, 20)
    assert parse("volgende vrijdag om 20:00", now=FRIDAY_AFTERNOON) == local(2026, 12, 18, 20)


def test_next_tuesday_on_a_wednesday_is_six_days_later():
    assert parse("next tuesday") == local(2026, 12, 15, 19)


def test_volgende_week_dinsdag_on_a_monday_skips_tomorrow():
    monday = ams(2026, 12, 7, 10)
    assert parse("dinsdag", now=monday) == local(2026, 12, 8, 19)
    assert parse("volgende week dinsdag", now=monday) == local(2026, 12, 15, 19)


def test_weekday_abbreviations_are_understood():
    assert parse("vr 20:00") == local(2026, 12, 11, 20)
    assert parse("fri 8pm") == local(2026, 12, 11, 20)


def test_a_weekday_with_a_date_that_does_not_match_is_not_guessed():
    assert parse("vrijdag 11 december") == local(2026, 12, 11, 19)
    assert parse("vrijdag 12 december") is None


# --- time of day alone ----------------------------------------------------------------------------


def test_a_time_alone_is_today_while_it_is_still_ahead():
    assert parse("20:00") == local(2026, 12, 9, 20)


def test_a_time_alone_that_has_passed_today_is_tomorrow():
    assert parse("9:00") == local(2026, 12, 10, 9)


def test_vanavond_at_night_is_not_pushed_to_tomorrow():
    assert parse("vanavond", now=ams(2026, 12, 9, 21)) is None


def test_vandaag_at_an_hour_that_has_passed_is_not_understood():
    assert parse("vandaag om 9:00") is None


def test_a_part_of_the_day_turns_a_small_hour_into_the_afternoon_or_evening():
    assert parse("morgenmiddag om 3 uur") == local(2026, 12, 10, 15)
    assert parse("morgenavond om 8") == local(2026, 12, 10, 20)
    assert parse("morgenochtend om 20:00") is None


def test_om_with_a_bare_hour_is_read_on_a_24_hour_clock():
    assert parse("morgen om 8") == local(2026, 12, 10, 8)
    assert parse("morgen om 20") == local(2026, 12, 10, 20)


# --- dates and the turn of the year ---------------------------------------------------------------


def test_a_january_date_typed_in_december_is_next_january():
    assert parse("3 januari") == local(2027, 1, 3, 19)
    assert parse("3 jan om 9:00", lang="en") == local(2027, 1, 3, 9)
    assert parse("3-1") == local(2027, 1, 3, 19)


def test_a_date_earlier_this_year_is_next_year():
    assert parse("3 maart") == local(2027, 3, 3, 19)
    assert parse("march 3") == local(2027, 3, 3, 19)


def test_todays_date_is_today_while_the_time_is_ahead_and_next_year_after():
    saturday_morning = ams(2026, 12, 12, 8)
    saturday_night = ams(2026, 12, 12, 22)
    assert parse("12 december", now=saturday_morning) == local(2026, 12, 12, 19)
    assert parse("12 december", now=saturday_night) == local(2027, 12, 12, 19)


def test_a_date_with_a_year_in_the_past_is_not_understood():
    assert parse("12/12/2025") is None
    assert parse("2026-12-08") is None


def test_a_two_digit_year_is_this_century():
    assert parse("12/12/26") == local(2026, 12, 12, 19)


def test_twelve_eleven_is_12_november_in_dutch_and_11_december_in_english():
    assert parse("12/11", lang="nl") == local(2027, 11, 12, 19)
    assert parse("12/11", lang="en") == local(2026, 12, 11, 19)


def test_a_numeric_date_that_only_reads_one_way_is_read_that_way_in_both_languages():
    assert parse("12/25", lang="nl") == local(2026, 12, 25, 19)
    assert parse("25/12", lang="en") == local(2026, 12, 25, 19)


def test_29_february_is_found_in_a_leap_year():
    assert parse("29 februari", now=ams(2027, 6, 1, 10)) == local(2028, 2, 29, 19)
    assert parse("29 februari") is None  # this year or next year only, and neither has one


# --- what is not a moment -------------------------------------------------------------------------

NONSENSE = [
    "",
    "   ",
    "nee",
    "geen idee",
    "blah vrijdag",
    "25:00",
    "vrijdag om 25:00",
    "om 24:00",
    "20:60",
    "13pm",
    "31 februari",
    "32 december",
    "12/13/14/15",
    "13/13",
    "morgen over 3 dagen",
    "morgen vrijdag",
    "volgende",
    "december",
    "over",
    "over 0 minuten",
    "in 99999999 days",
    "12/12/2099",
    "x" * 500,
]


@pytest.mark.parametrize("text", NONSENSE)
def test_what_is_not_a_moment_gives_none(text):
    assert parse(text) is None


# --- the buttons ----------------------------------------------------------------------------------


def test_the_presets_are_the_three_buttons():
    assert PRESETS == ("morgen", "weekend", "volgende-week")


@pytest.mark.parametrize(
    ("now", "preset", "expected"),
    [
        (NOW, "morgen", local(2026, 12, 10, 19)),
        (NOW, "weekend", local(2026, 12, 12, 19)),
        (NOW, "volgende-week", local(2026, 12, 14, 19)),
        (ams(2026, 12, 12, 10), "weekend", local(2026, 12, 12, 19)),  # Saturday morning
        (ams(2026, 12, 12, 21), "weekend", local(2026, 12, 13, 19)),  # Saturday night
        (ams(2026, 12, 13, 10), "weekend", local(2026, 12, 13, 19)),  # Sunday morning
        (ams(2026, 12, 13, 21), "weekend", local(2026, 12, 19, 19)),  # Sunday night
        (ams(2026, 12, 11, 23, 30), "weekend", local(2026, 12, 12, 19)),  # Friday, late
        (ams(2026, 12, 14, 10), "volgende-week", local(2026, 12, 21, 19)),  # on a Monday
        (ams(2026, 12, 13, 21), "volgende-week", local(2026, 12, 14, 19)),  # on a Sunday
        (ams(2026, 12, 31, 23, 30), "morgen", local(2027, 1, 1, 19)),  # new year's eve
    ],
)
def test_a_button_means(now, preset, expected):
    moment = preset_moment(preset, now, AMS, DEFAULT)
    assert moment == expected
    assert moment.tzinfo == AMS


def test_the_weekend_button_late_on_amsterdam_friday_counts_in_amsterdam_not_utc():
    # 00:30 on Saturday in Amsterdam is still Friday in UTC.
    assert preset_moment("weekend", ams(2026, 12, 12, 0, 30), AMS, DEFAULT) == local(
        2026, 12, 12, 19
    )


def test_an_unknown_button_is_a_programming_error():
    with pytest.raises(ValueError, match="morgen"):
        preset_moment("gisteren", NOW, AMS, DEFAULT)


def test_morgen_button_at_half_past_two_on_the_spring_forward_night_comes_at_three():
    saturday = ams(2027, 3, 27, 12)
    assert preset_moment("morgen", saturday, AMS, time(2, 30)) == local(2027, 3, 28, 3)


# --- the daily check-in ---------------------------------------------------------------------------


def test_daily_checkin_at_eight_pm_amsterdam_is_19_utc_in_winter_and_18_utc_in_summer():
    eight = time(20, 0)
    # Saturday 27 March 2027 is the last winter day; clocks go forward on Sunday 28 March.
    assert next_daily(eight, AMS, ams(2027, 3, 27, 12)) == datetime(2027, 3, 27, 19, tzinfo=UTC)
    assert next_daily(eight, AMS, ams(2027, 3, 27, 21)) == datetime(2027, 3, 28, 18, tzinfo=UTC)
    assert next_daily(eight, AMS, ams(2027, 3, 28, 21)) == datetime(2027, 3, 29, 18, tzinfo=UTC)


def test_daily_checkin_at_eight_pm_goes_back_to_19_utc_after_the_autumn_switch():
    eight = time(20, 0)
    # Clocks go back on Sunday 25 October 2026.
    assert next_daily(eight, AMS, ams(2026, 10, 24, 12)) == datetime(2026, 10, 24, 18, tzinfo=UTC)
    assert next_daily(eight, AMS, ams(2026, 10, 24, 21)) == datetime(2026, 10, 25, 19, tzinfo=UTC)
    assert next_daily(eight, AMS, ams(2026, 10, 25, 21)) == datetime(2026, 10, 26, 19, tzinfo=UTC)


@pytest.mark.parametrize(
    ("switch_day", "winter_after"),
    [
        (date(2026, 3, 29), False),
        (date(2026, 10, 25), True),
        (date(2027, 3, 28), False),
        (date(2027, 10, 31), True),
    ],
)
def test_daily_checkin_keeps_its_wall_clock_time_over_each_switch(switch_day, winter_after):
    before = datetime.combine(switch_day - timedelta(days=1), time(12), tzinfo=AMS)
    after = next_daily(time(20), AMS, before.astimezone(UTC) + timedelta(hours=12))
    assert after.astimezone(AMS).date() == switch_day
    assert after.astimezone(AMS).time() == time(20)
    assert after.hour == (19 if winter_after else 18)


def test_daily_checkin_at_half_past_two_on_the_spring_forward_night_comes_at_three():
    midnight = ams(2027, 3, 28, 0)
    moment = next_daily(time(2, 30), AMS, midnight)
    assert moment == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert moment.astimezone(AMS).time() == time(3, 0)
    # And the night after, it is 02:30 again.
    assert next_daily(time(2, 30), AMS, moment) == datetime(2027, 3, 29, 0, 30, tzinfo=UTC)


def test_daily_checkin_at_half_past_two_on_the_autumn_night_comes_once_the_first_time():
    midnight = ams(2026, 10, 25, 0)
    first = next_daily(time(2, 30), AMS, midnight)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time
    # Between the first and the second 02:30 the next check-in is the following night.
    assert next_daily(time(2, 30), AMS, first) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_daily_checkin_that_is_due_right_now_is_scheduled_for_tomorrow():
    now = datetime(2026, 12, 9, 19, 0, tzinfo=UTC)  # 20:00 in Amsterdam
    assert next_daily(time(20), AMS, now) == datetime(2026, 12, 10, 19, 0, tzinfo=UTC)


def test_daily_checkin_is_in_utc_and_follows_the_persons_zone():
    new_york = ZoneInfo("America/New_York")
    moment = next_daily(time(20), new_york, NOW)
    assert moment.tzinfo == UTC
    assert moment == datetime(2026, 12, 10, 1, 0, tzinfo=UTC)


def test_parse_moment_on_the_spring_forward_night_moves_past_the_gap():
    thursday = ams(2027, 3, 25, 12)
    assert parse("zondag 2:30", now=thursday) == local(2027, 3, 28, 3, 0)


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError):
        next_daily(time(20), AMS, datetime(2026, 12, 9, 9))


# --- clock times (the daily check-in question) ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20:00", time(20, 0)),
        ("20.00", time(20, 0)),
        ("20u", time(20, 0)),
        ("20u30", time(20, 30)),
        ("8:05", time(8, 5)),
        ("8 uur", time(8, 0)),
        ("8pm", time(20, 0)),
        ("8 PM", time(20, 0)),
        ("8:30 p.m.", time(20, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("20h", time(20, 0)),
        ("20h15", time(20, 15)),
        ("0:00", time(0, 0)),
        ("om 20:00", time(20, 0)),
        ("half negen", time(8, 30)),
        ("kwart over acht", time(8, 15)),
        ("8 uur 's avonds", time(20, 0)),
        ("eight o'clock", time(8, 0)),
    ],
)
def test_a_clock_time_is_read(text, expected):
    assert parse_clock(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "20", "25:00", "24:00", "20:60", "13pm", "0am", "vrijdag 20:00", "'s avonds", "acht", "x"],
)
def test_what_is_not_a_clock_time_gives_none(text):
    assert parse_clock(text) is None


# --- durations in flow files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
    ],
)
def test_a_duration_in_a_flow_file_is_read(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7 d", "7w", "-7d", "0d", "7.5d", "7D", " 7d", 7])
def test_a_bad_duration_in_a_flow_file_is_an_error_that_says_what_to_write(text):
    with pytest.raises(ValueError, match="7d, 12h, 90m"):
        parse_duration(text)


# --- quoting dates back ---------------------------------------------------------------------------


def test_a_date_is_quoted_without_the_year_dutch_lowercase_english_capitalised():
    written = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert format_date(written, "nl", AMS) == "3 maart"
    assert format_date(written, "en", AMS) == "3 March"
    assert format_date(written, "nl", AMS, with_year=True) == "3 maart 2026"
    assert format_date(written, "en-GB", AMS, with_year=True) == "3 March 2026"


def test_a_date_is_quoted_as_the_day_in_the_persons_zone_not_in_utc():
    late_on_the_second = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 00:30 on 3 March in Amsterdam
    assert format_date(late_on_the_second, "nl", AMS) == "3 maart"


def test_a_moment_is_quoted_with_weekday_date_and_time():
    moment = datetime(2025, 12, 5, 19, 0, tzinfo=UTC)
    assert format_moment(moment, "nl", AMS) == "vrijdag 5 december om 20:00"
    assert format_moment(moment, "en", AMS) == "Friday 5 December at 20:00"
    assert format_moment(moment, "nl", AMS, with_year=True) == "vrijdag 5 december 2025 om 20:00"


def test_an_unknown_language_is_quoted_in_dutch():
    moment = datetime(2025, 12, 5, 19, 0, tzinfo=UTC)
    assert format_moment(moment, "fr", AMS) == "vrijdag 5 december om 20:00"


def test_a_clock_time_is_quoted_with_two_digits():
    assert format_clock(time(20, 0)) == "20:00"
    assert format_clock(time(8, 5)) == "08:05"


def test_a_naive_datetime_is_refused_when_quoting():
    with pytest.raises(ValueError):
        format_date(datetime(2026, 3, 3), "nl", AMS)


# --- properties -----------------------------------------------------------------------------------

ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Amsterdam",
        "Europe/London",
        "America/New_York",
        "Australia/Lord_Howe",  # half-hour daylight saving
        "Pacific/Auckland",  # southern hemisphere
        "Asia/Kolkata",
        "UTC",
    )
]
nows = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda dt: dt.replace(tzinfo=UTC)
)
zones = st.sampled_from(ZONES)
langs = st.sampled_from(["nl", "en", "en-US", "de", ""])
WORDS = [
    *[text for text, _ in PHRASES],
    *NONSENSE[:-1],
    "om", "at", "op", "on", "in", "over", "de", "the", "'s", "van", "of", "next", "volgende",
    "volgend", "half", "kwart", "voor", "uur", "vandaag", "morgen", "tonight", "avond", "ochtend",
    "weekend", "week", "weken", "dagen", "days", "hours", "een", "a", "vrijdag", "zaterdag",
    "zondag", "maandag", "friday", "sunday", "december", "januari", "februari", "feb", "0", "1",
    "2", "3", "12", "13", "24", "29", "31", "59", "60", "2026", "2027", "9999", "8pm", "12am",
    "20u", "20h30", "10.30", "12-12", "12/12/2026", "2026-12-12", "12.12.2026", "1e", "2nd", "3rd",
]  # fmt: skip
texts = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
)


@given(text=texts, lang=langs, now=nows, tz=zones, default_time=st.times())
def test_parse_moment_never_raises_and_only_gives_moments_ahead(text, lang, now, tz, default_time):
    moment = parse_moment(text, lang, now, tz, default_time)
    if moment is not None:
        assert moment > now
        assert moment.tzinfo == tz


@given(text=texts)
def test_parse_clock_never_raises(text):
    assert parse_clock(text) is None or isinstance(parse_clock(text), time)


@given(clock=st.times(), now=nows, tz=zones)
def test_daily_checkin_is_the_next_time_the_clock_shows_that_time(clock, now, tz):
    moment = next_daily(clock, tz, now)
    assert moment.tzinfo == UTC
    assert now < moment <= now + timedelta(hours=26)
    wall = moment.astimezone(tz)
    if wall.time() != clock:
        # Only when the clock skips that time that day: then it is the first moment after.
        assert not exists(datetime.combine(wall.date(), clock, tzinfo=tz))
        assert wall.time() > clock


@given(
    now=nows,
    tz=zones,
    lang=st.sampled_from(["nl", "en"]),
    days_ahead=st.integers(min_value=1, max_value=300),
    clock=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_a_quoted_moment_reads_back_as_the_same_moment(now, tz, lang, days_ahead, clock):
    day = now.astimezone(tz).date() + timedelta(days=days_ahead)
    moment = datetime.combine(day, clock, tzinfo=tz)
    assume(exists(moment))
    assert parse_moment(format_moment(moment, lang, tz), lang, now, tz, DEFAULT) == moment


@given(n=st.integers(min_value=1, max_value=999_999), unit=st.sampled_from("dhm"))
def test_every_positive_duration_reads(n, unit):
    expected = {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]
    assert parse_duration(f"{n}{unit}") == expected
