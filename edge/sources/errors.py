from __future__ import annotations

# How `moodlens edge run` ends when its camera fails, so the box that runs it knows what to do:
# a source that cannot be (a missing file, a folder of nothing) is the site file's error, reported
# once and not restarted; a live camera or stream that cannot be reached now may come back: retried.
EXIT_CONFIGURATION = 2  # also the CLI's exit for any bad argument
EXIT_SOURCE_LOST = 75  # EX_TEMPFAIL: try again later


class SourceError(RuntimeError):
    """A frame source that cannot be opened, or that failed beyond what reconnecting fixes."""
