"""`arena view`: the report served on 127.0.0.1 from a store that may still be written.

The pages and assets are the static site's; the data files are made from the store on request
(the site data re-read at most once a second, steps read again only for episodes that changed),
so new episodes appear without a restart: the pages poll `data/site.js` and reload when its
version changes. The run summary and the paired comparison are built in a thread of their own
when the store changed (`LiveFigures`), never on a request. Only known paths are served; nothing
else of the disk is reachable.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from arena.metrics.summary import SummaryOptions
from arena.store import Store
from arena.viewer.build import ASSETS, PAGES, STATIC, page
from arena.viewer.comparison import site_figures
from arena.viewer.data import CHUNK, SiteData, js_call

HOST = "127.0.0.1"
REFRESH_EVERY = 1.0  # seconds: at most one re-read of the store per interval, however many pages poll
TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
}
ROWS = re.compile(r"/data/rows/(\d{4,6})\.js")
EPISODE = re.compile(r"/data/episodes/([A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}/\d{1,9})\.js")
# A summary reads every step of the runs, seconds for a large store: while a run is being written it
# is rebuilt at most every MIN_GAP seconds, and waits BUSY times as long as the last build took.
MIN_GAP = 2.0
BUSY = 4.0
Builder = Callable[[Store, list[str]], tuple[Any, dict[str, Any]]]


@dataclass
class Built:
    key: tuple[Any, ...]  # (site data version, run ids) it was built from
    version: int
    at: float
    summary_js: str | None
    comparison_js: str | None
    comparison: dict[str, Any]  # the comparison's state (and why there is none)
    error: str | None = None


class LiveFigures:
    """The run summary and paired comparison of the runs shown, rebuilt when the store changed, in a
    thread with its own store connection; the pages get the last one built meanwhile."""

    def __init__(self, path: str, options: SummaryOptions | None = None, build: Builder | None = None) -> None:
        self.path = path
        self.options = options or SummaryOptions()
        self.build = build or self._build
        self.lock = threading.Lock()
        self.built: Built | None = None
        self.wanted: tuple[Any, ...] | None = None
        self.thread: threading.Thread | None = None
        self.finished = float("-inf")
        self.seconds = 0.0
        self.builds = 0

    def _build(self, store: Store, run_ids: list[str]) -> tuple[Any, dict[str, Any]]:
        return site_figures(store, run_ids, self.options)

    def want(self, version: int, run_ids: list[str]) -> None:
        """Ask for the figures of this version of the store's data (a build starts when none runs
        and the last one is not too recent)."""
        key = (version, tuple(run_ids))
        with self.lock:
            self.wanted = key
            if not run_ids or (self.built is not None and self.built.key == key):
                return
            if self.thread is not None and self.thread.is_alive():
                return
            if time.monotonic() - self.finished < max(MIN_GAP, BUSY * self.seconds):
                return
            self.thread = threading.Thread(target=self._run, args=(key,), name="arena-view-summary", daemon=True)
            self.thread.start()

    def _run(self, key: tuple[Any, ...]) -> None:
        started = time.monotonic()
        summary_js = comparison_js = error = None
        comparison: dict[str, Any] = {"state": "absent", "detail": ""}
        try:
            store = Store(self.path, read_only=True)
            try:
                summary, comparison = self.build(store, list(key[1]))
            finally:
                store.close()
            data = summary.model_dump(mode="json") if hasattr(summary, "model_dump") else summary
            summary_js = js_call("summary", data)
            if comparison.get("state") == "present":
                comparison_js = js_call("comparison", comparison["comparison"])
            comparison = {k: v for k, v in comparison.items() if k != "comparison"}
        except Exception as e:  # shown on the page; the server and the episode pages go on
            error = f"{type(e).__name__}: {e}"
        with self.lock:
            self.builds += 1
            self.built = Built(key, self.builds, time.time(), summary_js, comparison_js, comparison, error)
            self.finished = time.monotonic()
            self.seconds = self.finished - started

    def states(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What site.js tells the page of the summary and the comparison."""
        with self.lock:
            built, wanted = self.built, self.wanted
        if wanted is not None and not wanted[1]:
            none = {"state": "absent", "detail": "no runs in the store yet"}
            return none, none
        if built is None:
            waiting = {"state": "building", "detail": "the server is computing the run summary"}
            return waiting, waiting
        stale = built.key != wanted
        when = time.strftime("%H:%M:%S", time.localtime(built.at))
        if built.error is not None:
            failed = {"state": "invalid", "detail": f"the run summary could not be built: {built.error}",
                      "version": built.version}
            return failed, failed
        summary = {"state": "present", "detail": f"computed by the server at {when}", "version": built.version,
                   "stale": stale}
        comparison = {**built.comparison, "version": built.version}
        return summary, comparison

    def js(self, name: str) -> str | None:
        with self.lock:
            built = self.built
        if built is None:
            return None
        return built.summary_js if name == "summary" else built.comparison_js


