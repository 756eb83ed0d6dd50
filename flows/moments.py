"""Dates and times as a person says them and reads them back, in Dutch and English.

Pure: nothing here reads the clock, the locale or a file. The current moment is always passed in as
`now` (an aware datetime, normally UTC) and the person's time zone as `tz` (a `ZoneInfo`).

Decisions worth knowing:

- A local wall-clock time that does not exist (the spring-forward gap, 02:30 in Amsterdam on the
  last Sunday of March) becomes the first valid moment after the gap (03:00). A wall-clock time
  that exists twice (autumn) is the first of the two (fold=0).
- `parse_moment` only returns moments strictly after `now`, and no further ahead than `MAX_AHEAD`;
  for anything else, or anything it does not understand, it returns None (it never raises on text).
  Where a phrase cannot be moved forward without changing its meaning ("vandaag om 8:00" said at
  10:00, "12/12/2025" said in 2026) the answer is None too, so the coach can ask again.
- A weekday ("vrijdag") is the next such day, today if it is that day and the time is still ahead.
  "next friday" / "volgende vrijdag" is the same but never today. "volgende week dinsdag" /
  "tuesday next week" is the Tuesday of the next calendar week (weeks start on Monday).
- "weekend" (the button and the text) is the first weekend moment at the chosen time that is still
  ahead: on Monday to Friday the coming Saturday; on Saturday before that time today, after it
  Sunday; on Sunday before that time today, after it next Saturday. "volgend weekend" /
  "next weekend" is the weekend of the next calendar week.
- A numeric date that reads both ways ("12/11") is day-month in Dutch and month-day in English;
  when only one reading is a date ("12/25") that one is taken, whatever the language.
- A bare hour after "om"/"at" ("om 8") is taken as written on a 24-hour clock (08:00), unless a part
  of the day says otherwise ("vanavond om 8" is 20:00).
- Languages are "nl" and "en" (a region such as "en-GB" is ignored); anything else is Dutch.
- `format_date` leaves out the year unless `with_year=True`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

PRESETS = ("morgen", "weekend", "volgende-week")

MORNING = time(9, 0)
AFTERNOON = time(14, 0)
EVENING = time(20, 0)

# A moment further ahead than this is a typo, not a plan.
MAX_AHEAD = timedelta(days=5 * 366)
# Longer text is not a moment; this also keeps the parser cheap on whatever a person pastes.
MAX_TEXT = 120

MONTHS_NL = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS_NL = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- wall-clock time in a zone --------------------------------------------------------------------


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _wall(moment: datetime, tz: tzinfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _at(day: date, clock: time, tz: tzinfo) -> datetime:
    """`clock` on `day` in `tz`: the first occurrence if it is ambiguous, the end of the gap if it
    does not exist."""
    wall = datetime.combine(day, clock.replace(tzinfo=None, fold=0))
    local = wall.replace(tzinfo=tz)
    if _wall(local.astimezone(UTC), tz) == wall:
        return local
    # In a gap: fold=0 and fold=1 give the two instants either side of the transition. Find the
    # first second whose wall-clock time is at or past the requested one, i.e. the gap's end.
    lo, hi = sorted(
        (int(local.timestamp()), int(local.replace(fold=1).timestamp()))
    )  # both whole seconds
    if _wall(datetime.fromtimestamp(lo, UTC), tz) >= wall:
        return datetime.fromtimestamp(lo, tz)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, tz)


def _first_ahead(days: Iterable[date], clock: time, tz: tzinfo, now: datetime) -> datetime | None:
    for day in days:
        moment = _at(day, clock, tz)
        if moment > now:
            return moment
    return None


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _weekend_days(today: date) -> list[date]:
    return [today + timedelta(days=k) for k in range(8) if (today.weekday() + k) % 7 >= 5]


def _lang(lang: str) -> str:
    return "en" if str(lang).lower().replace("_", "-").split("-")[0] == "en" else "nl"


# --- buttons and daily check-ins ------------------------------------------------------------------


def preset_moment(preset: str, now: datetime, tz: tzinfo, default_time: time) -> datetime:
    """The moment a button in PRESETS stands for, as an aware datetime in `tz`.

    morgen: tomorrow at default_time. weekend: see the module docstring. volgende-week: Monday of
    next week at default_time. An unknown preset is a programming error (ValueError).
    """
    now = _utc(now)
    today = now.astimezone(tz).date()
    moment: datetime | None
    if preset == "morgen":
        moment = _at(today + timedelta(days=1), default_time, tz)
    elif preset == "weekend":
        moment = _first_ahead(_weekend_days(today), default_time, tz, now)
    elif preset == "volgende-week":
        moment = _at(_next_monday(today), default_time, tz)
    else:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    assert moment is not None  # a weekend within 8 days always has a moment ahead
    return moment


def next_daily(clock: time, tz: tzinfo, now: datetime) -> datetime:
    """The next moment strictly after `now` at which the wall clock in `tz` shows `clock`, in UTC.

    A time in the spring-forward gap moves to the end of the gap; on the autumn day a time that
    occurs twice is only used once, the first time.
    """
    now = _utc(now)
    day = now.astimezone(tz).date() - timedelta(days=1)
    while True:
        moment = _at(day, clock, tz).astimezone(UTC)
        if moment > now:
            return moment
        day += timedelta(days=1)


# --- durations (flow files) -----------------------------------------------------------------------

_DURATION = re.compile(r"([1-9][0-9]{0,5})([dhm])")
_DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """A duration in a flow file: "7d", "30d", "12h", "90m", a positive whole number and one unit
    (d, h, m). ValueError otherwise."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a whole number and d, h or m, such as 7d, 12h, 90m"
        )
    return timedelta(**{_DURATION_UNITS[match[2]]: int(match[1])})


