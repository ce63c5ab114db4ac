"""Text-parsing library: settings files, durations, slugs, truncation and timesheet summaries."""

from __future__ import annotations

import random
import re

from arena.types import Split

from ..library import LibrarySpec, Site, SpecTest

INIT = '''\
"""$pkg: settings files, durations, slugs and timesheet summaries."""

from .config import ConfigError, $get_int, $parse_config
from .durations import $format_duration, $parse_duration
from .text import $slugify, $truncate
from .timesheet import $summarise
'''

CONFIG = '''\
"""Reading simple `key = value` settings files."""

from __future__ import annotations


class ConfigError(ValueError):
    """A settings line that cannot be read."""


def $parse_config(text: str) -> dict[str, str]:
    """Parse `key = value` lines into a dict.

    Blank lines and lines starting with "#" are skipped. Keys are lower-cased; keys and values
    are stripped of surrounding spaces; a later line overrides an earlier one. A line without
    "=" raises ConfigError naming its line number, counting from 1.
    """
    settings: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"line {number}: expected key = value, got {raw!r}")
        settings[key.strip().lower()] = value.strip()
    return settings


def $get_int(settings: dict[str, str], key: str, default: int) -> int:
    """The integer setting `key`; `default` when it is missing or set to an empty value."""
    value = settings.get(key, "")
    if value == "":
        return default
    return int(value)
'''

DURATIONS = '''\
"""Durations written like "1h30m", "90m" or "2h"."""

from __future__ import annotations

import re

_PART = re.compile(r"(\\d+)([hm])")


def $parse_duration(text: str) -> int:
    """Minutes in a duration such as "1h30m", "90m" or "2h"; raises ValueError for anything else."""
    text = text.strip().lower()
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(number) * (60 if unit == "h" else 1) for number, unit in parts)


def $format_duration(minutes: int) -> str:
    """Minutes as hours and minutes: 125 -> "2h05m"; under an hour just minutes: 45 -> "45m"."""
    hours, rest = divmod(minutes, 60)
    if hours == 0:
        return f"{rest}m"
    return f"{hours}h{rest:02d}m"
'''

TEXT = '''\
"""Small text helpers for titles, labels and table cells."""

from __future__ import annotations

import re
import unicodedata


def $slugify(title: str, sep: str = "-") -> str:
    """URL-friendly form of a title: ASCII, lower case, words joined by `sep` (a hyphen by default)."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text.lower())
    return sep.join(words)


def $truncate(text: str, width: int, suffix: str = "...") -> str:
    """Shorten `text` to at most `width` characters, ending in `suffix` when it is cut.

    Text that fits (length <= width) is returned unchanged.
    """
    if len(text) <= width:
        return text
    return text[: width - len(suffix)].rstrip() + suffix
'''

TIMESHEET = '''\
"""Timesheet summaries from lines like "2024-03-05; Project name; 1h30m"."""

from __future__ import annotations

from .durations import $format_duration, $parse_duration
from .text import $truncate


def $summarise(text: str, width: int) -> list[str]:
    """Total time per project, one line each: the project name truncated to `width` characters,
    two spaces, then the total ("2h05m").

    Projects appear in the order they are first seen; blank lines and "#" comments are skipped.
    """
    totals: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        _day, project, duration = (part.strip() for part in line.split(";"))
        totals[project] = totals.get(project, 0) + $parse_duration(duration)
    return [f"{$truncate(name, width)}  {$format_duration(total)}" for name, total in totals.items()]
'''

HEADER = '''\
"""Tests for $pkg.$area."""

import pytest

'''

HEADERS = {
    "config": HEADER + "from $pkg.config import ConfigError, $get_int, $parse_config\n",
    "durations": HEADER + "from $pkg.durations import $format_duration, $parse_duration\n",
    "text": HEADER + "from $pkg.text import $slugify, $truncate\n",
    "timesheet": HEADER + "from $pkg.timesheet import $summarise\n",
}

