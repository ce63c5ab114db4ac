"""Template `sort_by_rule`: move the files of a folder into subfolders by extension, by a date in the
name, or by a header field inside the file, leaving look-alikes (other extensions, hidden files,
dates in another format, the field mentioned in the body) where they are."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from arena.types import Split, Subgoal, Task, ToolCall

from ._common import (
    Draft,
    Template,
    UniqueNames,
    bash_call,
    expect,
    join_words,
    move_script,
    pick,
    random_day,
    sha,
    token,
    unchanged,
)

ROOTS = {"dev": ["inbox", "scans", "desk"], "test": ["downloads", "incoming", "dropzone"]}
TICKET_ROOTS = {"dev": ["tickets", "support"], "test": ["cases", "helpdesk-export"]}
EXT_GROUPS = {
    "dev": {"documents": ["pdf", "docx", "txt"], "images": ["jpg", "png"], "spreadsheets": ["csv", "xlsx"]},
    "test": {"papers": ["pdf", "odt", "md"], "pictures": ["jpeg", "webp", "gif"], "tables": ["tsv", "ods", "xls"]},
}
OTHER_EXTS = {"dev": ["zip", "ics", "eml", "iso"], "test": ["tar", "vcf", "msg", "dmg"]}
WORDS = {
    "dev": ["report", "invoice", "summary", "minutes", "budget", "roadmap", "contract", "draft", "notes"],
    "test": ["proposal", "receipt", "memo", "forecast", "agenda", "review", "statement", "brief", "plan"],
}
DATE_RANGE = {"dev": (dt.date(2021, 1, 1), dt.date(2023, 12, 31)), "test": (dt.date(2024, 1, 1), dt.date(2025, 12, 31))}
DATE_LAYOUT = {"dev": "YYYY/MM", "test": "YYYY-MM"}
STATUSES = {"dev": ["open", "closed", "waiting"], "test": ["new", "resolved", "escalated"]}
TICKET_PREFIX = {"dev": "TCK", "test": "CASE"}
PEOPLE = {"dev": ["amira", "bo", "chen", "dana", "eli"], "test": ["farah", "goran", "hana", "ivo", "jules"]}
SUBJECTS = {
    "dev": ["printer offline", "password reset", "VPN drops", "invoice missing", "laptop slow"],
    "test": ["badge not working", "mailbox full", "license expired", "screen flickers", "SSO loop"],
}


class Sorting:
    """Collects the files of one instance: those that must move (source -> target) and those that stay."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.names = UniqueNames()
        self.files: dict[str, str] = {}
        self.moves: dict[str, str] = {}
        self.stay: list[str] = []

    def fresh(self, rng: random.Random, build: Callable[[random.Random], str]) -> str:
        return self.names.make(rng, build)

    def add(self, path: str, content: str, target: str | None) -> None:
        self.files[path] = content
        if target is None:
            self.stay.append(path)
        else:
            self.moves[path] = target


def _doc_name(words: list[str], ext: str, spaces: bool) -> Callable[[random.Random], str]:
    def build(rng: random.Random) -> str:
        sep = rng.choice([" ", "_", "-"] if spaces else ["_", "-"])
        return f"{rng.choice(words)}{sep}{rng.randint(1, 99)}.{ext}"

    return build


def _by_extension(rng: random.Random, split: Split, difficulty: int, s: Sorting) -> tuple[list[str], list[str]]:
    groups = dict(rng.sample(sorted(EXT_GROUPS[split].items()), k=2 if difficulty == 1 else 3))
    words, spaces = WORDS[split], difficulty >= 2
    for _ in range(4 + 3 * difficulty):
        folder = rng.choice(sorted(groups))
        ext = rng.choice(groups[folder])
        ext = ext.upper() if difficulty >= 2 and rng.random() < 0.25 else ext
        name = s.fresh(rng, _doc_name(words, ext, spaces))
        s.add(f"{s.root}/{name}", f"{name}\n{token(rng, 24)}\n", f"{s.root}/{folder}/{name}")
    for ext in rng.sample(OTHER_EXTS[split], k=2):
        name = s.fresh(rng, _doc_name(words, ext, spaces))
        s.add(f"{s.root}/{name}", f"{name}\n{token(rng, 24)}\n", None)
    s.add(f"{s.root}/README", "Drop files here; they get sorted.\n", None)
    if difficulty >= 2:
        ext = rng.choice(groups[rng.choice(sorted(groups))])
        backup = s.fresh(rng, _doc_name(words, f"{ext}.bak", spaces))
        hidden = "." + s.fresh(rng, _doc_name(words, ext, False))
        for name in (backup, hidden):
            s.add(f"{s.root}/{name}", f"{name}\n{token(rng, 24)}\n", None)
    if difficulty >= 3:
        ext = rng.choice(groups[rng.choice(sorted(groups))])
        name = s.fresh(rng, _doc_name(words, ext, spaces))
        s.add(f"{s.root}/archive/{name}", f"{name}\n{token(rng, 24)}\n", None)
    r = s.root
    rules = [f"`{r}/{folder}/` gets the {join_words([f'.{e}' for e in exts])} files" for folder, exts in groups.items()]
    short = "; ".join(f"{', '.join('.' + e for e in exts)} -> `{r}/{folder}/`" for folder, exts in groups.items())
    facts = [f"{r}/{folder}/" for folder in groups] + [f".{e}" for exts in groups.values() for e in exts]
    return [
        f"The `{r}/` folder is a mess. Sort the files that sit directly in `{r}/` into subfolders by file "
        f"extension: {join_words(rules)}. The extension is the part of the name after the last dot, and it is "
        f"matched case-insensitively (so .PDF counts as .pdf). Create the subfolders as needed and keep the file "
        f"names. Leave everything else exactly where it is: files with any other extension or none, hidden files "
        f"(names starting with a dot), and anything already inside a subfolder.",
        f"Please tidy up `{r}/` for me. Rules, by extension (the text after the final dot, upper or lower case "
        f"alike): {short}. Only files directly in `{r}/` are sorted; files in its existing subfolders, hidden "
        f"files whose names begin with a dot, and files whose extension is not listed (or who have none) must not "
        f"be moved or changed. Moved files keep their names.",
        f"Task: move files by type.\n- Folder: `{r}/` (top level only; do not touch existing subfolders)\n"
        + "".join(f"- {', '.join('.' + e for e in exts)} -> `{r}/{folder}/`\n" for folder, exts in groups.items())
        + "- Extension = text after the last dot, compared case-insensitively\n- Hidden files (leading dot), "
        "unlisted extensions and files without an extension stay put\n- Keep file names; create folders as needed",
    ], facts