# --- formatting -----------------------------------------------------------------------------------


def format_clock(t: time) -> str:
    """20:00, 08:05."""
    return f"{t.hour:02d}:{t.minute:02d}"


def format_date(dt: datetime, lang: str, tz: tzinfo, *, with_year: bool = False) -> str:
    """A date: "3 maart" / "3 March" (with the year only when asked: "3 maart 2026")."""
    local = _local(dt, tz)
    months = MONTHS_EN if _lang(lang) == "en" else MONTHS_NL
    text = f"{local.day} {months[local.month - 1]}"
    return f"{text} {local.year}" if with_year else text


def format_moment(dt: datetime, lang: str, tz: tzinfo, *, with_year: bool = False) -> str:
    """A day and time: "vrijdag 5 december om 20:00" / "Friday 5 December at 20:00"."""
    local = _local(dt, tz)
    day = format_date(local, lang, tz, with_year=with_year)
    clock = format_clock(local.time())
    if _lang(lang) == "en":
        return f"{WEEKDAYS_EN[local.weekday()]} {day} at {clock}"
    return f"{WEEKDAYS_NL[local.weekday()]} {day} om {clock}"


def _local(dt: datetime, tz: tzinfo) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("dt must be timezone-aware")  # a naive one would need the system zone
    return dt.astimezone(tz)


# --- reading what a person typed ------------------------------------------------------------------

