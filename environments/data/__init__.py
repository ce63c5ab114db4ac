"""The data family: exact answers to questions about generated data files."""

from .family import DataFamily

__all__ = ["DataFamily"]
