from __future__ import annotations


class SourceError(RuntimeError):
    """A frame source that cannot be opened, or that failed beyond what reconnecting fixes."""
