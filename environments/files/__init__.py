"""The `files` family: realistic file-system chores (sorting, counting, renaming, CSV to JSON, log
cleanup, deduplication, manifests) generated from a seed and graded by the files they leave behind."""

from ._family import FilesFamily

__all__ = ["FilesFamily"]
