"""Credentials out of what is shown: `rtsp://user:secret@cam/stream` becomes `rtsp://user:***@cam/stream`.

The one masking rule for every place a source (or any text that may hold one) is logged, printed or
put in an error message: the edge's sources, the box's log formatters, `moodlens config show`.
"""

from __future__ import annotations

import re

MASK = "***"
SOURCE_ENV = "MOODLENS_EDGE_SOURCE"  # an edge's source when not on its command line, which any user can read
# scheme://user:password@ , the password up to the last @ before the host (passwords may hold @ unescaped)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/:@]*):([^\s/]*)@")


def mask_credentials(text: str) -> str:
    """`text` with the password of every URL's `user:password@` replaced by ***."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", text)


def has_credentials(text: str) -> bool:
    return _USERINFO.search(text) is not None
