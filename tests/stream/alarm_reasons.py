"""What an alarm's reason tells a person, read back for the tests: the words they need, not its bytes."""

from __future__ import annotations

import re

# words a shift manager should never have to read in an alarm
STATISTICS_WORDS = ("sigma", "σ", "standard error", "likelihood", "likelier", "cusum", "m of n", "windows",
                    "baseline", "evidence", "z_", "false alarm", "odds", "interval", "significan")


def jargon(reason: str) -> list[str]:
    """The statistics words in ``reason`` (none, for a reason people can read)."""
    text = reason.lower()
    return [word for word in STATISTICS_WORDS if word in text] + re.findall(r"\b\d+ of (?:the last )?\d+\b", text)


def since(reason: str, zone: str) -> int | None:
    """The minute of the day the reason says the spell began ("since about 14:46 CET"), None if it does not."""
    found = re.search(rf"since about (\d\d):(\d\d) {re.escape(zone)}\b", reason)
    return int(found[1]) * 60 + int(found[2]) if found else None


def minutes_said(reason: str) -> int | None:
    """How long the reason says something has lasted ("for 32 minutes", "(1 h 05 min)")."""
    found = re.search(r"(?:(\d+) h (\d\d) min|(\d+) minutes?)\b", reason)
    if found is None:
        return None
    return int(found[1]) * 60 + int(found[2]) if found[1] else int(found[3])
