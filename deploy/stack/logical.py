"""Logical ids for resources named after user data (site ids)."""

from __future__ import annotations

import hashlib
import re


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id (alphanumeric) that stays unique for ids differing only in
    punctuation: the readable part plus a short hash of the exact parts."""
    readable = "".join(p.title() for p in re.split(r"[^A-Za-z0-9]+", "-".join(parts)) if p)
    digest = hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    return f"{readable[:200]}{digest}"
