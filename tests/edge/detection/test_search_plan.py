"""The YuNet search plan: a scale pyramid whose tiles hold every face each level answers for whole,
turned passes only where asked, and a bounded number of tiles for huge frames."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.detection.search_plan import SearchPlan, level_factors, plan_search


def plan_for(width: int, height: int, detect_width: int = 320, min_face: int = 24, face_px: int = 48,
             turn: float = 25.0, turned_max: float = 1.0, max_items: int = 64) -> SearchPlan:
    return plan_search(width, height, coarse=min(1.0, detect_width / width), finest=min(2.0, face_px / min_face),
                       face_px=face_px, tile_px=400, turn_degrees=turn, turned_max_factor=turned_max,
                       max_items=max_items)


def test_the_sample_clips_size_gets_an_upsampled_level_a_full_size_one_and_turned_passes():
    plan = plan_for(640, 360)
    factors = {(round(i.search.factor, 2), i.search.angle) for i in plan.items}
    assert plan.coarse == 0.5
    assert {(2.0, 0.0), (1.0, 0.0), (1.0, 25.0), (1.0, -25.0), (0.5, 25.0), (0.5, -25.0)} == factors
    assert not any(i.search.angle and i.search.factor > 1.0 for i in plan.items)  # turned_max_factor


def test_levels_halve_down_to_just_above_the_coarse_pass():
    assert level_factors(0.5, 2.0) == [2.0, 1.0]
    assert level_factors(0.25, 1.6) == [1.6, 0.8, 0.4]
    assert level_factors(0.5, 0.5) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(64, 2400), st.integers(64, 1400), st.integers(0, 10_000), st.floats(0.0, 1.0),
       st.floats(0.0, 1.0), st.floats(0.3, 1.0))
def test_every_face_a_pass_answers_for_lies_whole_in_one_of_its_tiles(width, height, pick, fx, fy, share):
    plan = plan_for(width, height)
    if not plan.items:
        return
    item = plan.items[pick % len(plan.items)]
    factor = item.search.factor
    scaled = (round(width * factor), round(height * factor))
    tiles = [i.tile for i in plan.items if i.search == item.search]
    face = min(item.search.largest * factor * share, *scaled) if math.isfinite(item.search.largest) else None
    if face is None:  # the turned coarse pass: one piece, the whole coarse frame
        assert len(tiles) == 1 and (tiles[0].right, tiles[0].bottom) == scaled
        return
    left, top = fx * (scaled[0] - face), fy * (scaled[1] - face)
    assert any(t.left <= left and left + face <= t.right and t.top <= top and top + face <= t.bottom for t in tiles)
    covered = np.zeros((scaled[1], scaled[0]), bool)
    for t in tiles:
        assert 0 <= t.left < t.right <= scaled[0] and 0 <= t.top < t.bottom <= scaled[1]
        assert t.right - t.left <= 400 and t.bottom - t.top <= 400
        covered[t.top:t.bottom, t.left:t.right] = True
    assert covered.all()


@settings(max_examples=25, deadline=None)
@given(st.integers(320, 4000), st.integers(180, 3000), st.integers(8, 80))
def test_huge_frames_stay_within_the_tile_budget_turned_passes_going_first(width, height, max_items):
    plan = plan_for(width, height, max_items=max_items)
    assert len(plan.items) <= max(max_items, 2)  # 2: the turned coarse frame, which always stays
    finest = max([i.search.factor for i in plan.items if i.search.angle == 0], default=plan.coarse)
    if finest < 1.0:  # the finest scale only drops below full size once no turned level is left
        assert not any(i.search.angle and i.search.factor > plan.coarse for i in plan.items)


def test_no_turned_passes_when_turning_is_off():
    assert not any(i.search.angle for i in plan_for(1280, 720, turn=0.0).items)
