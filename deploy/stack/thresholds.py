"""The stream host's window and alarm settings for the AWS stack, from a JSON file of the keys of
`stream.settings` (the site file's `[thresholds]` keys: one vocabulary for one box and for AWS); a key
left out keeps the host's default. Both the consumer's command line and the CloudWatch net-score
alarms are generated from the two objects this returns.
"""

from __future__ import annotations

from pathlib import Path

from stream.alarms import AlarmConfig
from stream.engine import EngineConfig
from stream.settings import load


def load_thresholds(path: Path) -> tuple[EngineConfig, AlarmConfig]:
    """The settings in `path`; a ValueError naming the file (and the key) for anything unusable."""
    return load(path)
