"""The `files` family: the oracle solves every template at the top difficulty in real sandboxes;
generation is deterministic, differs between splits and harder levels are larger;
instructions carry every fact but no answer; plausible wrong solutions and collateral damage fail the
check meant to catch them; and the grading material is nowhere in the sandbox while the agent works."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import shlex
from collections import Counter
from statistics import mean

import pytest

from arena.environments.files import FilesFamily, _count, _manifest
from arena.environments.files._common import bash_call, move_script, remove_script, snapshot, write_call
from arena.environments.files._family import difficulty_for
from arena.grading import open_grading
from arena.protocols import Family
from arena.sandbox import SandboxConfig, open_sandbox
from arena.testing.family_check import Replay, replay
from arena.types import SPLITS, Split, Task, ToolCall

FAMILY = FilesFamily()
SEEDS = range(100)
BATCH = 25  # episodes run at once in the sweeps
PROCESS = SandboxConfig(kind="process", unsafe_local=True)
BWRAP = SandboxConfig(kind="bwrap")


def failed(result: Replay) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in result.checks.checks if not c.passed]


def seed_for(template: str, split: Split = "dev", difficulty: int = 3, skip: int = 0) -> int:
    matching = (s for s in range(1000) if difficulty_for(s) == difficulty)
    seeds = (s for s in matching if FAMILY.generate(s, split).template == template)
    for _ in range(skip):
        next(seeds)
    return next(seeds)


async def outcome(task: Task, calls: list[ToolCall], answer: str | None = None) -> dict[str, bool]:
    """Play a fixed list of tool calls, submit, and return every check's verdict by name."""
    submit = ToolCall(name="submit", arguments={} if answer is None else {"answer": answer})
    result = await replay(FAMILY, task, [*calls, submit], sandbox=PROCESS)
    assert not result.results[-1].is_error
    return result.passed


def without_submit(calls: list[ToolCall]) -> tuple[list[ToolCall], str | None]:
    answers = [c.arguments.get("answer") for c in calls if c.name == "submit" and isinstance(c.arguments, dict)]
    return [c for c in calls if c.name != "submit"], (answers[0] if answers else None)


# ---------------------------------------------------------------- the family


def test_is_a_family() -> None:
    assert isinstance(FAMILY, Family)
    assert FAMILY.name == "files" and FAMILY.image == "arena-base"
    assert len(FAMILY.templates) >= 6
    assert {t.name for t in FAMILY.tools(FAMILY.generate(0, "dev"))} == {"bash", "read_file", "write_file", "list_dir"}


# The oracle (100%) and random (<10%) sweeps over seeds 0-99 of both splits run in bubblewrap and
# Docker through the real runner in tests/test_acceptance.py.


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
async def test_oracle_in_isolated_sandboxes(kind: str, request: pytest.FixtureRequest) -> None:
    """Every template at the top difficulty, in both splits, where commands really are jailed."""
    request.getfixturevalue("need_bwrap" if kind == "bwrap" else "docker_images")
    tasks = [FAMILY.generate(seed_for(name, split, difficulty=5), split) for split in SPLITS
             for name in FAMILY.templates]
    results = await asyncio.gather(*(replay(FAMILY, task, FAMILY.solution(task), sandbox=kind) for task in tasks))
    assert [(t.id, failed(r)) for t, r in zip(tasks, results, strict=True) if not r.checks.success] == []


# ---------------------------------------------------------------- generation


LEVELS = (1, 2, 3, 4, 5)


@pytest.mark.parametrize("split", SPLITS)
def test_every_template_at_every_difficulty(split: Split) -> None:
    tasks = [FAMILY.generate(seed, split) for seed in SEEDS]
    assert {(t.template, t.difficulty) for t in tasks} == {(n, d) for n in FAMILY.templates for d in LEVELS}
    for name in FAMILY.templates:  # harder instances have more data and take a human longer
        by_level = {d: [t for t in tasks if t.template == name and t.difficulty == d] for d in LEVELS}
        size = [mean(sum(text.count("\n") for text in t.files.values()) for t in by_level[d]) for d in LEVELS]
        minutes = [mean(t.human_minutes for t in by_level[d]) for d in LEVELS]
        assert size[0] < size[-1] and minutes == sorted(minutes) and minutes[-1] > 1.6 * minutes[0], (
            name, size, minutes)