_MONTH_WORDS: dict[str, int] = {
    **{name: i + 1 for i, name in enumerate(MONTHS_NL)},
    **{name.lower(): i + 1 for i, name in enumerate(MONTHS_EN)},
    **{"jan": 1, "feb": 2, "febr": 2, "mrt": 3, "mar": 3, "maa": 3, "apr": 4, "jun": 6, "jul": 7},
    **{"aug": 8, "sep": 9, "sept": 9, "okt": 10, "oct": 10, "nov": 11, "dec": 12},
}
_WEEKDAY_WORDS: dict[str, int] = {
    **{name: i for i, name in enumerate(WEEKDAYS_NL)},
    **{name.lower(): i for i, name in enumerate(WEEKDAYS_EN)},
    **{"ma": 0, "di": 1, "wo": 2, "do": 3, "vr": 4, "vrij": 4, "za": 5, "zat": 5, "zo": 6},
    **{"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4},
    **{"sat": 5, "sun": 6},
}
_DAYS_AHEAD = {"vandaag": 0, "today": 0, "morgen": 1, "tomorrow": 1, "overmorgen": 2}
_PARTS = {
    "ochtend": "morning", "sochtends": "morning", "smorgens": "morning", "morning": "morning",
    "middag": "afternoon", "smiddags": "afternoon", "afternoon": "afternoon",
    "avond": "evening", "savonds": "evening", "evening": "evening", "night": "evening",
}  # fmt: skip
_PART_TIMES = {"morning": MORNING, "afternoon": AFTERNOON, "evening": EVENING}
# "vrijdagavond", "morgenochtend", "vanavond": a day and a part of the day in one word.
_COMPOUND_PARTS = {
    "ochtend": "morning",
    "morgen": "morning",
    "middag": "afternoon",
    "avond": "evening",
}
_NUMBER_WORDS = {
    "een": 1, "één": 1, "eén": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6,
    "zeven": 7, "acht": 8, "negen": 9, "tien": 10, "elf": 11, "twaalf": 12, "dertien": 13,
    "veertien": 14, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14,
}  # fmt: skip
_HOUR_WORDS = {word: n for word, n in _NUMBER_WORDS.items() if n <= 12 and word not in ("a", "an")}
_UNITS = {
    "dag": "days", "dagen": "days", "day": "days", "days": "days",
    "week": "weeks", "weken": "weeks", "weeks": "weeks",
    "uur": "hours", "uren": "hours", "hour": "hours", "hours": "hours",
    "minuut": "minutes", "minuten": "minutes", "minute": "minutes", "minutes": "minutes",
    "min": "minutes", "mins": "minutes",
}  # fmt: skip
_OFFSET_PHRASES = (
    (("een", "half", "uur"), timedelta(minutes=30)),
    (("half", "an", "hour"), timedelta(minutes=30)),
    (("half", "uur"), timedelta(minutes=30)),
    (("anderhalf", "uur"), timedelta(minutes=90)),
    (("een", "kwartier"), timedelta(minutes=15)),
    (("kwartier",), timedelta(minutes=15)),
)
_AT_WORDS = ("om", "at", "rond", "around", "omstreeks", "tegen")
_FILLERS = frozenset(
    {"op", "on", "de", "het", "the", "in", "this", "dit", "deze", "komende", "komend", "coming"}
    | {"aanstaande", "a.s", "upcoming", *_AT_WORDS}
)

_CLOCK_24 = re.compile(r"([0-9]{1,2})[:.]([0-9]{2})(?:uur|u|h)?")
_CLOCK_12 = re.compile(r"([0-9]{1,2})(?:[:.]([0-9]{2}))?([ap])m")
_CLOCK_HOUR = re.compile(r"([0-9]{1,2})(?:uur|u|h)([0-9]{2})?")
_GLUED_HOURS = re.compile(r"([0-9]{1,4})(?:uur|u|h)")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_NUM_DATE_YEAR = re.compile(r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4}|[0-9]{2})")
_NUM_DATE = re.compile(r"([0-9]{1,2})[-/]([0-9]{1,2})")
_DAY_OF_MONTH = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th|e|ste|de)?")
_YEAR = re.compile(r"[0-9]{4}")


class _NotUnderstood(Exception):
    pass


@dataclass
class _Said:
    """What a text says, slot by slot; a slot said twice means the text is not understood."""

    days_ahead: int | None = None  # vandaag, morgen, over 3 dagen
    delta: timedelta | None = None  # over 2 uur: exactly that long from now
    weekday: int | None = None
    skip_today: bool = False  # next friday
    next_week: bool = False  # volgende week
    weekend: int | None = None  # 0: this weekend, 1: next weekend
    date: tuple[str, int, int, int | None] | None = None  # ("dm"|"either", a, b, year)
    clock: time | None = None
    part: str | None = None  # morning | afternoon | evening

    def put(self, **slots: object) -> None:
        for name, value in slots.items():
            current = getattr(self, name)
            if current is not None and current is not False:  # 0 is Monday, or today: said
                raise _NotUnderstood
            setattr(self, name, value)

    def says_a_day(self) -> bool:
        return any(
            (
                self.days_ahead is not None,
                self.delta is not None,
                self.weekday is not None,
                self.next_week,
                self.weekend is not None,
                self.date is not None,
            )
        )


def _tokens(text: str) -> list[str]:
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise _NotUnderstood
    s = text.casefold()
    s = re.sub(r"[’‘`´]", "'", s)
    s = re.sub(r"[,;!?()\"]", " ", s)
    s = re.sub(r"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})t(?=[0-9])", r"\1 ", s)  # 2026-12-12T09:00
    s = re.sub(r"(?:^|(?<=\s))'?s ?(ochtends|morgens|middags|avonds|nachts)\b", r"s\1", s)
    s = re.sub(r"\bo'? ?clock\b", " uur", s)
    s = re.sub(r"\b([0-9]{1,2}(?:[:.][0-9]{2})?) ?([ap])\.? ?m\b\.?", r"\1\2m", s)  # 8 p.m.
    s = re.sub(r"\b([0-9]{1,2}(?:[:.][0-9]{2})?) (uur|u|h)\b", r"\1\2", s)  # 8 uur
    return [tok for raw in s.split() if (tok := raw.rstrip("."))]


