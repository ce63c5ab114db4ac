"""The HTML report: a static site that opens from file:// (`build_site`) and the same site served
live from a store still being written (`LiveSite`, `make_server`)."""

from arena.viewer.build import build_site
from arena.viewer.data import SiteData
from arena.viewer.server import LiveSite, make_server

__all__ = ["LiveSite", "SiteData", "build_site", "make_server"]