def test_generation_is_deterministic() -> None:
    for seed in (0, 8, 33, 61, 99):
        for split in SPLITS:
            task = FAMILY.generate(seed, split)
            assert task.model_dump() == FAMILY.generate(seed, split).model_dump()
            assert Task.model_validate_json(task.model_dump_json()) == task  # params survive the store
    assert FAMILY.generate(0, "dev").files != FAMILY.generate(7, "dev").files  # same template, other seed


def _top_level_names(task: Task) -> set[str]:
    written = [c.arguments["path"] for c in FAMILY.solution(task) if c.name == "write_file"]  # type: ignore[index]
    return {path.split("/")[0] for path in [*task.files, *written]}


def test_splits_differ_in_content_and_vocabulary() -> None:
    dev = [FAMILY.generate(seed, "dev") for seed in SEEDS]
    test = [FAMILY.generate(seed, "test") for seed in SEEDS]
    for a, b in zip(dev, test, strict=True):
        assert a.template == b.template and a.files != b.files and a.instructions != b.instructions
    dev_names = set().union(*map(_top_level_names, dev))
    test_names = set().union(*map(_top_level_names, test))
    assert not dev_names & test_names, dev_names & test_names


@pytest.mark.parametrize("split", SPLITS)
def test_instructions_state_every_fact_and_no_answer(split: Split) -> None:
    for task in (FAMILY.generate(seed, split) for seed in SEEDS):
        assert len(set(task.instructions)) >= 3
        assert task.params["leak_probes"], task.id
        for text in task.instructions:
            missing = [fact for fact in task.params["facts"] if fact not in text]
            assert not missing, (task.id, missing, text)
            leaked = [probe for probe in task.params["leak_probes"] if probe in text]
            assert not leaked, (task.id, leaked)


# ---------------------------------------------------------------- plausible wrong solutions


async def test_sort_copying_instead_of_moving_fails() -> None:
    task = FAMILY.generate(seed_for("sort_by_rule"), "dev")
    copy = move_script(task.params["moves"]).replace("\nmv -- ", "\ncp -- ")
    verdict = await outcome(task, [bash_call(copy)])
    assert verdict == {"moved_all": True, "sources_removed": False, "nothing_else_touched": True}


def _naive_counts(task: Task) -> dict[str, int]:
    """What a recursive grep for the bare word gives: every file, every line with the word anywhere."""
    word = "ERROR" if task.params["kind"] == "errors" else "TODO"
    counts = dict.fromkeys(task.params["counts"], 0)
    for path, text in task.files.items():
        counts[path.split("/")[1]] += sum(word in line for line in text.splitlines())
    return counts


async def test_count_grepping_the_bare_word_gets_wrong_numbers() -> None:
    task = FAMILY.generate(seed_for("count_matches"), "dev")
    p = task.params
    naive = _naive_counts(task)
    assert naive != p["counts"]
    report = write_call(p["report"], _count.render(naive, p["format"], p["group"]))
    verdict = await outcome(task, [report], answer=f"{sum(naive.values())} in total")
    assert verdict == {
        "nothing_else_touched": True,
        "report_exists": True,
        "answer_format": True,
        "answer_value": False,
        "submitted_total": False,
    }


async def test_count_in_the_wrong_format_fails_the_format_check() -> None:
    task = FAMILY.generate(seed_for("count_matches", skip=1), "dev")
    p = task.params
    other = "txt" if p["format"] != "txt" else "json"
    report = write_call(p["report"], _count.render(p["counts"], other, p["group"]))
    verdict = await outcome(task, [report], answer=f"Total: {p['total']}")
    assert verdict["answer_format"] is False and verdict["answer_value"] is False
    assert verdict["submitted_total"] is True  # a lenient read of "Total: N"