def _number(tok: str) -> int | None:
    if re.fullmatch(r"[0-9]{1,4}", tok):
        return int(tok)
    return _NUMBER_WORDS.get(tok)


def _hour(tok: str) -> int | None:
    if re.fullmatch(r"[0-9]{1,2}", tok) and int(tok) <= 23:
        return int(tok)
    return _HOUR_WORDS.get(tok)


def _clock_token(tok: str) -> time | None:
    if match := _CLOCK_24.fullmatch(tok):
        hour, minute = int(match[1]), int(match[2])
    elif match := _CLOCK_12.fullmatch(tok):
        hour, minute = int(match[1]), int(match[2] or 0)
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match[3] == "p" else 0)
    elif match := _CLOCK_HOUR.fullmatch(tok):
        hour, minute = int(match[1]), int(match[2] or 0)
    else:
        return None
    return time(hour, minute) if hour <= 23 and minute <= 59 else None


def _day_word(tok: str) -> tuple[str, int, str | None] | None:
    """("ahead", n, part) or ("weekday", n, part) for one word such as morgen or vrijdagavond."""
    if tok in _DAYS_AHEAD:
        return "ahead", _DAYS_AHEAD[tok], None
    if tok == "tonight":
        return "ahead", 0, "evening"
    if tok in _WEEKDAY_WORDS:
        return "weekday", _WEEKDAY_WORDS[tok], None
    for suffix, part in _COMPOUND_PARTS.items():
        prefix = tok.removesuffix(suffix)
        if prefix == tok or not prefix:
            continue
        if prefix == "van":
            return "ahead", 0, part
        if prefix in ("morgen", "overmorgen"):
            return "ahead", _DAYS_AHEAD[prefix], part
        if prefix in WEEKDAYS_NL:
            return "weekday", WEEKDAYS_NL.index(prefix), part
    return None


def _put_day_word(said: _Said, word: tuple[str, int, str | None], skip_today: bool) -> None:
    kind, value, part = word
    if kind == "ahead":
        if skip_today:
            raise _NotUnderstood  # "next tomorrow"
        said.put(days_ahead=value)
    else:
        said.put(weekday=value, skip_today=skip_today)
    if part is not None:
        said.put(part=part)


def _get(toks: list[str], i: int) -> str:
    return toks[i] if i < len(toks) else ""


def _read_offset(toks: list[str], i: int, said: _Said) -> int:
    if toks[i] not in ("over", "in"):
        return 0
    for phrase, delta in _OFFSET_PHRASES:
        if tuple(toks[i + 1 : i + 1 + len(phrase)]) == phrase:
            said.put(delta=delta)
            return 1 + len(phrase)
    if match := _GLUED_HOURS.fullmatch(_get(toks, i + 1)):  # over 2uur
        said.put(delta=timedelta(hours=int(match[1])))
        return 2
    n, unit = _number(_get(toks, i + 1)), _UNITS.get(_get(toks, i + 2))
    if n is None or unit is None:
        return 0
    if unit in ("days", "weeks"):
        days = n * 7 if unit == "weeks" else n
        if days > MAX_AHEAD.days:
            raise _NotUnderstood
        said.put(days_ahead=days)
    else:
        said.put(delta=timedelta(**{unit: n}))
    return 3


def _read_day_after_tomorrow(toks: list[str], i: int, said: _Said) -> int:
    if toks[i : i + 3] != ["day", "after", "tomorrow"]:
        return 0
    said.put(days_ahead=2)
    return 3


def _read_next(toks: list[str], i: int, said: _Said) -> int:
    if toks[i] not in ("volgende", "volgend", "next"):
        return 0
    following = _get(toks, i + 1)
    if following == "week":
        said.put(next_week=True)
    elif following == "weekend":
        said.put(weekend=1)
    elif (word := _day_word(following)) is not None:
        _put_day_word(said, word, skip_today=True)
    else:
        return 0
    return 2


