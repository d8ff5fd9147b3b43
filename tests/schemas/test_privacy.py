"""The complement rule (`schemas.privacy.complements`): after it, a shown total minus its shown parts
never leaves hidden parts holding 1 to min_tracks - 1 customers, and it hides no more than that needs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.privacy import complements, hidden_with_complements


@st.composite
def groups(draw: st.DrawFn) -> tuple[list[int], list[bool], int]:
    """A site window's cameras as the stream makes them: each camera's tracks (a site's are their sum),
    shown when it holds min_tracks; some shown ones hidden already for another reason (another group's
    complement), as a reader may meet them."""
    min_tracks = draw(st.integers(1, 8))
    tracks = draw(st.lists(st.integers(0, 3 * min_tracks), min_size=0, max_size=6))
    also = draw(st.lists(st.booleans(), min_size=len(tracks), max_size=len(tracks)))
    shown = [n >= min_tracks and not a for n, a in zip(tracks, also, strict=True)]
    return tracks, shown, min_tracks


def remainder(tracks: list[int], shown: list[bool], more: list[bool]) -> int:
    """The customers a site's window minus its shown cameras' covers: the hidden cameras' together."""
    return sum(n for n, s, m in zip(tracks, shown, more, strict=True) if not s or m)


@given(groups())
def test_the_site_minus_the_shown_cameras_is_never_a_few_hidden_customers(group: tuple[list[int], list[bool], int]
                                                                          ) -> None:
    tracks, shown, min_tracks = group
    site_shown = sum(tracks) >= min_tracks
    more = complements(tracks, shown, min_tracks, site_shown)
    assert not any(m and not s for m, s in zip(more, shown, strict=True)), "only shown cameras are hidden more"
    if site_shown:
        left = remainder(tracks, shown, more)
        assert left == 0 or left >= min_tracks, (tracks, shown, more)
    else:
        assert not any(more), "a hidden site window gives nothing back: nothing more to hide"


@given(groups())
def test_it_hides_the_one_camera_with_fewest_customers_and_only_when_it_must(
        group: tuple[list[int], list[bool], int]) -> None:
    tracks, shown, min_tracks = group
    more = complements(tracks, shown, min_tracks)
    hidden = remainder(tracks, shown, [False] * len(tracks))
    if hidden == 0 or hidden >= min_tracks:
        assert not any(more), (tracks, shown)
        return
    candidates = [n for n, s in zip(tracks, shown, strict=True) if s and n > 0]
    if not candidates:
        assert not any(more)
        return
    # every shown camera holds min_tracks itself: one more is always enough, and the smallest does it
    assert sum(more) == 1
    assert tracks[more.index(True)] == min(candidates)
    assert more.index(True) == min(i for i, (n, s) in enumerate(zip(tracks, shown, strict=True))
                                   if s and n == min(candidates)), "ties go to the first"


@given(st.integers(1, 8).flatmap(lambda m: st.tuples(st.just(m), st.lists(st.integers(0, 4 * m), max_size=8))))
def test_cells_of_a_shown_total_hidden_with_their_complements(case: tuple[int, list[int]]) -> None:
    """The report's cells (no flags of their own: a cell is hidden when it holds 1 to min_tracks - 1)."""
    min_tracks, tracks = case
    hide = hidden_with_complements(tracks, min_tracks)
    assert all(h for n, h in zip(tracks, hide, strict=True) if 0 < n < min_tracks)
    hidden = sum(n for n, h in zip(tracks, hide, strict=True) if h)
    assert hidden == 0 or hidden >= min_tracks or all(h for n, h in zip(tracks, hide, strict=True) if n > 0)
    # as little as it must: without the largest cell hidden for a complement, too few would be hidden
    extra = [(n, i) for i, (n, h) in enumerate(zip(tracks, hide, strict=True)) if h and n >= min_tracks]
    if extra:
        assert hidden - max(extra)[0] < min_tracks


def test_parts_and_flags_must_pair() -> None:
    with pytest.raises(ValueError, match="3 track counts and 2 shown flags"):
        complements([1, 2, 3], [True, False], 5)