SITES = (
    Site(
        "blank_lines", "missed_edge_case", "config.py",
        '        if not line or line.startswith("#"):\n            continue\n        key, sep',
        '        if line.startswith("#"):\n            continue\n        key, sep',
    ),
    Site(
        "line_number", "off_by_one", "config.py",
        "    for number, raw in enumerate(text.splitlines(), start=1):\n",
        "    for number, raw in enumerate(text.splitlines()):\n",
    ),
    Site(
        "empty_value", "missed_edge_case", "config.py",
        '    value = settings.get(key, "")\n    if value == "":\n        return default\n',
        '    value = settings.get(key, "")\n',
    ),
    Site(
        "divmod_args", "swapped_args", "durations.py",
        "    hours, rest = divmod(minutes, 60)\n",
        "    hours, rest = divmod(60, minutes)\n",
    ),
    Site(
        "slug_default", "wrong_default", "text.py",
        'def $slugify(title: str, sep: str = "-") -> str:\n',
        'def $slugify(title: str, sep: str = "_") -> str:\n',
    ),
    Site(
        "fits_exactly", "comparison", "text.py",
        "    if len(text) <= width:\n",
        "    if len(text) < width:\n",
    ),
    Site(
        "cut_width", "off_by_one", "text.py",
        "    return text[: width - len(suffix)].rstrip() + suffix\n",
        "    return text[: width - len(suffix) + 1].rstrip() + suffix\n",
    ),
)

TESTS = (
    SpecTest("config", '''
def test_${parse_config}_reads_keys_and_values():
    text = "# $app settings\\n$key1 = $val1\\n$Key2=$val2\\n"
    assert $parse_config(text) == {"$key1": "$val1", "$key2": "$val2"}
'''),
    SpecTest("config", '''
def test_${parse_config}_skips_blank_lines():
    text = "$key1 = $val1\\n\\n   \\n$key2 = $val2\\n"
    assert $parse_config(text) == {"$key1": "$val1", "$key2": "$val2"}
''', direct=frozenset({"blank_lines"})),
    SpecTest("config", '''
def test_${parse_config}_reports_line_number():
    text = "# $app settings\\n$key1 = $val1\\n$bad_line\\n"
    with pytest.raises(ConfigError, match="line 3"):
        $parse_config(text)
''', direct=frozenset({"line_number"})),
    SpecTest("config", '''
def test_${get_int}_present_missing_and_empty():
    settings = {"$int_key": "$int_val", "$empty_key": ""}
    assert $get_int(settings, "$int_key", $int_default) == $int_val
    assert $get_int(settings, "$missing_key", $int_default) == $int_default
    assert $get_int(settings, "$empty_key", $int_default) == $int_default
''', direct=frozenset({"empty_value"})),
    SpecTest("config", '''
def test_${get_int}_from_file():
    settings = $parse_config("$key1 = $val1\\n\\n$int_key = $int_val\\n")
    assert $get_int(settings, "$int_key", $int_default) == $int_val
    assert $get_int(settings, "$missing_key", $int_default) == $int_default
''', indirect=frozenset({"blank_lines", "empty_value"})),
    SpecTest("durations", '''
def test_${parse_duration}_forms():
    assert $parse_duration("$dur_text") == $dur_minutes
    assert $parse_duration("$minutes_only_text") == $minutes_only
    with pytest.raises(ValueError):
        $parse_duration("$bad_duration")
'''),
    SpecTest("durations", '''
def test_${format_duration}_hours_and_minutes():
    assert $format_duration($fmt_minutes) == "$fmt_text"
    assert $format_duration($short_minutes) == "${short_minutes}m"
''', direct=frozenset({"divmod_args"})),
    SpecTest("text", '''
def test_${slugify}_default_separator():
    assert $slugify("$title") == "$slug"
''', direct=frozenset({"slug_default"})),
    SpecTest("text", '''
def test_${slugify}_custom_separator():
    assert $slugify("$title", sep="_") == "$slug_underscore"
'''),
    SpecTest("text", '''
def test_${truncate}_keeps_text_that_fits_exactly():
    assert $truncate("$fit_text", $fit_width) == "$fit_text"
''', direct=frozenset({"fits_exactly"})),
    SpecTest("text", '''
def test_${truncate}_cuts_to_width():
    result = $truncate("$long_text", $cut_width)
    assert result == "$cut_text"
    assert len(result) <= $cut_width
''', direct=frozenset({"cut_width"})),
    SpecTest("timesheet", '''
def test_${summarise}_totals_per_project():
    text = (
        "$day1; $project_a; $entry_a1\\n"
        "$day1; $project_b; $entry_b1\\n"
        "\\n"
        "# $day2\\n"
        "$day2; $project_a; $entry_a2\\n"
    )
    assert $summarise(text, $sheet_width) == ["$line_a", "$line_b"]
''', indirect=frozenset({"divmod_args", "fits_exactly", "cut_width"})),
)

