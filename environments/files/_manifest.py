"""Template `build_manifest`: write a manifest of every file in a release folder with its size in
bytes and sha256, sorted by path. Distractors: nested folders, hidden files, spaces in names, empty
files and non-ASCII text (where characters and bytes differ)."""

from __future__ import annotations

import json
import random
from typing import Any

from arena.types import Check, Split, Subgoal, Task, ToolCall

from ._common import Draft, Final, Template, UniqueNames, expect, found, pick, sha, token, unchanged, write_call

ROOTS = {"dev": ["dist", "release"], "test": ["bundle", "payload"]}
FOLDERS = {"dev": ["css", "js", "img", "fonts/woff"], "test": ["bin", "share/doc", "conf", "lib/plugins"]}
NAMES = {
    "dev": ["app", "vendor", "main", "theme", "logo", "print"],
    "test": ["tool", "helper", "daemon", "usage", "defaults", "hooks"],
}
EXTS = {"dev": ["js", "css", "svg", "map"], "test": ["sh", "conf", "txt", "ini"]}
HIDDEN = {"dev": [".htaccess", ".well-known/security.txt"], "test": [".env.example", ".config/flags"]}
KEYS = {"dev": ("path", "size", "sha256"), "test": ("file", "bytes", "sha256")}
ACCENTED = ["café crème", "naïve façade", "Grüße aus Köln", "smörgåsbord", "jalapeño"]


def _content(rng: random.Random, difficulty: int) -> str:
    lines = [f"{token(rng, rng.randint(8, 40))}" for _ in range(rng.randint(1, 6))]
    if difficulty >= 3 and rng.random() < 0.5:
        lines.append(rng.choice(ACCENTED))
    return "\n".join(lines) + "\n"


def render(entries: list[dict[str, Any]], fmt: str, keys: tuple[str, str, str]) -> str:
    if fmt == "json":
        objects = [{keys[0]: e["path"], keys[1]: e["size"], keys[2]: e["sha256"]} for e in entries]
        return json.dumps(objects, indent=2) + "\n"
    return "\t".join(keys) + "\n" + "".join(f"{e['path']}\t{e['size']}\t{e['sha256']}\n" for e in entries)


def parse(text: str, fmt: str, keys: tuple[str, str, str], root: str) -> list[tuple[str, int, str]]:
    """(path, size, sha256) rows, read leniently (`./x` and `<root>/x` mean `x`); ValueError when it is
    not the asked format."""
    if fmt == "json":
        data = json.loads(text)
        if not isinstance(data, list) or not all(isinstance(e, dict) and set(keys) <= set(e) for e in data):
            raise ValueError(f"expected a JSON array of objects with keys {', '.join(keys)}")
        rows = [(e[keys[0]], e[keys[1]], e[keys[2]]) for e in data]
    else:
        lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
        if not lines or [c.strip() for c in lines[0].split("\t")] != list(keys):
            raise ValueError(f"expected the header line {chr(9).join(keys)!r} (tab-separated)")
        parts = [line.split("\t") for line in lines[1:]]
        if any(len(p) != 3 for p in parts):
            raise ValueError("every line needs three tab-separated fields")
        rows = [(p[0], int(p[1].strip()), p[2].strip()) for p in parts]
    if not all(isinstance(p, str) and type(s) is int and isinstance(h, str) for p, s, h in rows):
        raise ValueError("paths and hashes must be strings, sizes integers")
    return [(p.removeprefix("./").removeprefix(f"{root}/"), s, h.lower()) for p, s, h in rows]