def _dated_name(words: list[str], ext_pool: list[str], day: dt.date, spaces: bool) -> Callable[[random.Random], str]:
    def build(rng: random.Random) -> str:
        word, ext, d = rng.choice(words), rng.choice(ext_pool), day.isoformat()
        shapes = [f"{word}_{d}.{ext}", f"{word}-{d}-v{rng.randint(1, 4)}.{ext}", f"{d}_{word}.{ext}"]
        if spaces:
            shapes.append(f"{d} {word}.{ext}")
        return rng.choice(shapes)

    return build


def _by_date(rng: random.Random, split: Split, difficulty: int, s: Sorting) -> tuple[list[str], list[str]]:
    first, last = DATE_RANGE[split]
    exts = ["pdf", "txt", "png", "csv"] if split == "dev" else ["pdf", "md", "jpeg", "tsv"]
    layout, words, spaces = DATE_LAYOUT[split], WORDS[split], difficulty >= 2
    for _ in range(4 + 3 * difficulty):
        day = random_day(rng, first, last)
        name = s.fresh(rng, _dated_name(words, exts, day, spaces))
        folder = f"{day:%Y}/{day:%m}" if layout == "YYYY/MM" else f"{day:%Y-%m}"
        s.add(f"{s.root}/{name}", f"{name}\n{token(rng, 24)}\n", f"{s.root}/{folder}/{name}")
    undated = [s.fresh(rng, lambda g: f"{g.choice(words)}.{g.choice(exts)}")]
    undated.append(s.fresh(rng, lambda g: f"{g.choice(words)}_{random_day(g, first, last):%Y%m%d}.{g.choice(exts)}"))
    if difficulty >= 2:
        undated.append("." + s.fresh(rng, _dated_name(words, exts, random_day(rng, first, last), False)))
    for name in undated:
        s.add(f"{s.root}/{name}", f"{name}\n{token(rng, 24)}\n", None)
    if difficulty >= 3:
        name = s.fresh(rng, _dated_name(words, exts, random_day(rng, first, last), spaces))
        s.add(f"{s.root}/old/{name}", f"{name}\n{token(rng, 24)}\n", None)
    r = s.root
    example = "2019/07/" if layout == "YYYY/MM" else "2019-07/"
    where = "a folder per year with a folder per month inside" if layout == "YYYY/MM" else "one folder per month"
    return [
        f"Sort the files lying directly in `{r}/` by the date in their names. Every file whose name contains a date "
        f"written as YYYY-MM-DD goes into {where}: for example a file dated 2019-07-04 goes to `{r}/{example}` "
        f"(layout `{r}/{layout}/`). Keep the names. Files without a YYYY-MM-DD date (other date styles such as "
        f"20190704 do not count), hidden files (leading dot) and files already in subfolders stay untouched.",
        f"I scan everything into `{r}/` and want it filed by month. Move each top-level file of `{r}/` whose name "
        f"has a date in the form YYYY-MM-DD to `{r}/{layout}/` using that date, e.g. 2019-07-04 -> "
        f"`{r}/{example}`; file names stay the same. Don't move or edit anything else: names with no date or a "
        f"date in another format (like 20190704), names starting with a dot, and whatever is in subfolders.",
        f"Goal: file documents by date.\n- Source: files directly in `{r}/`\n- Date: the YYYY-MM-DD in the file "
        f"name (only that exact form)\n- Target: `{r}/{layout}/<same name>`, e.g. 2019-07-04 -> `{r}/{example}`\n"
        f"- Not moved: files without such a date, hidden files, contents of existing subfolders",
    ], [f"{r}/{layout}/", "YYYY-MM-DD"]


