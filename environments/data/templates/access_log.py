"""Web-server access log: status counts, megabytes served, most frequent 404 path, distinct clients."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from arena.types import Split

from ..answers import Expected
from ..common import INTEGER_FORMAT, ROWS_BY_DIFFICULTY, Level, Problem, near_tie, round_half_up

PATHS: dict[Split, tuple[str, ...]] = {
    "dev": ("/", "/login", "/api/orders", "/api/orders/17", "/api/cart", "/static/app.js", "/static/style.css",
            "/static/logo.png", "/products", "/search", "/checkout"),
    "test": ("/", "/signin", "/api/v2/items", "/api/v2/items/42", "/api/v2/basket", "/assets/main.js",
             "/assets/site.css", "/assets/hero.jpg", "/catalog", "/find", "/pay"),
}
STATIC_PREFIX: dict[Split, str] = {"dev": "/static/", "test": "/assets/"}
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0", "Mozilla/5.0 (Macintosh) Safari/605.1.15",
          "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)")
STATUSES = (200, 200, 200, 200, 200, 200, 301, 304, 404, 404, 403, 500, 502, 503)
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MIB = 1024 * 1024

READ = '''import re

LINE = re.compile(r'(\\S+) \\S+ \\S+ \\[([^\\]]+)\\] "(\\S+) (\\S+) [^"]*" (\\d{3}) (\\S+)')
requests = []  # (ip, timestamp text, method, path without query string, status, bytes)
for line in open("access.log"):
    m = LINE.match(line)
    if m:
        ip, ts, method, target, status, size = m.groups()
        requests.append((ip, ts, method, target.split("?")[0], int(status), 0 if size == "-" else int(size)))
'''

Request = tuple[str, datetime, str, str, int, int]


def _log(rng: random.Random, split: Split, count: int) -> tuple[str, list[Request]]:
    start = datetime(2024 if split == "dev" else 2025, rng.randint(1, 12), rng.randint(1, 27), 0, 0, 0)
    clients = [f"{rng.choice((10, 172, 192, 203))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
               for _ in range(max(6, count // 8))]
    moments = sorted(start + timedelta(seconds=rng.randint(0, 2 * 86400 - 1)) for _ in range(count))
    lines, requests = [], []
    for moment in moments:
        ip, path, status = rng.choice(clients), rng.choice(PATHS[split]), rng.choice(STATUSES)
        method = "POST" if path.startswith("/api") and rng.random() < 0.3 else "GET"
        size = 0 if status in (301, 304) else rng.randint(200, 2_500_000 if "." in path else 60_000)
        target = f"{path}?page={rng.randint(1, 9)}" if path in ("/products", "/catalog", "/search", "/find") else path
        stamp = f"{moment.day:02d}/{MONTH_ABBR[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"
        lines.append(f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {size if size else "-"} '
                     f'"-" "{rng.choice(AGENTS)}"')
        requests.append((ip, moment, method, path, status, size))
    return "\n".join(lines) + "\n", requests


def generate(rng: random.Random, split: Split, level: Level) -> Problem:
    kind = level.pick(rng, {"server_errors": 1, "static_mib": 2, "top_404": 2, "clients_4xx": 3})
    while True:
        log, requests = _log(rng, split, ROWS_BY_DIFFICULTY[level.scale] * 2)
        problem = _question(kind, rng, split, requests)
        if problem is not None:
            break
    phrasings, answer_format, expected, code = problem
    context = (
        f"access.log is a web server log in the combined log format, {len(requests)} requests: client IP, "
        "identity, user, [timestamp], \"request line\", status code, response size in bytes (\"-\" means no "
        "body, i.e. 0 bytes), referrer and user agent. A request's path is the part of the request target "
        "before any \"?\" query string. Timestamps are UTC."
    )
    return Problem(
        kind=f"log_{kind}", files={"access.log": log}, context=context, phrasings=phrasings,
        answer_format=answer_format, expected=expected, solution=READ + code, difficulty=level.level,
        human_minutes=level.minutes({1: 6.0, 2: 12.0, 3: 18.0}),
    )


def _question(
    kind: str, rng: random.Random, split: Split, requests: list[Request]
) -> tuple[tuple[str, ...], str, Expected, str] | None:
    if kind == "server_errors":
        count = sum(1 for r in requests if 500 <= r[4] <= 599)
        return (
            ("How many requests ended with a server error (a 5xx status code)?",
             "Count the requests whose status code is in the 500-599 range.",
             "What is the number of 5xx responses in the log?"),
            INTEGER_FORMAT, Expected(kind="integer", value=count),
            "print(sum(1 for r in requests if 500 <= r[4] <= 599))\n",
        )
    if kind == "static_mib":
        prefix = STATIC_PREFIX[split]
        total = sum(r[5] for r in requests if r[4] == 200 and r[3].startswith(prefix))
        mib = Decimal(total) / MIB
        if near_tie(mib, 2):
            return None
        return (
            (f"How many mebibytes (MiB, 1 MiB = 1,048,576 bytes) were served by successful (status 200) requests "
             f"for files under {prefix}?",
             f"Sum the response sizes of status-200 requests whose path starts with {prefix} and convert the "
             "total to MiB (1 MiB = 1024 x 1024 bytes).",
             f"What volume of {prefix} content, in MiB (1,048,576 bytes each), went out with status 200?"),
            "Answer with the number of MiB only, rounded to 2 decimals.",
            Expected(kind="number", value=float(round_half_up(mib, 2)), tolerance=0.001),
            f"total = sum(r[5] for r in requests if r[4] == 200 and r[3].startswith({prefix!r}))\n"
            'print(f"{total / 1048576:.2f}")\n',
        )
    if kind == "top_404":
        counts = Counter(r[3] for r in requests if r[4] == 404).most_common()
        if len(counts) < 2 or counts[0][1] == counts[1][1]:
            return None
        return (
            ("Which path received the most 404 (Not Found) responses?",
             "Among requests answered with status 404, which path occurs most often?",
             "Find the path with the highest number of 404 responses."),
            "Answer with the path only (starting with /, without the query string).",
            Expected(kind="text", value=counts[0][0]),
            "from collections import Counter\n"
            "print(Counter(r[3] for r in requests if r[4] == 404).most_common(1)[0][0])\n",
        )
    day = rng.choice(sorted({r[1].date() for r in requests}))
    hours = sorted({r[1].hour for r in requests if r[1].date() == day and r[1].hour <= 22})
    if not hours:
        return None
    hour = rng.choice(hours)
    ips = {r[0] for r in requests if r[1].date() == day and r[1].hour in (hour, hour + 1) and 400 <= r[4] <= 499}
    if not ips:
        return None
    stamp = f"{day.day:02d}/{MONTH_ABBR[day.month - 1]}/{day.year}"
    window = f"{hour:02d}:00:00 and {hour + 1:02d}:59:59 UTC on {day.isoformat()}"
    return (
        (f"How many distinct client IP addresses received a 4xx status between {window}?",
         f"Count the different client IPs that got a client error (status 400-499) between {window}.",
         f"Between {window}, how many unique clients were answered with a 4xx status code?"),
        INTEGER_FORMAT, Expected(kind="integer", value=len(ips)),
        "ips = {r[0] for r in requests\n"
        f"       if r[1].startswith({stamp!r}) and int(r[1][12:14]) in ({hour}, {hour + 1}) and 400 <= r[4] <= 499}}\n"
        "print(len(ips))\n",
    )
