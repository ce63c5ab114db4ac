"""Template `cleanup_old_logs`: delete the log files dated (in their names) before a cutoff, keeping
recent logs, logs of the cutoff day, undated logs and non-log files with old dates. All files get
the same modification time (a restore from backup), so only the names tell the age."""

from __future__ import annotations

import datetime as dt
import random

from arena.types import Split, Subgoal, Task, ToolCall

from ._common import Draft, Template, UniqueNames, bash_call, expect, pick, random_day, remove_script, token, unchanged

ROOTS = {"dev": ["var/log", "srv/logs"], "test": ["backups/logs", "mnt/logs"]}
APPS = {
    "dev": ["nginx", "postgres", "worker", "cron", "api"],
    "test": ["haproxy", "redis", "mailer", "queue", "backend"],
}
STYLE = {  # how a log's name carries its date, and how the instructions show that
    "dev": ("{app}-{day:%Y-%m-%d}.log", "<app>-YYYY-MM-DD.log"),
    "test": ("{app}.{day:%Y%m%d}.log", "<app>.YYYYMMDD.log"),
}
CUTOFFS = {"dev": (dt.date(2023, 3, 1), dt.date(2023, 10, 31)), "test": (dt.date(2024, 9, 1), dt.date(2025, 4, 30))}
RESTORED = {"dev": "2024-01-15 08:00:00", "test": "2025-06-02 07:30:00"}  # newer than every date in the names


def _line(rng: random.Random, app: str, day: dt.date) -> str:
    return f"{day.isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z {app} request {token(rng, 8)}"


def _log(rng: random.Random, app: str, day: dt.date) -> str:
    return "\n".join(_line(rng, app, day) for _ in range(rng.randint(2, 5))) + "\n"


def draft(rng: random.Random, split: Split, difficulty: int) -> Draft:
    root = pick(rng, ROOTS, split)
    apps = rng.sample(APPS[split], min(1 + difficulty, len(APPS[split])))
    pattern, shown = STYLE[split]
    cutoff = random_day(rng, *CUTOFFS[split])
    files: dict[str, str] = {}
    old: list[str] = []
    names = UniqueNames()

    def add(path: str, content: str, is_old: bool = False) -> None:
        if names.take(path):
            files[path] = content
            if is_old:
                old.append(path)

    for app in apps:
        folders = [f"{root}/{app}"] + ([f"{root}/{app}/archive"] if difficulty >= 3 else [])
        for _ in range(3 + 2 * difficulty):
            day = cutoff + dt.timedelta(days=rng.randint(-150, 60))
            add(f"{rng.choice(folders)}/{pattern.format(app=app, day=day)}", _log(rng, app, day), day < cutoff)
        add(f"{root}/{app}/{app}.log", _log(rng, app, cutoff + dt.timedelta(days=61)))
        add(f"{root}/{app}/.keep", "")
        if difficulty >= 2:
            day = cutoff - dt.timedelta(days=rng.randint(20, 90))
            add(f"{root}/{app}/{pattern.format(app=app, day=day).removesuffix('.log')}.json", '{"rotated": true}\n')
            add(f"{root}/{app}/{pattern.format(app=app, day=cutoff)}", _log(rng, app, cutoff))
            recent = cutoff + dt.timedelta(days=rng.randint(1, 30))
            content = _log(rng, app, recent) + f"{cutoff - dt.timedelta(days=400)} replayed entry\n"
            add(f"{root}/{app}/{pattern.format(app=app, day=recent)}", content)
    add(f"{root}/README.txt", f"Log retention: see runbook. Last cleanup {cutoff - dt.timedelta(days=365)}.\n")
    if not old:  # every instance has something to delete
        day = cutoff - dt.timedelta(days=10)
        add(f"{root}/{apps[0]}/{pattern.format(app=apps[0], day=day)}", _log(rng, apps[0], day), True)
    keep = [p for p in files if p not in old]
    logs_kept = [p for p in keep if p.endswith(".log")]
    others = [p for p in keep if not p.endswith(".log")]
    c = cutoff.isoformat()
    instructions = [
        f"Disk space is running out. Under `{root}/` (all subfolders included), delete every log file whose name "
        f"says it is older than {c}. Log files are named `{shown}` and end in `.log`; the date in the name is the "
        f"day of the log. Delete those dated strictly before {c}; keep the ones from {c} and later, logs without a "
        f"date in the name, and every file that does not end in `.log`. File modification times are meaningless "
        f"here (the files were restored from a backup), so go by the name.",
        f"Please clean up old logs in `{root}/` and below: remove `.log` files named like `{shown}` whose date "
        f"comes before {c} (a log dated exactly {c} stays). Anything else must survive untouched: newer logs, "
        f"undated logs, files with other endings even if they carry an old date. Ignore the files' timestamps; "
        f"they all show the day of a backup restore. Only the date in the name counts.",
        f"Log retention.\n- Tree: `{root}/` (recursive)\n- Log files: names `{shown}` ending in `.log`\n"
        f"- Delete: logs dated before {c} (by the date in the name, not the mtime)\n- Keep: logs dated {c} or "
        f"later, undated logs, all non-.log files",
    ]
    params = {
        "root": root,
        "cutoff": c,
        "old": sorted(old),
        "mtime": RESTORED[split],
        "expect": [
            expect("old_logs_deleted", absent=old),
            expect("recent_logs_kept", present=unchanged(files, logs_kept), kind="guard"),
            expect("nothing_else_touched", present=unchanged(files, others), kind="guard"),
        ],
        "facts": [f"`{root}/`", c, f"`{shown}`"],
        "leak_probes": sorted(old),
    }
    return Draft(
        instructions=instructions,
        files=files,
        params=params,
        subgoals=[
            Subgoal(
                name="delete_old",
                description=f"Logs dated before {c} are gone; recent logs and other files stay",
                checks=["old_logs_deleted", "recent_logs_kept", "nothing_else_touched"],
            ),
        ],
        human_minutes=round(3 + 0.25 * len(files), 1),
        max_steps=20 + 5 * difficulty,
    )


def solution(task: Task) -> list[ToolCall]:
    return [bash_call(remove_script(task.params["old"]), "delete_old")]


TEMPLATE = Template(name="cleanup_old_logs", draft=draft, solution=solution)