def _ticket(
    prefix: str,
    number: int,
    status: str | None,
    person: str,
    subject: str,
    shuffle: bool,
    rng: random.Random,
    echo: str | None,
) -> str:
    header = [f"Ticket: {prefix}-{number}", f"Assignee: {person}", f"Subject: {subject}"]
    if status is not None:
        header.insert(1, f"Status: {status}")
    if shuffle:
        rng.shuffle(header)
    body = f"Reported by a colleague. Reference {token(rng, 8)}."
    if echo is not None:
        body += f" Last week the customer asked us to set Status: {echo} but that was reverted."
    return "\n".join(header) + "\n\n" + body + "\n"


def _by_field(rng: random.Random, split: Split, difficulty: int, s: Sorting) -> tuple[list[str], list[str]]:
    statuses, prefix = STATUSES[split], TICKET_PREFIX[split]
    numbers = rng.sample(range(1000, 9999), 8 + 3 * difficulty)

    def ticket(status: str | None, echo: str | None = None) -> tuple[str, str]:
        number, person, subject = numbers.pop(), rng.choice(PEOPLE[split]), rng.choice(SUBJECTS[split])
        content = _ticket(prefix, number, status, person, subject, difficulty >= 2, rng, echo)
        return f"{prefix}-{number}.txt", content

    for _ in range(4 + 3 * difficulty):
        status = rng.choice(statuses)
        echo = rng.choice([x for x in statuses if x != status]) if difficulty >= 2 and rng.random() < 0.4 else None
        name, content = ticket(status, echo)
        s.add(f"{s.root}/{name}", content, f"{s.root}/{status}/{name}")
    name, content = ticket(None)
    s.add(f"{s.root}/{name}", content, None)
    s.add(f"{s.root}/triage-notes.md", f"Status: {rng.choice(statuses)}\nRemember to sort the tickets.\n", None)
    if difficulty >= 3:
        name, content = ticket(rng.choice(statuses))
        s.add(f"{s.root}/.{name}", content, None)
    r = s.root
    folders = join_words([f"`{r}/{x}/`" for x in statuses])
    return [
        f"The `{r}/` folder holds support tickets as .txt files. Move each ticket file (a .txt file directly in "
        f"`{r}/`) into a subfolder of `{r}/` named after its status: the value on the line that starts with "
        f"`Status:`. The statuses are {join_words(statuses)}, so the folders are {folders}. Keep the file names. "
        f"A mention of a status in the ticket's text further down does not count. Files without a Status line, "
        f"files that are not .txt, hidden files (leading dot) and everything else stay untouched.",
        f"Could you file our tickets by status? Each .txt in `{r}/` (top level only) has a header line like "
        f"`Status: {statuses[0]}`; put the file into `{r}/<status>/` with the same name ({folders}). Only that "
        f"header line decides; ignore statuses quoted in the body. Leave alone anything that has no Status line, "
        f"isn't a .txt file, or is hidden (name starting with a dot).",
        f"Ticket filing:\n- Tickets: .txt files directly in `{r}/`\n- Status: the value on the line beginning with "
        f"`Status:` (one of {join_words(statuses)})\n- Move to `{r}/<status>/<same name>`: {folders}\n"
        f"- Body text that mentions a status is irrelevant\n- Untouched: files with no Status line, non-.txt files, "
        f"hidden files",
    ], [f"{r}/{x}/" for x in statuses] + ["Status:"]


RULES = {"extension": _by_extension, "date": _by_date, "field": _by_field}


def draft(rng: random.Random, split: Split, difficulty: int) -> Draft:
    rule = rng.choice(sorted(RULES))
    s = Sorting(pick(rng, TICKET_ROOTS if rule == "field" else ROOTS, split))
    instructions, facts = RULES[rule](rng, split, difficulty, s)
    moved = {target: sha(s.files[source]) for source, target in s.moves.items()}
    params = {
        "rule": rule,
        "root": s.root,
        "moves": s.moves,
        "expect": [
            expect("moved_all", present=moved),
            expect("sources_removed", absent=s.moves),
            expect("nothing_else_touched", present=unchanged(s.files, s.stay), kind="guard"),
        ],
        "facts": facts,
        "leak_probes": sorted(s.moves.values()),
    }
    return Draft(
        instructions=instructions,
        files=s.files,
        params=params,
        subgoals=[
            Subgoal(
                name="move_matching",
                description="Every matching file is in its folder, and everything else is where it was",
                checks=["moved_all", "sources_removed", "nothing_else_touched"],
            ),
        ],
        human_minutes=round(2 + 0.5 * len(s.moves) + 0.3 * len(s.stay), 1),
        max_steps=20 + 5 * difficulty,
    )


def solution(task: Task) -> list[ToolCall]:
    return [bash_call(move_script(task.params["moves"]), "move_matching")]


TEMPLATE = Template(name="sort_by_rule", draft=draft, solution=solution)
