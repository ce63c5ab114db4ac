"""Customer-support tickets against an in-memory store back office (see `family`)."""

from ._family import HelpdeskFamily

__all__ = ["HelpdeskFamily"]
