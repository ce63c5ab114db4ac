"""Template `rename_pattern`: rename files that match a pattern exactly (camera names to ISO dates, or
numbered files to zero-padded numbers), in place, leaving near-misses alone."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from arena.types import Split, Subgoal, Task, ToolCall

from ._common import Draft, Template, UniqueNames, bash_call, expect, move_script, random_day, sha, token, unchanged

CAMERA = {
    "dev": {
        "dirs": ["photos", "camera-roll", "phone"],
        "prefix": "IMG",
        "ext": "jpg",
        "time": "HHMM",
        "example": ("IMG_20190704_1830.jpg", "2019-07-04_1830.jpg"),
        "other_ext": "png",
        "days": (dt.date(2021, 1, 1), dt.date(2023, 12, 31)),
    },
    "test": {
        "dirs": ["clips", "dcim", "recordings"],
        "prefix": "VID",
        "ext": "mp4",
        "time": "HHMMSS",
        "example": ("VID_20180101_235959.mp4", "2018-01-01_235959.mp4"),
        "other_ext": "mov",
        "days": (dt.date(2024, 1, 1), dt.date(2025, 12, 31)),
    },
}
SUBFOLDERS = {"dev": ["trip", "birthday", "garden"], "test": ["concert", "wedding", "timelapse"]}
PADDING = {
    "dev": {
        "dirs": ["scans", "slides", "frames"],
        "stems": ["page", "slide", "frame"],
        "exts": ["png", "pdf"],
        "width": 3,
        "other_stem": "cover",
    },
    "test": {
        "dirs": ["chapters", "episodes", "tracks"],
        "stems": ["chapter", "episode", "track"],
        "exts": ["md", "mp3"],
        "width": 4,
        "other_stem": "bonus",
    },
}


class Renaming:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.moves: dict[str, str] = {}
        self.stay: list[str] = []
        self.names = UniqueNames()

    def add(self, rng: random.Random, path: str, target: str | None = None) -> bool:
        """Add a file unless its path or target clashes with one already made."""
        if target is not None and target.lower() in self.names.used:
            return False
        if not self.names.take(path):
            return False
        if target is not None:
            self.names.take(target)
            self.moves[path] = target
        else:
            self.stay.append(path)
        self.files[path] = f"{path.rsplit('/', 1)[-1]} {token(rng, 32)}\n"
        return True


def _stamp(rng: random.Random, spec: dict[str, Any], day: dt.date) -> tuple[str, str]:
    """Camera name and its renamed form for a random moment on `day`."""
    hhmm = f"{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}"
    clock = hhmm if spec["time"] == "HHMM" else hhmm + f"{rng.randint(0, 59):02d}"
    return f"{spec['prefix']}_{day:%Y%m%d}_{clock}", f"{day.isoformat()}_{clock}"


def _camera(rng: random.Random, split: Split, difficulty: int, r: Renaming) -> tuple[list[str], list[str]]:
    spec = CAMERA[split]
    root, ext, prefix, time = rng.choice(spec["dirs"]), spec["ext"], spec["prefix"], spec["time"]
    folders = [root] + ([f"{root}/{x}" for x in rng.sample(SUBFOLDERS[split], 2)] if difficulty >= 2 else [])
    first, last = spec["days"]
    while len(r.moves) < 3 + 3 * difficulty:
        folder = rng.choice(folders)
        name, new = _stamp(rng, spec, random_day(rng, first, last))
        r.add(rng, f"{folder}/{name}.{ext}", f"{folder}/{new}.{ext}")
    near_misses = [
        lambda n, d: f"{n}.{spec['other_ext']}",
        lambda n, d: f"{prefix}_{d:%Y%m%d}.{ext}",
        lambda n, d: f"DSC_{rng.randint(1000, 9999)}.{ext}",
    ]
    if difficulty >= 2:
        near_misses += [lambda n, d: f"{n}_edit.{ext}", lambda n, d: f"{n} (1).{ext}"]
        near_misses += [lambda n, d: f"{_stamp(rng, spec, d)[1]}.{ext}"]  # already in the new style
    if difficulty >= 3:
        near_misses += [lambda n, d: f".{n}.{ext}", lambda n, d: f"{prefix.lower()}_{d:%Y%m%d}_x.{ext}"]
    for make in near_misses:
        day = random_day(rng, first, last)
        r.add(rng, f"{rng.choice(folders)}/{make(_stamp(rng, spec, day)[0], day)}")
    r.add(rng, f"{root}/notes.txt")
    old, new = spec["example"]
    where = f"`{root}/` and all its subfolders" if difficulty >= 2 else f"`{root}/`"
    pattern = f"{prefix}_YYYYMMDD_{time}.{ext}"
    target = f"YYYY-MM-DD_{time}.{ext}"
    return [
        f"Rename the camera files in {where} to date-first names: every file named exactly `{pattern}` "
        f"(Y, M, D, H, M{', S' if time == 'HHMMSS' else ''} are digits) becomes `{target}`, e.g. `{old}` -> `{new}`. "
        f"Renamed files stay in the same folder and keep their content. Any other file (other extensions, extra "
        f"text in the name, missing time, hidden files) must stay exactly as it is.",
        f"Our {ext} files in {where} still carry the camera's names like `{old}`. Please rename each one whose "
        f"name matches `{pattern}` exactly to the `{target}` form (`{old}` becomes `{new}`), leaving it in its "
        f"folder. Names that only look similar, for instance with a suffix, a different extension or no time "
        f"part, and hidden files are to be left alone.",
        f"Rename by pattern.\n- Where: {where}\n- Match: names of exactly the form `{pattern}`\n"
        f"- New name: `{target}` in the same folder (example: `{old}` -> `{new}`)\n"
        f"- Everything else, including near-misses and hidden files: unchanged",
    ], [pattern, target, f"`{root}/`"]


def _padding(rng: random.Random, split: Split, difficulty: int, r: Renaming) -> tuple[list[str], list[str]]:
    spec = PADDING[split]
    root, stem, ext = rng.choice(spec["dirs"]), rng.choice(spec["stems"]), rng.choice(spec["exts"])
    width = spec["width"]
    other_ext = next(e for e in spec["exts"] if e != ext)
    # 7 is the number of the example in the instructions, so no real file carries it
    numbers = rng.sample([n for n in range(1, 10 ** (width - 1)) if n != 7], 3 + 3 * difficulty)
    for n in numbers:
        r.add(rng, f"{root}/{stem}{n}.{ext}", f"{root}/{stem}{n:0{width}d}.{ext}")
    spare = [n for n in range(1, 10 ** (width - 1)) if n not in numbers and n != 7]
    stays = [f"{stem}.{ext}", f"{spec['other_stem']}{rng.choice(spare)}.{ext}"]
    stays += [f"{stem}{rng.choice(spare)}.{other_ext}"]
    if difficulty >= 2:
        padded_already = rng.randint(10 ** (width - 1), 10**width - 1)
        stays += [f"{stem}{rng.choice(spare)}-draft.{ext}", f"{stem}{padded_already}.{ext}"]
    if difficulty >= 3:
        stays += [f".{stem}{rng.choice(spare)}.{ext}", f"{stem} {rng.choice(spare)}.{ext}"]
    for name in stays:
        r.add(rng, f"{root}/{name}")
    example_old, example_new = f"{stem}7.{ext}", f"{stem}{7:0{width}d}.{ext}"
    return [
        f"In `{root}/`, the files named `{stem}<number>.{ext}` sort badly because the numbers are not padded. "
        f"Rename every file whose name is exactly `{stem}`, then digits, then `.{ext}` so that the number has "
        f"{width} digits, padded with leading zeros (for example `{example_old}` would become `{example_new}`). "
        f"Keep the files in `{root}/` and don't change their content. Files whose names don't fit that pattern "
        f"exactly (another stem or extension, extra text, no number, hidden) stay as they are.",
        f"Please zero-pad the numbered {ext} files in `{root}/` to a width of {width} digits: `{example_old}` -> "
        f"`{example_new}` style, applied to all files called `{stem}` + number + `.{ext}`. Names that already have "
        f"{width} digits are fine as they are. Do not touch anything that is not exactly of that form.",
        f"Zero-padding job.\n- Folder: `{root}/`\n- Match: `{stem}<digits>.{ext}` exactly (nothing before, between or "
        f"after)\n- Rename to `{stem}<number padded to {width} digits>.{ext}`, e.g. `{example_old}` -> "
        f"`{example_new}`\n- All other files: unchanged",
    ], [f"`{root}/`", f"{stem}", f".{ext}", str(width)]


def draft(rng: random.Random, split: Split, difficulty: int) -> Draft:
    r = Renaming()
    kind = rng.choice(["camera", "padding"])
    instructions, facts = (_camera if kind == "camera" else _padding)(rng, split, difficulty, r)
    renamed = {target: sha(r.files[source]) for source, target in r.moves.items()}
    params = {
        "kind": kind,
        "moves": r.moves,
        "expect": [
            expect("renamed_all", present=renamed),
            expect("old_names_gone", absent=r.moves),
            expect("nothing_else_touched", present=unchanged(r.files, r.stay), kind="guard"),
        ],
        "facts": facts,
        "leak_probes": sorted(r.moves.values()),
    }
    return Draft(
        instructions=instructions,
        files=r.files,
        params=params,
        subgoals=[
            Subgoal(
                name="rename_matches",
                description="Every matching file has its new name, and other files keep theirs",
                checks=["renamed_all", "old_names_gone", "nothing_else_touched"],
            ),
        ],
        human_minutes=round(3 + 0.4 * len(r.moves) + 0.2 * len(r.stay), 1),
        max_steps=20 + 5 * difficulty,
    )


def solution(task: Task) -> list[ToolCall]:
    return [bash_call(move_script(task.params["moves"]), "rename_matches")]


TEMPLATE = Template(name="rename_pattern", draft=draft, solution=solution)
