#!/usr/bin/env python3
"""How fast the HTML report opens on a large run, measured in headless Chromium.

Fills a store with N episodes (default 10,000): a small real run (oracle and random on `files` and
`helpdesk` at all three levels, with and without faults) is played first, and its trajectories are
copied, through the store's own API, into one large run with N planned episodes, so the
large run holds real steps, checks and outputs. Then it builds the static site as `arena report
--html` does (the run summary and the paired comparison embedded), and opens it in Debian's
Chromium (driven by Playwright) several times, reading the page's own clock (`ARENA.timing`,
milliseconds since navigation):

- baseline: a blank local page, and the same site for a 100-episode run, in the same browser;
- the episode table: its first page shown, and every row loaded (filters and search see all);
- the overview with every figure table and plot of the summary drawn;
- one filter applied, a trajectory page, and the episode table served live by `arena view`, and
  how long `arena view` takes to have the summary ready.

    .venv/bin/python scripts/bench_viewer.py [--episodes 10000] [--repeat 5]

Prints medians and ratios against the baselines measured in the same run. Not a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from arena.store import Store  # noqa: E402
from arena.viewer import LiveSite, build_site, make_server  # noqa: E402
from arena.viewer.comparison import site_figures  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def seed_run(db: Path) -> None:
    """A small real run whose trajectories the large run copies."""
    subprocess.run(
        [sys.executable, "-m", "arena.cli", "run", "--agents", "oracle,random", "--families", "files,helpdesk",
         "--seeds", "0-2", "--level", "copilot,agent,worker", "--faults", "0,0.3", "--sandbox", "process",
         "--unsafe-local", "--db", str(db), "--run-id", "seed", "--quiet", "--concurrency", "4"],
        cwd=REPO, check=True, capture_output=True,
    )


def fill(db: Path, run_id: str, n: int) -> None:
    """A run of n episodes, each a copy of a real one (its task info, steps and result)."""
    store = Store(db)
    real = [(e, store.steps("seed", e.key)) for e in store.episodes("seed") if e.result is not None]
    agents = ["oracle", "random", "model-a", "model-b", "model-c"]
    # Episode i copies real episode i mod len(real) as (agent i mod 5, seed i div 5): every key unique.
    keys = [real[i % len(real)][0].key.model_copy(update={"agent": agents[i % len(agents)],
                                                          "seed": i // len(agents), "trial": 0})
            for i in range(n)]
    store.create_run(run_id, {"agents": agents, "families": ["files", "helpdesk"],
                              "levels": ["copilot", "agent", "worker"], "sandbox": {"kind": "process"}}, keys)
    store.db.execute("PRAGMA synchronous=OFF")  # a benchmark fixture, not a run: no need to survive a crash
    for i, key in enumerate(keys):
        source, steps = real[i % len(real)]
        attempt = store.start_attempt(run_id, key, source.task_id or "", source.task)
        for step in steps:
            store.add_step(run_id, key, attempt, step)
        store.finish_episode(run_id, key, source.result)  # type: ignore[arg-type]
    store.close()


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples):8.1f} ms"


def measure(context: Any, url: str, *, wait: str, mark: str, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(wait, timeout=60_000)
        samples.append(float(page.evaluate(mark)))
        page.close()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the store and the sites (printed) afterwards")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    db = work / "arena.db"
    t = time.perf_counter()
    seed_run(db)
    print(f"real seed run (72 episodes):           {time.perf_counter() - t:8.1f} s")
    t = time.perf_counter()
    fill(db, "big", args.episodes)
    fill(db, "small", 100)
    print(f"store filled ({args.episodes:,} episodes):      {time.perf_counter() - t:8.1f} s")
    store = Store(db, read_only=True)
    steps = store.db.execute("SELECT count(*) FROM steps WHERE run_id = 'big'").fetchone()[0]
    t = time.perf_counter()
    summary, comparison = site_figures(store, ["big"])
    made = time.perf_counter() - t
    print(f"summary and comparison built:       {made:8.1f} s  (every step read; {comparison.get('detail', '')} "
          "compared)")
    t = time.perf_counter()
    build_site(store, ["big"], work / "big", summary=summary, comparison=comparison)
    build = time.perf_counter() - t
    small, small_comparison = site_figures(store, ["small"])
    build_site(store, ["small"], work / "small", summary=small, comparison=small_comparison)
    size = sum(f.stat().st_size for f in (work / "big").rglob("*") if f.is_file())
    files = sum(1 for f in (work / "big").rglob("*") if f.is_file())
    print(f"report built:                       {build:8.1f} s  ({steps:,} steps, {files:,} files, "
          f"{size / 1e6:.0f} MB; {1000 * build / args.episodes:.2f} ms per episode)")
    rows = sum(f.stat().st_size for f in (work / "big" / "data" / "rows").iterdir())
    print(f"episode table data:                 {rows / 1e6:8.2f} MB in {len(list((work / 'big/data/rows').iterdir()))}"
          " files")
    figures = sum((work / "big" / "data" / f).stat().st_size for f in ("summary.js", "comparison.js"))
    print(f"summary and comparison data:        {figures / 1e6:8.2f} MB")
    (work / "blank.html").write_text("<!doctype html><title>blank</title><p>blank")

    t = time.perf_counter()
    live = LiveSite(store, ["big"])
    print(f"arena view: store read at start:    {time.perf_counter() - t:8.1f} s")
    assert live.figures is not None and live.figures.thread is not None
    live.figures.thread.join()
    print(f"arena view: summary ready after:    {time.perf_counter() - t:8.1f} s  (built in the background)")
    server = make_server(live, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS)
        r = args.repeat
        measure(context, (work / "big" / "episodes.html").as_uri(), wait="#episodes[data-loaded='complete']",
                mark="ARENA.timing.rows", repeat=1)  # warm the disk cache and the browser once
        blank = measure(context, (work / "blank.html").as_uri(), wait="p",
                        mark="performance.getEntriesByType('navigation')[0].loadEventEnd", repeat=r)
        small_ready = measure(context, (work / "small" / "episodes.html").as_uri(), wait="body[data-ready='1']",
                              mark="ARENA.timing.ready", repeat=r)
        ready = measure(context, (work / "big" / "episodes.html").as_uri(), wait="body[data-ready='1']",
                        mark="ARENA.timing.ready", repeat=r)
        complete = measure(context, (work / "big" / "episodes.html").as_uri(),
                           wait="#episodes[data-loaded='complete']", mark="ARENA.timing.rows", repeat=r)
        small_overview = measure(context, (work / "small" / "index.html").as_uri(), wait="body[data-ready='1']",
                                 mark="ARENA.timing.ready", repeat=r)
        overview = measure(context, (work / "big" / "index.html").as_uri(), wait="body[data-ready='1']",
                           mark="ARENA.timing.ready", repeat=r)
        page = context.new_page()
        page.goto((work / "big" / "index.html").as_uri())
        page.wait_for_selector("body[data-ready='1']")
        marks = page.evaluate("document.querySelectorAll('#plots svg *').length")
        tables = page.evaluate("document.querySelectorAll('table.figures').length")
        page.close()
        trajectory = measure(context, (work / "big" / "episode.html").as_uri() + "#big/4321",
                             wait="body[data-ready='1']", mark="ARENA.timing.ready", repeat=r)
        served = measure(context, base + "episodes.html", wait="#episodes[data-loaded='complete']",
                         mark="ARENA.timing.rows", repeat=r)
        filtering = []
        for _ in range(r):
            page = context.new_page()
            page.goto((work / "big" / "episodes.html").as_uri())
            page.wait_for_selector("#episodes[data-loaded='complete']")
            t = time.perf_counter()
            page.select_option("select[name='outcome']", "fail")
            page.fill("input[name='q']", "no_takeover")
            page.wait_for_selector("#episodes tbody tr .why:text('no_takeover')")
            filtering.append(1000 * (time.perf_counter() - t))
            page.close()
        context.close()
    server.shutdown()

    b, s = statistics.median(blank), statistics.median(small_ready)
    print(f"\nChromium, median of {r} (ms since navigation):")
    print(f"  blank local page (baseline)      {median_ms(blank)}")
    print(f"  100-episode table, first page    {median_ms(small_ready)}  {s / b:6.1f}x blank")
    print(f"  {args.episodes:,}-episode table, first page {median_ms(ready)}  {statistics.median(ready) / b:6.1f}x "
          f"blank, {statistics.median(ready) / s:4.2f}x the 100-episode table")
    print(f"  {args.episodes:,}-episode table, all rows   {median_ms(complete)}  "
          f"{statistics.median(complete) / b:6.1f}x blank")
    so = statistics.median(small_overview)
    print(f"  100-episode overview, plots      {median_ms(small_overview)}  {so / b:6.1f}x blank")
    big = f"{args.episodes:,}-episode overview, plots"
    print(f"  {big:<33}{median_ms(overview)}  {statistics.median(overview) / b:6.1f}x "
          f"blank, {statistics.median(overview) / so:4.2f}x the 100-episode overview "
          f"({tables} tables, {marks:,} SVG elements)")
    print(f"  one trajectory page              {median_ms(trajectory)}")
    print(f"  a filter and a search, all rows  {median_ms(filtering)}  (wall clock, Playwright round trips included)")
    print(f"  served by arena view, all rows   {median_ms(served)}  (the data made from the store on request)")
    if args.keep:
        print(f"\nstore and sites kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
