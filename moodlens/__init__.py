"""moodlens: live customer sentiment from facial expressions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("moodlens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
