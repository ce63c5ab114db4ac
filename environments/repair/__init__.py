"""The repair family: find and fix injected bugs in a small generated Python package."""

from .family import RepairFamily

__all__ = ["RepairFamily"]