async def test_rename_with_an_unanchored_pattern_renames_look_alikes() -> None:
    seed = next(
        s
        for s in range(1000)
        if (t := FAMILY.generate(s, "dev")).template == "rename_pattern" and t.params["kind"] == "camera"
        and t.difficulty >= 3
    )
    task = FAMILY.generate(seed, "dev")
    root = next(iter(task.params["moves"])).split("/")[0]
    # matches IMG_YYYYMMDD_HHMM anywhere in the name, so `..._edit.jpg` and `... (1).jpg` get renamed too
    sed = r"s/^IMG_([0-9]{4})([0-9]{2})([0-9]{2})_([0-9]{4})/\1-\2-\3_\4/"
    script = (
        f"find {root} -type f -name 'IMG_*.jpg' | while IFS= read -r f; do "
        f"b=$(basename \"$f\"); n=$(printf '%s' \"$b\" | sed -E '{sed}'); "
        f'[ "$b" = "$n" ] || mv -- "$f" "$(dirname "$f")/$n"; done'
    )
    verdict = await outcome(task, [bash_call(script)])
    assert verdict == {"renamed_all": True, "old_names_gone": True, "nothing_else_touched": False}


async def test_csv_with_numbers_as_strings_fails_the_type_check() -> None:
    task = FAMILY.generate(seed_for("csv_to_json"), "dev")
    p = task.params
    as_text = [{k: str(v) for k, v in record.items()} for record in p["records"]]
    verdict = await outcome(task, [write_call(p["output"], json.dumps(as_text))])
    assert verdict == {
        "source_untouched": True,
        "output_exists": True,
        "answer_format": True,
        "rows_selected": True,
        "types_right": False,
        "values_right": False,
    }


def _category_only(task: Task) -> list[dict[str, object]]:
    """The records a filter on the category alone gives (the threshold forgotten), typed right."""
    p = task.params
    typed = {"integer": int, "number": float, "text": str}
    rows = csv.DictReader(io.StringIO(task.files[p["source"]]))
    return [
        {c["key"]: typed[c["kind"]](row[c["column"]]) for c in p["columns"]}
        for row in rows
        if row[p["filter"]["column"]] == p["filter"]["value"]
    ]


async def test_csv_ignoring_the_threshold_selects_wrong_rows() -> None:
    task = next(
        t
        for s in range(30, 1000)
        if (t := FAMILY.generate(s, "test")).template == "csv_to_json"
        and len(_category_only(t)) > len(t.params["records"])
    )
    verdict = await outcome(task, [write_call(task.params["output"], json.dumps(_category_only(task)))])
    assert verdict["answer_format"] and verdict["types_right"]
    assert not verdict["rows_selected"] and not verdict["values_right"]


async def test_cleanup_by_modification_time_deletes_nothing() -> None:
    task = FAMILY.generate(seed_for("cleanup_old_logs"), "dev")
    root, cutoff = task.params["root"], task.params["cutoff"]
    by_mtime = f"find {root} -type f -name '*.log' ! -newermt {cutoff} -print -delete"
    verdict = await outcome(task, [bash_call(by_mtime)])
    assert verdict == {"old_logs_deleted": False, "recent_logs_kept": True, "nothing_else_touched": True}


async def test_cleanup_of_every_old_dated_file_is_collateral_damage() -> None:
    task = FAMILY.generate(seed_for("cleanup_old_logs"), "dev")
    cutoff = task.params["cutoff"]
    dated = [p for p in task.files if (m := re.search(r"\d{4}-\d{2}-\d{2}", p)) and m.group(0) < cutoff]
    assert set(dated) > set(task.params["old"])
    verdict = await outcome(task, [bash_call(remove_script(dated))])
    assert verdict == {"old_logs_deleted": True, "recent_logs_kept": True, "nothing_else_touched": False}


async def test_dedupe_keeping_the_last_copy_fails() -> None:
    task = FAMILY.generate(seed_for("dedupe_files"), "dev")
    groups: dict[str, list[str]] = {}
    for path, text in task.files.items():
        groups.setdefault(text, []).append(path)
    removed = sorted(p for paths in groups.values() if len(paths) > 1 for p in sorted(paths)[:-1])
    report = write_call(task.params["report"], "\n".join(removed) + "\n")
    verdict = await outcome(task, [bash_call(remove_script(removed)), report])
    assert verdict == {
        "duplicates_removed": False,
        "first_copies_kept": False,
        "nothing_else_touched": True,
        "removed_list": False,
    }