class LiveSite:
    """The site's files made from the store when asked for."""

    def __init__(self, store: Store, run_ids: Sequence[str] | None, *, options: SummaryOptions | None = None,
                 figures: bool = True) -> None:
        """`figures`: build the run summary and comparison too (with `options`)."""
        self.data = SiteData(store, run_ids)
        self.figures = LiveFigures(str(store.path), options) if figures else None
        self.lock = threading.Lock()  # one reader of the store at a time
        self.checked = 0.0
        self.data.refresh()
        self._want()

    def _want(self) -> None:
        if self.figures is not None:
            self.figures.want(self.data.version, [r.id for r in self.data.runs])

    def fresh(self) -> None:
        if time.monotonic() - self.checked >= REFRESH_EVERY:
            self.data.refresh()
            self.checked = time.monotonic()
        self._want()

    def get(self, path: str) -> tuple[bytes, str] | None:
        if path in ("/", ""):
            path = "/index.html"
        name = path.lstrip("/")
        if name in PAGES:
            return page(name), TYPES[".html"]
        if name.startswith("assets/") and name[len("assets/"):] in STATIC:
            file = name[len("assets/"):]
            return (ASSETS / file).read_bytes(), TYPES["." + file.rsplit(".", 1)[1]]
        with self.lock:
            text = self._data(path)
        return None if text is None else (text.encode(), TYPES[".js"])

    def _data(self, path: str) -> str | None:
        if path == "/data/site.js":
            self.fresh()
            summary, comparison = self.figures.states() if self.figures is not None else (None, None)
            return js_call("site", self.data.site(live=True, summary=summary, comparison=comparison))
        if path in ("/data/summary.js", "/data/comparison.js") and self.figures is not None:
            return self.figures.js(path[len("/data/"):-len(".js")])
        if m := ROWS.fullmatch(path):
            i = int(m.group(1))
            rows = self.data.rows()[i * CHUNK:(i + 1) * CHUNK]
            return js_call("rows", i, rows) if rows or i == 0 else None
        if m := EPISODE.fullmatch(path):
            self.fresh()
            record = self.data.episode(m.group(1))
            return None if record is None else js_call("episode", m.group(1), record)
        return None


def handler_for(site: LiveSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "arena-view"

        def do_GET(self) -> None:
            # Only pages addressed to this machine by name: a web page elsewhere that rebinds its own
            # host name to 127.0.0.1 must not read the report (DNS rebinding).
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if host not in ("127.0.0.1", "localhost"):
                self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "open the report as http://127.0.0.1:PORT/")
                return
            path = unquote(urlsplit(self.path).path)
            try:
                found = site.get(path)
            except Exception as e:  # a store error must not kill the server: the page shows it failed
                self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")
                return
            if found is None:
                self.send_error(HTTPStatus.NOT_FOUND, "not part of the report")
                return
            body, kind = found
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the page moved on
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # requests are not worth a line each
            return

    return Handler


def make_server(site: LiveSite, port: int = 0) -> ThreadingHTTPServer:
    """A server on 127.0.0.1 (port 0: any free port; see `server.server_port`)."""
    server = ThreadingHTTPServer((HOST, port), handler_for(site))
    server.daemon_threads = True
    return server
