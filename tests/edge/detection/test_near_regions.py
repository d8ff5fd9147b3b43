"""Near-search windows: every known face looked for exactly once, neighbours merged only when cheaper."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.detection.detections import SearchRegion
from edge.detection.near_regions import CALL_PX, MAX_SIZE_RATIO, NearWindow, windows_for


@st.composite
def regions(draw) -> tuple[list[SearchRegion], list[float]]:
    out, factors = [], []
    for _ in range(draw(st.integers(1, 12))):
        size = draw(st.floats(20, 300))
        left, top = draw(st.integers(0, 1200)), draw(st.integers(0, 700))
        out.append(SearchRegion(left, top, left + int(2 * size), top + int(2 * size), size))
        factors.append(min(2.0, 56 / size))
    return out, factors


def apart_cost(found: list[SearchRegion], factors: list[float]) -> float:
    return sum((r.right - r.left) * (r.bottom - r.top) * f ** 2 + CALL_PX for r, f in zip(found, factors, strict=True))


@settings(max_examples=200, deadline=None)
@given(regions())
def test_every_face_is_in_exactly_one_window_that_holds_its_region_at_its_scale_or_larger(case) -> None:
    found, factors = case
    windows = windows_for(found, factors)
    assert sorted(i for w in windows for i in w.faces) == list(range(len(found)))
    for w in windows:
        for i in w.faces:
            r = found[i]
            assert w.left <= r.left and w.top <= r.top and w.right >= r.right and w.bottom >= r.bottom
            assert w.factor >= factors[i]  # each face shown at least as large as alone
        sizes = [found[i].size for i in w.faces]
        assert max(sizes) <= MAX_SIZE_RATIO * min(sizes) + 1e-9
    assert sum(w.cost for w in windows) <= apart_cost(found, factors) + 1e-6  # merging only ever saves


@settings(max_examples=50, deadline=None)
@given(regions())
def test_without_merging_each_face_has_its_own_window(case) -> None:
    found, factors = case
    windows = windows_for(found, factors, merge=False)
    assert [w.faces for w in windows] == [(i,) for i in range(len(found))]
    assert [(w.left, w.top, w.right, w.bottom) for w in windows] == [(r.left, r.top, r.right, r.bottom)
                                                                      for r in found]


def test_overlapping_neighbours_of_one_size_are_merged_and_far_or_unlike_faces_are_not() -> None:
    table = [SearchRegion(100 + 150 * i, 100, 300 + 150 * i, 300, 100.0) for i in range(3)]  # a table of three
    far = SearchRegion(1000, 600, 1200, 800, 100.0)
    child = SearchRegion(100, 330, 140, 370, 20.0)  # much smaller, next to the table
    windows = windows_for([*table, far, child], [0.56] * 4 + [2.0])
    assert [w.faces for w in windows] == [(0, 1, 2), (3,), (4,)]
    assert windows[0] == NearWindow(100, 100, 600, 300, 0.56, (0, 1, 2), 100.0, 100.0)


def test_a_crowd_of_twenty_needs_fewer_calls_and_pixels() -> None:
    found = [SearchRegion(20 + 210 * (i % 6), 20 + 175 * (i // 6), 250 + 210 * (i % 6), 250 + 175 * (i // 6), 115.0)
             for i in range(20)]
    factors = [56 / 115] * 20
    windows = windows_for(found, factors)
    assert len(windows) < 20
    assert sum(w.cost for w in windows) < apart_cost(found, factors)
    assert sum(len(w.faces) for w in windows) == 20
