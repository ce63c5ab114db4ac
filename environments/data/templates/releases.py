"""Package releases: semantic-version ordering (1.10.0 > 1.9.3) and decimal scores (9.9 > 9.11)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from arena.types import Split

from ..answers import Expected
from ..common import INTEGER_FORMAT, Level, Problem

PACKAGES: dict[Split, tuple[str, ...]] = {
    "dev": ("gridkit", "fastjsonl", "tinyorm", "logfmt-py", "quickplot"),
    "test": ("vectorize", "httpsnake", "yamlette", "cronparse", "pdfslice"),
}

READ = '''import json

releases = json.load(open("releases.json"))

def key(version):
    return tuple(int(part) for part in version.split("."))
'''

Version = tuple[int, int, int]
Release = dict[str, object]


def text(version: Version) -> str:
    return ".".join(map(str, version))


def _history(rng: random.Random, package: str, start: date) -> list[Release]:
    """A release line that crosses minor version 9 -> 10, with patch releases and late backports."""
    major = rng.choice((0, 1, 2, 3))
    out: list[Release] = []
    day = start
    for minor in range(rng.randint(6, 8), rng.randint(12, 14)):  # always 8 to 11
        for patch in range(rng.choice((1, 1, 2, 3, 4))):
            day += timedelta(days=rng.randint(5, 40))
            out.append({"package": package, "version": text((major, minor, patch)), "released": day.isoformat(),
                        "downloads": rng.randint(300, 90000)})
    last_patch = max(vkey(r)[2] for r in out if vkey(r)[1] == 9)
    backport = (major, 9, last_patch + 1)
    out.append({"package": package, "version": text(backport), "released": (day + timedelta(days=3)).isoformat(),
                "downloads": rng.randint(300, 9000)})
    for release in out:
        release["score"] = _score(rng)
    return out


def _score(rng: random.Random) -> str:
    whole = rng.choice((7, 8, 9))
    return f"{whole}.{rng.randint(1, 9)}" if rng.random() < 0.5 else f"{whole}.{rng.randint(10, 99)}"


def vkey(release: Release) -> Version:
    major, minor, patch = (int(p) for p in str(release["version"]).split("."))
    return major, minor, patch


def generate(rng: random.Random, split: Split, level: Level) -> Problem:
    kind = level.pick(rng, {"latest": 1, "newer_than": 2, "top_score": 2, "range_list": 3})
    start = date(2021 if split == "dev" else 2022, rng.randint(1, 12), 1)
    packages = rng.sample(PACKAGES[split], {1: 2, 2: 3, 3: 5}[level.scale])
    releases = [r for p in packages for r in _history(rng, p, start)]
    package = rng.choice(packages)
    own = sorted((r for r in releases if r["package"] == package), key=vkey)
    if kind == "top_score":
        _plant_scores(rng, own)
    rng.shuffle(releases)
    phrasings, answer_format, expected, code = _question(kind, rng, package, own)
    context = (
        "releases.json lists package releases: package, version, released (date), downloads and score (a "
        "quality score, a decimal number written as text). Versions follow semantic versioning "
        "MAJOR.MINOR.PATCH and are ordered by comparing the three parts as numbers, major first (so 4.10.0 "
        "comes after 4.9.3). Release dates do not follow version order: fixes are sometimes backported to "
        "older minor versions."
    )
    return Problem(
        kind=f"releases_{kind}", files={"releases.json": json.dumps(releases, indent=2) + "\n"}, context=context,
        phrasings=phrasings, answer_format=answer_format, expected=expected, solution=READ + code,
        difficulty=level.level, human_minutes=level.minutes({1: 5.0, 2: 10.0, 3: 15.0}),
    )


def _plant_scores(rng: random.Random, own: list[Release]) -> None:
    """The best score is written with one decimal (9.9); a lower one has two (9.11, 9.45)."""
    best, decoy = rng.sample(own, 2)
    top = rng.randint(6, 9)
    for release in own:
        if float(str(release["score"])) >= 9.0:
            release["score"] = f"8.{rng.randint(10, 99)}"
    best["score"] = f"9.{top}"
    decoy["score"] = f"9.{rng.randint(10, top * 10 - 1)}"


def _question(kind: str, rng: random.Random, package: str, own: list[Release]) -> tuple[
    tuple[str, ...], str, Expected, str
]:
    versions = [str(r["version"]) for r in own]  # ascending by semantic version
    mine = f"[r for r in releases if r['package'] == {package!r}]"
    if kind == "latest":
        return (
            (f"What is the highest version of {package} that has been released?",
             f"Which {package} release has the greatest version number under semantic versioning?",
             f"Give the newest {package} version by version order (not by release date)."),
            "Answer with the version only, as MAJOR.MINOR.PATCH (for example 2.3.1).",
            Expected(kind="text", value=versions[-1], accepted=[f"v{versions[-1]}"]),
            f"print(max({mine}, key=lambda r: key(r['version']))['version'])\n",
        )
    if kind == "newer_than":
        pivot = next(v for v in versions if v.split(".")[1] == "9")
        count = sum(1 for r in own if vkey(r) > tuple(int(p) for p in pivot.split(".")))
        return (
            (f"How many releases of {package} have a version higher than {pivot}?",
             f"Count the {package} releases whose version is greater than {pivot} in semantic-version order.",
             f"Under semantic versioning, how many {package} versions come after {pivot}?"),
            INTEGER_FORMAT, Expected(kind="integer", value=count),
            f"print(sum(1 for r in {mine} if key(r['version']) > key({pivot!r})))\n",
        )
    if kind == "top_score":
        best = max(own, key=lambda r: float(str(r["score"])))
        return (
            (f"Which release of {package} has the highest quality score?",
             f"Find the {package} version whose score is the largest number.",
             f"Among all {package} releases, which version scored best?"),
            "Answer with the version only, as MAJOR.MINOR.PATCH.",
            Expected(kind="text", value=str(best["version"]), accepted=[f"v{best['version']}"]),
            f"print(max({mine}, key=lambda r: float(r['score']))['version'])\n",
        )
    low = next(v for v in versions if v.split(".")[1] == "8")
    high = next(v for v in versions if v.split(".")[1] == "11")
    chosen = [str(r["version"]) for r in own if vkey({"version": low}) <= vkey(r) < vkey({"version": high})]
    return (
        (f"List the versions of {package} from {low} up to, but not including, {high}.",
         f"Which {package} versions are at least {low} and lower than {high}? List them.",
         f"Give every {package} release in the version range [{low}, {high})."),
        "Answer with the versions in ascending version order, separated by commas (for example 1.2.0, 1.2.1).",
        Expected(kind="list", value=chosen, ordered=True),
        f"chosen = sorted((r['version'] for r in {mine} if key({low!r}) <= key(r['version']) < key({high!r})), "
        "key=key)\nprint(', '.join(chosen))\n",
    )