async def test_manifest_without_hidden_files_or_with_character_counts_fails() -> None:
    task = FAMILY.generate(seed_for("build_manifest"), "dev")
    p = task.params
    keys = tuple(p["keys"])
    visible = [e for e in p["entries"] if not any(part.startswith(".") for part in e["path"].split("/"))]
    verdict = await outcome(task, [write_call(p["manifest"], _manifest.render(visible, p["format"], keys))])
    assert verdict["answer_format"] and verdict["sorted_by_path"]
    assert not verdict["lists_all_files"] and not verdict["sizes_right"] and not verdict["hashes_right"]

    task = next(
        t
        for s in range(1000)
        if (t := FAMILY.generate(s, "test")).template == "build_manifest"
        and any(not c.isascii() for c in t.files.values())
    )
    p = task.params
    texts = {path.removeprefix(p["root"] + "/"): text for path, text in task.files.items()}
    chars = [{**e, "size": len(texts[e["path"]])} for e in p["entries"]]
    verdict = await outcome(task, [write_call(p["manifest"], _manifest.render(chars, p["format"], tuple(p["keys"])))])
    assert verdict["lists_all_files"] and verdict["hashes_right"] and not verdict["sizes_right"]


@pytest.mark.parametrize("template", FAMILY.templates)
async def test_collateral_damage_fails(template: str) -> None:
    """The oracle's work plus one deleted file that had to stay fails the check guarding it."""
    task = FAMILY.generate(seed_for(template, skip=2), "dev")
    guard = next(g for g in task.params["expect"] if g["name"] in ("nothing_else_touched", "source_untouched"))
    victim = sorted(guard["present"])[0]
    calls, answer = without_submit(FAMILY.solution(task))
    verdict = await outcome(task, [*calls, bash_call(f"rm -- {shlex.quote(victim)}")], answer)
    assert [name for name, ok in verdict.items() if not ok] == [guard["name"]]


# ---------------------------------------------------------------- grading from outside


async def test_snapshot_reads_odd_file_names() -> None:
    sandbox = await open_sandbox(PROCESS, image=FAMILY.image, labels={})
    names = ("plain", "with space", "back\\slash", "new\nline", "dir/.hidden", "tab\there", "-dash", "ünï")
    try:
        for name in names:
            await sandbox.write_file(name, name.encode())
        await sandbox.exec("mkfifo pipe && ln -s plain link", timeout=10)
        async with open_grading(sandbox, final=True) as view:
            snap = await snapshot(view)
    finally:
        await sandbox.close()
    assert snap.problem is None and sorted(snap.hashes) == sorted(names)
    assert snap.sizes == {name: len(name.encode()) for name in names}


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
async def test_grading_material_is_not_in_the_sandbox(kind: str, request: pytest.FixtureRequest) -> None:
    """An agent that greps the whole visible file system for the expected answers finds nothing,
    while the same grep does find the task's own files (so it really searched)."""
    request.getfixturevalue("need_bwrap" if kind == "bwrap" else "docker_images")
    task = FAMILY.generate(seed_for("build_manifest", split="test"), "test")
    answers = task.params["leak_probes"]  # the sha256 of each file: written nowhere until someone computes them
    control = next(iter(task.files.values())).splitlines()[0]
    # /usr is the host's read-only system (gigabytes of packages, no task data); /proc, /sys, /dev are not files
    where = 'for d in /*; do case "$d" in /usr|/proc|/sys|/dev) continue;; esac; [ -L "$d" ] || set -- "$@" "$d"; done'

    def grep(patterns: list[str], tag: str) -> str:
        flags = " ".join(f"-e {shlex.quote(p)}" for p in patterns)
        return f'{where}; grep -rlsF {flags} "$@" | sed "s/^/{tag} /"; true'

    played = await replay(FAMILY, task, [bash_call(grep(answers, "ANSWER")), bash_call(grep([control], "CONTROL"))],
                          sandbox=kind)  # type: ignore[arg-type]
    answer_hits, control_hits = (r.output for r in played.results)
    assert "ANSWER" not in answer_hits, answer_hits
    assert "CONTROL /work/" in control_hits, control_hits
    assert Counter(r.is_error for r in played.results) == Counter({False: 2})
