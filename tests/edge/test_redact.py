"""The one masking rule: a URL's password never survives, everything else is left as it was."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from edge.redact import has_credentials, mask_credentials

USERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", max_size=12)
# printable, as typed into a site file; no whitespace or / (they end a URL's user part), no ' or \ (repr)
PASSWORDS = st.text(alphabet=[c for c in string.printable if c not in " \t\n\r\x0b\x0c/'\\"], min_size=1,
                    max_size=24)


@given(user=USERS, password=PASSWORDS, scheme=st.sampled_from(["rtsp", "rtsps", "http", "RTSP"]))
def test_the_password_of_a_source_url_is_masked_wherever_it_appears(user: str, password: str, scheme: str) -> None:
    url = f"{scheme}://{user}:{password}@192.168.1.20:554/stream1"
    line = f"cannot open source {url!r}: timed out; retrying {url}"
    masked = mask_credentials(line)
    assert masked == line.replace(f"{user}:{password}@", f"{user}:***@")
    assert has_credentials(url)


@given(st.text(max_size=60).filter(lambda t: "://" not in t))
def test_text_without_a_url_is_left_alone(text: str) -> None:
    assert mask_credentials(text) == text


def test_urls_without_a_password_are_left_alone() -> None:
    for text in ("rtsp://192.168.1.20/stream1", "http://user@host/", "/videos/a:b@c.mp4", "0", "awscam"):
        assert mask_credentials(text) == text and not has_credentials(text)
