"""Template `dedupe_files`: find files with identical content in a tree, keep the copy whose path sorts
first (byte order), delete the others and write the list of deleted paths. Distractors: same name with
different content, same size with one byte changed, hidden copies, spaces in names."""

from __future__ import annotations

import random
from typing import Any

from arena.types import Check, Split, Subgoal, Task, ToolCall

from ._common import (
    Draft,
    Final,
    Template,
    UniqueNames,
    bash_call,
    expect,
    pick,
    remove_script,
    token,
    unchanged,
    write_call,
)

ROOTS = {"dev": ["photos", "pictures-backup"], "test": ["backup", "shared-drive"]}
FOLDERS = {
    "dev": ["2022", "2023", "holiday", "family", "Camera", "exports"],
    "test": ["Q1", "Q2", "clients", "scans", "misc", "old laptop"],
}
STEMS = {
    "dev": ["beach", "dinner", "sunset", "kids", "cake", "hike", "garden"],
    "test": ["contract", "invoice", "slides", "budget", "minutes", "offer", "logo"],
}
EXTS = {"dev": ["jpg", "png", "heic"], "test": ["pdf", "docx", "png"]}
REPORTS = {"dev": "removed-duplicates.txt", "test": "dedupe-report.txt"}


def _blob(rng: random.Random) -> str:
    return "\n".join(token(rng, 48) for _ in range(rng.randint(2, 6))) + "\n"


def _near_copy(rng: random.Random, text: str) -> str:
    """Same length, one character different: same size, different content."""
    i = rng.randrange(len(text) - 1)
    swap = "0" if text[i] != "0" else "1"
    return text[:i] + swap + text[i + 1 :]


def draft(rng: random.Random, split: Split, difficulty: int) -> Draft:
    root = pick(rng, ROOTS, split)
    folders = [root] + [f"{root}/{x}" for x in rng.sample(FOLDERS[split], 1 + difficulty)]
    names, files = UniqueNames(), {}

    def place(content: str, hidden: bool = False, name: str | None = None) -> str:
        def build(g: random.Random) -> str:
            sep = g.choice(["", "_", " " if difficulty >= 2 else "-"])
            fresh = f"{'.' if hidden else ''}{g.choice(STEMS[split])}{sep}{g.randint(1, 60)}.{g.choice(EXTS[split])}"
            return f"{g.choice(folders)}/{name or fresh}"

        path = names.make(rng, build)
        files[path] = content
        return path

    groups: list[list[str]] = []
    for _ in range(1 + difficulty):
        blob = _blob(rng)
        groups.append([place(blob) for _ in range(rng.randint(2, 1 + difficulty))])
        if difficulty >= 3 and rng.random() < 0.5:
            groups[-1].append(place(blob, hidden=True))
    singles = [place(_blob(rng)) for _ in range(3 + 2 * difficulty)]
    source = files[groups[0][0]]
    singles.append(place(_near_copy(rng, source)))  # same size as a duplicate group, different bytes
    if difficulty >= 2:
        taken = groups[0][-1].rsplit("/", 1)[1]
        singles.append(place(_blob(rng), name=taken))  # same name as a duplicate, other content
    removed = sorted(p for group in groups for p in sorted(group)[1:])
    kept = [sorted(group)[0] for group in groups]
    report = REPORTS[split]
    instructions = [
        f"`{root}/` has accumulated duplicate files. Find every set of files under `{root}/` (all subfolders, hidden "
        f"files included) that have byte-for-byte identical content. In each set keep only the file whose path "
        f"comes first in plain byte-wise sort order (as `LC_ALL=C sort` orders them) and delete the others. Then "
        f"write `{report}` in the work directory listing the deleted paths, one per line, as paths relative to "
        f"the work directory (e.g. `{root}/some/file`). Files with the same name or size but different content are "
        f"not duplicates.",
        f"Please deduplicate `{root}/`: identical content (not just the same name or size) means duplicate. For "
        f"each group of duplicates anywhere in the tree, including hidden files, the copy with the smallest path "
        f"in byte order (LC_ALL=C) survives and all other copies are removed. Record every path you removed in "
        f"`{report}` (one per line, relative to the work directory, starting with `{root}/`). Nothing else may be "
        f"changed.",
        f"Deduplication.\n- Tree: `{root}/`, recursive, hidden files included\n- Duplicates: identical bytes "
        f"(same name/size alone is not enough)\n- Keep: per group, the path first in C-locale byte order\n"
        f"- Delete: the other copies\n- Log: `{report}`, deleted paths one per line, relative to the work "
        f"directory (`{root}/...`)\n- All other files: untouched",
    ]
    params: dict[str, Any] = {
        "root": root,
        "report": report,
        "removed": removed,
        "expect": [
            expect("duplicates_removed", absent=removed),
            expect("first_copies_kept", present=unchanged(files, kept), kind="guard"),
            expect("nothing_else_touched", present=unchanged(files, singles), kind="guard"),
        ],
        "facts": [f"`{root}/`", report],
        "leak_probes": removed,
    }
    return Draft(
        instructions=instructions,
        files=files,
        params=params,
        subgoals=[
            Subgoal(
                name="remove_duplicates",
                description="Only the first copy of each duplicate set is left; unique files are untouched",
                checks=["duplicates_removed", "first_copies_kept", "nothing_else_touched"],
            ),
            Subgoal(name="log_removals", description=f"`{report}` lists the removed paths", checks=["removed_list"]),
        ],
        human_minutes=round(5 + 0.4 * len(files), 1),
        max_steps=20 + 5 * difficulty,
    )


def _listed(text: str, root: str) -> set[str]:
    """The listed paths, read leniently: `./photos/x` and `/work/photos/x` both mean `photos/x`."""
    paths = set()
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        at = line.find(f"/{root}/")
        paths.add(line[at + 1 :] if line.startswith("/") and at >= 0 else line.removeprefix("./"))
    return paths


async def extra_checks(task: Task, final: Final) -> list[Check]:
    p = task.params
    text = await final.read(p["report"])
    if text is None:
        return [Check(name="removed_list", passed=False, detail=f"no {p['report']}")]
    listed, want = _listed(text, p["root"]), set(p["removed"])
    ok = listed == want
    detail = "" if ok else f"{len(want - listed)} deleted paths missing, {len(listed - want)} listed wrongly"
    return [Check(name="removed_list", passed=ok, detail=detail)]


def solution(task: Task) -> list[ToolCall]:
    p = task.params
    return [
        bash_call(remove_script(p["removed"]), "remove_duplicates"),
        write_call(p["report"], "".join(f"{x}\n" for x in p["removed"]), "log_removals"),
    ]


TEMPLATE = Template(name="dedupe_files", draft=draft, solution=solution, extra_checks=extra_checks)