PACKAGES: dict[Split, tuple[str, ...]] = {
    "dev": ("textkit", "parsely", "lineparse", "wordsmith_tools", "plaintext_utils"),
    "test": ("strutil", "scribe", "tokenworks", "textual_helpers", "parsekit"),
}

NAMES = {
    "parse_config": ("parse_config", "read_settings", "load_config", "parse_settings"),
    "get_int": ("get_int", "int_setting", "setting_int", "read_int"),
    "parse_duration": ("parse_duration", "duration_minutes", "to_minutes", "minutes_from_text"),
    "format_duration": ("format_duration", "duration_text", "minutes_to_text", "human_duration"),
    "slugify": ("slugify", "make_slug", "url_slug", "to_slug"),
    "truncate": ("truncate", "shorten", "ellipsize", "clip_text"),
    "summarise": ("summarise_timesheet", "project_totals", "timesheet_summary", "hours_by_project"),
}

APPS: dict[Split, tuple[str, ...]] = {"dev": ("mailer", "backup", "crawler"), "test": ("indexer", "scheduler", "sync")}
KEYS: dict[Split, tuple[str, ...]] = {
    "dev": ("host", "user", "log_level", "output_dir", "region", "queue"),
    "test": ("endpoint", "owner", "verbosity", "cache_dir", "zone", "channel"),
}
WORDS: dict[Split, tuple[str, ...]] = {
    "dev": ("Quarterly", "Report", "Café", "Opening", "Hours", "Winter", "Sale", "Roadmap", "Déjà", "Vu", "Notes"),
    "test": ("Annual", "Review", "Crème", "Brûlée", "Recipe", "Summer", "Launch", "Plan", "Naïve", "Budget", "Memo"),
}
PROJECTS: dict[Split, tuple[str, ...]] = {
    "dev": ("Website relaunch", "Customer onboarding portal", "Data migration", "Internal audit support"),
    "test": ("Mobile app redesign", "Warehouse automation study", "Payroll integration", "Security review"),
}


def slugify(title: str, sep: str = "-") -> str:
    import unicodedata

    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return sep.join(re.findall(r"[a-z0-9]+", text.lower()))


def truncate(text: str, width: int, suffix: str = "...") -> str:
    return text if len(text) <= width else text[: width - len(suffix)].rstrip() + suffix


def format_duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{rest}m" if hours == 0 else f"{hours}h{rest:02d}m"


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest}m" if hours and rest else (f"{hours}h" if hours else f"{rest}m")


def _cut_case(rng: random.Random, words: tuple[str, ...]) -> tuple[str, int]:
    """A text and a width where cutting one character later would change the result."""
    while True:
        text = " ".join(rng.sample(words, 4))
        width = rng.randint(8, len(text) - 2)
        if text[width - 3] != " " and text[width - 4] != " ":
            return text, width