def _day_of_month(tok: str) -> int | None:
    match = _DAY_OF_MONTH.fullmatch(tok)
    return int(match[1]) if match and 1 <= int(match[1]) <= 31 else None


def _read_date(toks: list[str], i: int, said: _Said) -> int:
    tok = toks[i]
    if match := _ISO_DATE.fullmatch(tok):
        said.put(date=("dm", int(match[3]), int(match[2]), int(match[1])))
        return 1
    if match := _NUM_DATE_YEAR.fullmatch(tok):
        full_year = int(match[3]) + (2000 if len(match[3]) == 2 else 0)
        said.put(date=("either", int(match[1]), int(match[2]), full_year))
        return 1
    if match := _NUM_DATE.fullmatch(tok):
        said.put(date=("either", int(match[1]), int(match[2]), None))
        return 1
    day: int | None
    month: int | None
    if (day := _day_of_month(tok)) is not None:  # 12 december, 12th of december
        j = i + 2 if _get(toks, i + 1) == "of" else i + 1
        month = _MONTH_WORDS.get(_get(toks, j))
        if month is None:
            return 0
    elif (month := _MONTH_WORDS.get(tok)) is not None:  # december 12
        j = i + 1
        day = _day_of_month(_get(toks, j))
        if day is None:
            return 0
    else:
        return 0
    year = int(toks[j + 1]) if _YEAR.fullmatch(_get(toks, j + 1)) else None
    said.put(date=("dm", day, month, year))
    return j + 1 - i + (year is not None)


def _read_clock(toks: list[str], i: int, said: _Said) -> int:
    tok = toks[i]
    if (clock := _clock_token(tok)) is not None:
        said.put(clock=clock)
        return 1
    if tok == "noon":
        said.put(clock=time(12, 0))
        return 1
    if tok in _AT_WORDS and (hour := _hour(_get(toks, i + 1))) is not None:  # om 8, at eight
        said.put(clock=time(hour, 0))
        return 3 if _get(toks, i + 2) == "uur" else 2
    if tok in _HOUR_WORDS and _get(toks, i + 1) == "uur":  # acht uur
        said.put(clock=time(_HOUR_WORDS[tok], 0))
        return 2
    if tok == "half" and (hour := _hour(_get(toks, i + 1))):  # half negen: 8:30
        said.put(clock=time(hour - 1, 30))
        return 2
    if tok == "kwart" and _get(toks, i + 1) in ("over", "voor"):
        hour = _hour(_get(toks, i + 2))
        if hour is None:
            return 0
        if _get(toks, i + 1) == "over":
            said.put(clock=time(hour, 15))
        elif hour >= 1:
            said.put(clock=time(hour - 1, 45))
        else:
            return 0
        return 3
    return 0


def _read_word(toks: list[str], i: int, said: _Said) -> int:
    tok = toks[i]
    if (word := _day_word(tok)) is not None:
        _put_day_word(said, word, skip_today=False)
    elif tok in _PARTS:
        said.put(part=_PARTS[tok])
    elif tok == "weekend":
        said.put(weekend=0)
    elif tok in _FILLERS:
        pass
    else:
        return 0
    return 1


_READERS = (
    _read_offset,
    _read_day_after_tomorrow,
    _read_next,
    _read_date,
    _read_clock,
    _read_word,
)


def _read(text: str) -> _Said:
    toks = _tokens(text)
    said = _Said()
    i = 0
    while i < len(toks):
        for reader in _READERS:
            if taken := reader(toks, i, said):
                i += taken
                break
        else:
            raise _NotUnderstood
    return said


def _clock_of(said: _Said) -> time | None:
    """The time of day the text names (a part of the day shifts "8" to the evening)."""
    clock, part = said.clock, said.part
    if clock is None or part is None:
        return clock
    if part == "morning":
        return clock if clock.hour < 12 else None
    if 1 <= clock.hour < 12:
        return clock.replace(hour=clock.hour + 12)
    return clock if clock.hour >= 12 else None


def parse_clock(text: str) -> time | None:
    """A time of day: "20:00", "20.00", "20u", "8:05", "8 uur", "8pm", "20h", "half negen",
    "8 uur 's avonds". None for anything else, including a day or an impossible time."""
    try:
        said = _read(text)
    except _NotUnderstood:
        return None
    if said.says_a_day():
        return None
    return _clock_of(said)


