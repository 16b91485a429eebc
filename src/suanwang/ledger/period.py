"""Periods of time for certificates and bulletins, in Beijing time (as China's statistics count).

Accepted forms: `2024` (a year), `2024-Q2` (a quarter), `2024-06` (a month), `2024-06-03` (a
day), `2024-06-01..2024-06-07` (days, both ends included). A period is half-open [start, end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from suanwang.errors import InputError

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # aware, inclusive
    end: datetime  # aware, exclusive
    label: str  # as the user wrote it

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def label_zh(self) -> str:
        return label_zh(self.label)

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(),
                "end_exclusive": self.end.isoformat()}


def _day(text: str, source: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(source, "--period", text, "not a day (YYYY-MM-DD)") from None


def _at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=BEIJING)


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str, source: str = "command line") -> Period:
    t = text.strip()
    if m := re.fullmatch(r"(\d{4})", t):
        y = int(m[1])
        return Period(_at(date(y, 1, 1)), _at(date(y + 1, 1, 1)), t)
    if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", t):
        y, q = int(m[1]), int(m[2])
        return Period(_at(_month_start(y, 3 * q - 2)), _at(_month_start(y, 3 * q + 1)),
                      f"{y}-Q{q}")
    if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12:
            raise InputError(source, "--period", text, "month must be 01..12")
        return Period(_at(_month_start(y, mo)), _at(_month_start(y, mo + 1)), t)
    if ".." in t:
        a, _, b = t.partition("..")
        d0, d1 = _day(a.strip(), source), _day(b.strip(), source)
        if d1 < d0:
            raise InputError(source, "--period", text, "the end day is before the start day")
        return Period(_at(d0), _at(d1 + timedelta(days=1)), t)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        d = _day(t, source)
        return Period(_at(d), _at(d + timedelta(days=1)), t)
    raise InputError(source, "--period", text,
                     "use 2024, 2024-Q2, 2024-06, 2024-06-03 or 2024-06-01..2024-06-07")


def label_zh(label: str) -> str:
    if m := re.fullmatch(r"(\d{4})", label):
        return f"{m[1]}年"
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", label):
        return f"{m[1]}年第{'一二三四'[int(m[2]) - 1]}季度"
    if m := re.fullmatch(r"(\d{4})-(\d{2})", label):
        return f"{m[1]}年{int(m[2])}月"
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", label):
        return f"{m[1]}年{int(m[2])}月{int(m[3])}日"
    if ".." in label:
        a, _, b = label.partition("..")
        return f"{label_zh(a.strip())}至{label_zh(b.strip())}"
    return label


def span_period(start: datetime, end: datetime) -> Period:
    """The period [start, end) labelled by its days (e.g. a whole run)."""
    last = (end - timedelta(seconds=1)).astimezone(BEIJING).date()
    first = start.astimezone(BEIJING).date()
    label = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
    return Period(start, end, label)


def beijing_iso(t: datetime) -> str:
    """`t` as an ISO time in Beijing time (+08:00), to the second, as every page shows times."""
    return t.astimezone(BEIJING).isoformat(timespec="seconds")


def hours_text(first_hour: str, last_hour: str) -> str:
    """The time an hour range covers, from the start of its first hour to the end of its last
    (ISO hour starts as the ledger writes them), in Beijing time: "2024-06-01 08:00 – 09:00
    (+08:00)" for one hour, "2024-06-01 08:00 – 2024-06-03 00:00 (+08:00)" across days."""
    start = datetime.fromisoformat(first_hour).astimezone(BEIJING)
    end = datetime.fromisoformat(last_hour).astimezone(BEIJING) + timedelta(hours=1)
    tail = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {tail} (+08:00)"