def _project_pair(rng: random.Random, names: tuple[str, ...]) -> tuple[str, str]:
    """Two project names: the longer one, cut to the shorter one's length, loses a letter, not a space."""
    while True:
        first, second = rng.sample(names, 2)
        long_name, short_name = (first, second) if len(first) > len(second) else (second, first)
        if len(long_name) > len(short_name) and long_name[len(short_name) - 3] != " ":
            return long_name, short_name


def values(rng: random.Random, split: Split) -> dict[str, str]:
    key1, key2, int_key, empty_key, missing_key = rng.sample(KEYS[split], 5)
    val1, val2 = f"{rng.choice(('alpha', 'north', 'primary'))}-{rng.randint(1, 9)}", str(rng.randint(10, 999))
    words = WORDS[split]
    title = " ".join(rng.sample(words, 3)) + f" {rng.randint(2019, 2030)}"
    fit_text = " ".join(rng.sample(words, 2))
    long_text, cut_width = _cut_case(rng, words)
    fmt_minutes = rng.randint(61, 600)
    while fmt_minutes % 60 == 0:
        fmt_minutes += 1
    long_name, short_name = _project_pair(rng, PROJECTS[split])
    projects = [long_name, short_name] if rng.random() < 0.5 else [short_name, long_name]
    sheet_width = len(short_name)  # one name fits exactly, the other is cut
    entries = [rng.choice([m for m in range(30, 600, 15) if m != 60]) for _ in range(3)]
    year = 2024 if split == "dev" else 2025
    month = rng.randint(1, 12)
    day1, day2 = rng.sample(range(1, 29), 2)
    minutes_only = rng.randint(1, 59)
    dur_minutes = rng.randint(61, 500)
    while dur_minutes % 60 == 0:
        dur_minutes += 1
    return {
        "app": rng.choice(APPS[split]), "key1": key1, "key2": key2, "Key2": key2.upper(),
        "val1": val1, "val2": val2, "bad_line": f"{rng.choice(('enable', 'retry', 'verbose'))} yes",
        "int_key": int_key, "int_val": str(rng.randint(2, 500)), "int_default": str(rng.randint(501, 900)),
        "empty_key": empty_key, "missing_key": missing_key,
        "dur_text": duration_text(dur_minutes), "dur_minutes": str(dur_minutes),
        "minutes_only": str(minutes_only), "minutes_only_text": f"{minutes_only}m",
        "bad_duration": rng.choice(("1.5h", "90 minutes", "h30", "1h 30m")),
        "fmt_minutes": str(fmt_minutes), "fmt_text": format_duration(fmt_minutes),
        "short_minutes": str(rng.randint(1, 59)),
        "title": title, "slug": slugify(title), "slug_underscore": slugify(title, "_"),
        "fit_text": fit_text, "fit_width": str(len(fit_text)),
        "long_text": long_text, "cut_width": str(cut_width), "cut_text": truncate(long_text, cut_width),
        "day1": f"{year}-{month:02d}-{day1:02d}", "day2": f"{year}-{month:02d}-{day2:02d}",
        "project_a": projects[0], "project_b": projects[1], "sheet_width": str(sheet_width),
        "entry_a1": duration_text(entries[0]), "entry_b1": duration_text(entries[1]),
        "entry_a2": duration_text(entries[2]),
        "line_a": f"{truncate(projects[0], sheet_width)}  {format_duration(entries[0] + entries[2])}",
        "line_b": f"{truncate(projects[1], sheet_width)}  {format_duration(entries[1])}",
    }


SPEC = LibrarySpec(
    template="textparse",
    summary="a small text-parsing library (settings files, durations, slugs, truncation, timesheet summaries)",
    packages=PACKAGES,
    names=NAMES,
    modules={
        "__init__.py": INIT, "config.py": CONFIG, "durations.py": DURATIONS, "text.py": TEXT,
        "timesheet.py": TIMESHEET,
    },
    headers={area: text.replace("$area", area) for area, text in HEADERS.items()},
    sites=SITES,
    tests=TESTS,
    values=values,
)