def parse_moment(
    text: str, lang: str, now: datetime, tz: tzinfo, default_time: time
) -> datetime | None:
    """The moment a person means, in Dutch or English, as an aware datetime in `tz` strictly after
    `now`; None when the text does not name one. `lang` only settles numeric dates such as 12/11.
    """
    now = _utc(now)
    try:
        said = _read(text)
    except _NotUnderstood:
        return None
    moment = _moment(said, _lang(lang), now, tz, default_time)
    if moment is None or not now < moment <= now + MAX_AHEAD:
        return None
    return moment.astimezone(tz)


# Words before a length or an end ("tot maandag", "voor een week") that change nothing.
_UNTIL_WORDS = frozenset({"tot", "until", "till", "to", "voor", "for", "gedurende"})


def parse_until(
    text: str, lang: str, now: datetime, tz: tzinfo, default_time: time
) -> datetime | None:
    """The end of a length or a moment a person names ("1 week", "3 dagen", "tot maandag",
    "until friday"), as `parse_moment` reads it; a bare length counts from now ("3 dagen" is
    "over 3 dagen"). None when the text names neither."""
    words = text.split()
    if words and words[0].casefold() in _UNTIL_WORDS:
        words = words[1:]
    if len(words) == 2 and _number(words[0].casefold()) is not None and words[1] in _UNITS:
        words = ["over", *words]
    return parse_moment(" ".join(words), lang, now, tz, default_time) if words else None


def _moment(
    said: _Said, lang: str, now: datetime, tz: tzinfo, default_time: time
) -> datetime | None:
    if said.delta is not None:
        alone = _Said(delta=said.delta)
        return now + said.delta if said == alone else None
    if said.clock is not None:
        clock = _clock_of(said)
        if clock is None:
            return None
    elif said.part is not None:
        clock = _PART_TIMES[said.part]
    else:
        clock = default_time
    today = now.astimezone(tz).date()
    weekday = said.weekday

    def days_from(first: int, last: int) -> list[date]:
        return [today + timedelta(days=k) for k in range(first, last + 1)]

    if said.date is not None:
        if said.days_ahead is not None or said.next_week or said.weekend is not None:
            return None
        moment = _date_moment(said.date, lang, today, clock, tz, now)
    elif said.days_ahead is not None:
        if said.next_week or said.weekend is not None:
            return None
        moment = _at(today + timedelta(days=said.days_ahead), clock, tz)
    elif said.next_week:
        if said.weekend is not None:
            return None
        monday = _next_monday(today)
        return _at(monday + timedelta(days=weekday or 0), clock, tz)
    elif said.weekend is not None:
        if weekday is not None and weekday < 5:
            return None
        if said.weekend == 1:
            saturday = _next_monday(today) + timedelta(days=5)
            return _at(saturday + timedelta(days=(weekday or 5) - 5), clock, tz)
        if weekday is None:
            return _first_ahead(_weekend_days(today), clock, tz, now)
        moment = None  # a weekend day: the weekday rule below
    elif weekday is None:
        # Only a time of day: today if it is still ahead, else tomorrow.
        if said.clock is None and said.part is None:
            return None
        return _first_ahead(days_from(0, 1), clock, tz, now)
    else:
        moment = None
    if weekday is None:
        return moment
    if moment is not None:
        return moment if moment.weekday() == weekday else None  # "vrijdag 12 december"
    days = [d for d in days_from(1 if said.skip_today else 0, 8) if d.weekday() == weekday]
    return _first_ahead(days, clock, tz, now)


def _date_moment(
    said_date: tuple[str, int, int, int | None],
    lang: str,
    today: date,
    clock: time,
    tz: tzinfo,
    now: datetime,
) -> datetime | None:
    order, a, b, year = said_date
    if order == "dm":
        readings = [(a, b)]
    else:
        day_month, month_day = (a, b), (b, a)
        readings = [day_month, month_day] if lang == "nl" else [month_day, day_month]
        readings = [(d, m) for d, m in readings if 1 <= m <= 12]
        readings = readings[:1]  # a reading that is a date wins; else the language decides
    if not readings:
        return None
    day, month = readings[0]
    if year is not None and not today.year <= year <= today.year + MAX_AHEAD.days // 365:
        return None
    for candidate_year in [year] if year is not None else [today.year, today.year + 1]:
        try:
            moment = _at(date(candidate_year, month, day), clock, tz)
        except ValueError:  # 31 februari
            continue
        if moment > now:
            return moment
    return None
