"""A generated company intranet browsed as text pages (see `family`)."""

from ._family import WebFamily

__all__ = ["WebFamily"]
