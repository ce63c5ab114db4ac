"""`arena view`: the report served on 127.0.0.1 from a store that may still be written.

The pages and assets are the static site's; the data files are made from the store on request
(the site data re-read at most once a second, steps read again only for episodes that changed),
so new episodes appear without a restart: the pages poll `data/site.js` and reload when its
version changes. Only known paths are served; nothing else of the disk is reachable.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from arena.store import Store
from arena.viewer.build import ASSETS, PAGES, STATIC
from arena.viewer.data import CHUNK, SiteData, js_call

HOST = "127.0.0.1"
REFRESH_EVERY = 1.0  # seconds: at most one re-read of the store per interval, however many pages poll
TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
}
ROWS = re.compile(r"/data/rows/(\d{4,6})\.js")
EPISODE = re.compile(r"/data/episodes/([A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}/\d{1,9})\.js")
SummaryProvider = Callable[[], Any]


class LiveSite:
    """The site's files made from the store when asked for."""

    def __init__(self, store: Store, run_ids: Sequence[str] | None, summary: SummaryProvider | None = None) -> None:
        self.data = SiteData(store, run_ids)
        self.summary = summary
        self.lock = threading.Lock()  # one reader of the store at a time
        self.checked = 0.0
        self.data.refresh()

    def fresh(self) -> None:
        if time.monotonic() - self.checked >= REFRESH_EVERY:
            self.data.refresh()
            self.checked = time.monotonic()

    def get(self, path: str) -> tuple[bytes, str] | None:
        if path in ("/", ""):
            path = "/index.html"
        name = path.lstrip("/")
        if name in PAGES:
            return (ASSETS / name).read_bytes(), TYPES[".html"]
        if name.startswith("assets/") and name[len("assets/"):] in STATIC:
            file = name[len("assets/"):]
            return (ASSETS / file).read_bytes(), TYPES["." + file.rsplit(".", 1)[1]]
        with self.lock:
            text = self._data(path)
        return None if text is None else (text.encode(), TYPES[".js"])

    def _data(self, path: str) -> str | None:
        if path == "/data/site.js":
            self.fresh()
            state = {"state": "present", "detail": "computed by the server"} if self.summary else None
            return js_call("site", self.data.site(live=True, summary=state))
        if path == "/data/summary.js" and self.summary is not None:
            value = self.summary()
            return js_call("summary", value.model_dump(mode="json") if hasattr(value, "model_dump") else value)
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
