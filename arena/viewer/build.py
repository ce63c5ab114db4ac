"""The static site: `arena report RUN [RUN...] --html DIR` writes it, and it opens from file://
with no network (every script and style is in DIR/assets, every piece of data in DIR/data).

    DIR/index.html        overview: runs, outcome counts and rates per agent, level and family; the summary
    DIR/episodes.html     every episode, filtered, searched, sorted and paged; data/rows/*.js load as needed
    DIR/episode.html#ID   one trajectory (ID is <run>/<number>); data/episodes/<run>/<number>.js
    DIR/compare.html#a=ID&b=ID   two episodes of the same task, step against step
    DIR/summary.json      the run summary, when one is written beside the site (read at build time)
    DIR/comparison.json   the paired comparison of its agents, likewise (`arena.viewer.comparison`)
"""

from __future__ import annotations

import functools
import json
import shutil
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from arena.errors import ConfigError
from arena.store import Store
from arena.viewer.data import SiteData, js_call

ASSETS = Path(__file__).parent / "assets"
# Every page is one shell (assets/page.html) that app.js fills by its `data-page`: its title,
# that name, and the scripts it needs beyond app.js.
PAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "index.html": ("Arena report", "overview", ("figures.js", "plots.js")),
    "episodes.html": ("Episodes · Arena report", "episodes", ()),
    "episode.html": ("Episode · Arena report", "episode", ()),
    "compare.html": ("Side by side · Arena report", "compare", ()),
}
STATIC = ("app.js", "figures.js", "plots.js", "style.css")
SUMMARY_FILE = "summary.json"
COMPARISON_FILE = "comparison.json"


def check_target(out: Path) -> None:
    """Refuse to write into a folder that holds something other than an earlier report."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give --html a folder (new, empty, or an earlier report)")
    if not out.exists():
        return
    ours = set(PAGES) | {"assets", "data", SUMMARY_FILE, COMPARISON_FILE}
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if foreign and not (out / "data" / "site.js").exists():
        raise ConfigError(f"{out} holds other files ({', '.join(foreign[:3])}); give --html a new or empty folder "
                          "(or an earlier report to replace)")


def beside(out: Path, name: str, given: Any) -> tuple[dict[str, Any], Any]:
    """The data to embed (given, or read from DIR/name) and what the page is told of it."""
    path = out / name
    if given is not None:
        data = given.model_dump(mode="json") if isinstance(given, BaseModel) else given
        path.write_text(json.dumps(data, indent=1))
        return {"state": "present", "detail": name}, data
    if not path.exists():
        return {"state": "absent", "detail": f"no {name} beside the site"}, None
    try:
        return {"state": "present", "detail": name}, json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return {"state": "invalid", "detail": f"{name} could not be read: {e}"}, None


def comparison_state(out: Path, comparison: Any) -> tuple[dict[str, Any], Any]:
    """`comparison`: a Comparison, the dict of `site_comparison` (whose state may say why there is
    none), or None (read DIR/comparison.json if there is one)."""
    if isinstance(comparison, dict) and "state" in comparison:
        if comparison["state"] != "present":
            (out / COMPARISON_FILE).unlink(missing_ok=True)
            return {"state": comparison["state"], "detail": comparison.get("detail", "")}, None
        comparison = comparison["comparison"]
    return beside(out, COMPARISON_FILE, comparison)


@functools.cache
def page(name: str) -> bytes:
    """The HTML of page `name` (a key of PAGES)."""
    title, data_page, scripts = PAGES[name]
    shell = string.Template((ASSETS / "page.html").read_text())
    tags = "".join(f'<script src="assets/{script}"></script>\n' for script in scripts)
    return shell.substitute(title=title, page=data_page, scripts=tags).encode()


def copy_assets(out: Path) -> None:
    (out / "assets").mkdir(parents=True, exist_ok=True)
    for name in PAGES:
        (out / name).write_bytes(page(name))
    for name in STATIC:
        shutil.copyfile(ASSETS / name, out / "assets" / name)


def build_site(
    store: Store, run_ids: Sequence[str], out: str | Path, *, summary: Any = None, comparison: Any = None,
    console: Console | None = None,
) -> Path:
    """Write the site of the runs into `out` and return the overview page. `summary` (a dict or a
    pydantic model) is written to out/summary.json; without it, an existing summary.json is used.
    `comparison` likewise (see `comparison_state`)."""
    out = Path(out)
    check_target(out)
    console = console or Console(stderr=True)
    data = SiteData(store, run_ids)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "data", ignore_errors=True)
    (out / "data" / "rows").mkdir(parents=True)
    copy_assets(out)
    state, summary_data = beside(out, SUMMARY_FILE, summary)
    compared, comparison_data = comparison_state(out, comparison)
    folders: set[Path] = set()

    def write_episode(site_id: str, record: dict[str, Any]) -> None:
        path = out / "data" / "episodes" / f"{site_id}.js"
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        path.write_text(js_call("episode", site_id, record))

    total = sum(info.episodes for run_id in run_ids if (info := store.get_run(run_id)) is not None)
    progress = Progress(
        TextColumn("[bold]report"), BarColumn(), MofNCompleteColumn(), TextColumn("episodes"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task("episodes", total=total)
        data.refresh(write_episode, lambda n: progress.advance(task, n))
    for i, rows in enumerate(data.chunks()):
        (out / "data" / "rows" / f"{i:04d}.js").write_text(js_call("rows", i, rows))
    if summary_data is not None:
        (out / "data" / "summary.js").write_text(js_call("summary", summary_data))
    if comparison_data is not None:
        (out / "data" / "comparison.js").write_text(js_call("comparison", comparison_data))
    (out / "data" / "site.js").write_text(js_call("site", data.site(summary=state, comparison=compared)))
    return out / "index.html"