def draft(rng: random.Random, split: Split, difficulty: int) -> Draft:
    root = pick(rng, ROOTS, split)
    folders = ["", *rng.sample(FOLDERS[split], min(1 + difficulty, len(FOLDERS[split])))]
    names, files = UniqueNames(), {}

    def build(g: random.Random) -> str:
        sep = g.choice(["-", "_", " "] if difficulty >= 2 else ["-", "_"])
        folder = g.choice(folders)
        return f"{folder}/" * bool(folder) + f"{g.choice(NAMES[split])}{sep}{g.randint(1, 9)}.{g.choice(EXTS[split])}"

    for _ in range(4 + 3 * difficulty):
        files[f"{root}/{names.make(rng, build)}"] = _content(rng, difficulty)
    if difficulty >= 2:
        for hidden in HIDDEN[split]:
            files[f"{root}/{hidden}"] = _content(rng, difficulty)
    if difficulty >= 3:
        files[f"{root}/{rng.choice([f for f in folders if f])}/EMPTY"] = ""
    entries = sorted(
        ({"path": p.removeprefix(f"{root}/"), "size": len(c.encode()), "sha256": sha(c)} for p, c in files.items()),
        key=lambda e: e["path"],
    )
    fmt = rng.choice(["json", "tsv"])
    keys = KEYS[split]
    manifest = f"{root}.manifest.{fmt}"
    if fmt == "json":
        layout = (
            f"a JSON array with one object per file, each with exactly the keys `{keys[0]}` (path relative to "
            f"`{root}/`), `{keys[1]}` (size in bytes, a number) and `{keys[2]}` (lower-case hex digest)"
        )
    else:
        layout = (
            f"a tab-separated file whose first line is the header `{keys[0]}<TAB>{keys[1]}<TAB>{keys[2]}`, then "
            f"one line per file: path relative to `{root}/`, size in bytes, lower-case hex sha256"
        )
    instructions = [
        f"Before we ship `{root}/`, write a manifest of it to `{manifest}` (next to the folder, not inside it). "
        f"List every regular file under `{root}/`, in all subfolders and hidden ones included, with its size in "
        f"bytes and its SHA-256, sorted by path in byte order. Format: {layout}. Do not change anything in "
        f"`{root}/`.",
        f"We need an inventory of the release folder `{root}/` for the auditors. Create `{manifest}` as {layout}. "
        f"Every file in the tree must appear (hidden files too, but not directories), ordered by path (plain "
        f"byte-wise order, like LC_ALL=C sort). Sizes are byte counts, not characters. The folder itself must stay "
        f"exactly as it is.",
        f"Manifest.\n- Folder: `{root}/` (recursive, hidden files included; read-only)\n- Output: `{manifest}`\n"
        f"- Per file: path relative to `{root}/`, size in bytes, SHA-256 (hex)\n- Order: by path, byte-wise\n"
        f"- Format: {layout}",
    ]
    params: dict[str, Any] = {
        "root": root,
        "manifest": manifest,
        "format": fmt,
        "keys": list(keys),
        "entries": entries,
        "expect": [expect("nothing_else_touched", present=unchanged(files, files), kind="guard")],
        "facts": [manifest, f"`{root}/`", *keys],
        "leak_probes": [e["sha256"] for e in entries],
    }
    return Draft(
        instructions=instructions,
        files=files,
        params=params,
        subgoals=[
            Subgoal(
                name="write_manifest",
                description=f"`{manifest}` lists every file, in order, with the right sizes and hashes",
                checks=["manifest_exists", "answer_format", "lists_all_files", "sorted_by_path", "sizes_right",
                        "hashes_right", "nothing_else_touched"],
            ),
        ],
        human_minutes=round(5 + 0.5 * len(files), 1),
        max_steps=20 + 5 * difficulty,
    )


async def extra_checks(task: Task, final: Final) -> list[Check]:
    p = task.params
    text = await final.read(p["manifest"])
    checks = [found("manifest_exists", text, p["manifest"])]
    try:
        rows = parse(text or "", p["format"], tuple(p["keys"]), p["root"])
        checks.append(Check(name="answer_format", passed=True))
    except (ValueError, json.JSONDecodeError) as e:
        rows = []
        checks.append(Check(name="answer_format", passed=False, detail=str(e)[:200]))
    want = {e["path"]: e for e in p["entries"]}
    listed = [path for path, _, _ in rows]
    missing, extra = sorted(set(want) - set(listed)), sorted(set(listed) - set(want))
    complete = not missing and not extra and len(listed) == len(set(listed))
    checks.append(
        Check(
            name="lists_all_files",
            passed=complete,
            detail="" if complete else f"missing {missing[:3]}, unexpected {extra[:3]}",
        )
    )
    checks.append(Check(name="sorted_by_path", passed=bool(rows) and listed == sorted(listed)))
    bad_sizes = [path for path, size, _ in rows if path in want and size != want[path]["size"]]
    bad_hashes = [path for path, _, digest in rows if path in want and digest != want[path]["sha256"]]
    checks.append(
        Check(
            name="sizes_right", passed=complete and not bad_sizes, detail=f"wrong: {bad_sizes[:3]}" if bad_sizes else ""
        )
    )
    checks.append(
        Check(
            name="hashes_right",
            passed=complete and not bad_hashes,
            detail=f"wrong: {bad_hashes[:3]}" if bad_hashes else "",
        )
    )
    return checks


def solution(task: Task) -> list[ToolCall]:
    p = task.params
    return [write_call(p["manifest"], render(p["entries"], p["format"], tuple(p["keys"])), "write_manifest")]


TEMPLATE = Template(name="build_manifest", draft=draft, solution=solution, extra_checks=extra_checks)
