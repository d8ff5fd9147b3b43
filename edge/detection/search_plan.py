"""Where YuNet looks in a frame of a given size: a scale pyramid cut into tiles, upright and turned.

Pure geometry (no detector, no OpenCV), computed once per frame size. YuNet finds a face
reliably when it is shown about `face_px` tall or more (turned, blurred, dim or half-covered faces
need that; clean frontal ones are found from about 20 px). So:

- the coarse pass (the whole frame at `detect_width`) answers for faces from `face_px / coarse`;
- levels finer than it, each half the scale of the one before, start at the scale that shows
  `min_face_px` at `face_px`; each level answers for the faces the next coarser one shows under
  `face_px`, and its tiles overlap by more than the largest of them, so each lies whole in a tile;
- faces turned in-plane by 20-30 degrees are often missed by YuNet at any scale but found when the
  image is turned back: turned passes (+-`turn_degrees`) run on the coarse frame and at every level
  up to `turned_max_factor` (turning the upsampled levels too would cost about twice as much again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_LEVELS = 6


@dataclass(frozen=True)
class Tile:
    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True)
class SearchPass:
    factor: float  # the frame is resized by this before YuNet sees it
    angle: float  # degrees the piece is turned before YuNet sees it; 0 = upright
    largest: float  # the biggest face (frame pixels) this pass answers for; coarser passes have bigger ones


@dataclass(frozen=True)
class SearchItem:
    search: SearchPass
    tile: Tile  # in the resized frame's pixels


@dataclass(frozen=True)
class SearchPlan:
    coarse: float  # the coarse pass's factor (upright, run on every full search)
    items: tuple[SearchItem, ...]  # the finer and turned work, scanned in rotation


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[Tile]:
    """Overlapping tiles, at most `tile` on a side, covering a width x height image; `overlap` keeps a
    face on a seam whole in one. Tiles are cut no larger than the count needs (less wasted overlap)."""
    def spans(length: int) -> list[tuple[int, int]]:
        if length <= tile:
            return [(0, length)]
        count = math.ceil((length - overlap) / (tile - overlap))
        side = min(tile, math.ceil((length + (count - 1) * overlap) / count))
        step = (length - side) / (count - 1)
        return [(round(i * step), round(i * step) + side) for i in range(count)]

    return [Tile(x, y, right, bottom) for y, bottom in spans(height) for x, right in spans(width)]


def level_factors(coarse: float, finest: float) -> list[float]:
    """The pyramid between the finest scale and the coarse pass, each level half the one before."""
    levels: list[float] = []
    factor = finest
    while factor > coarse * 1.05 and len(levels) < MAX_LEVELS:
        levels.append(factor)
        factor /= 2
    return levels


def plan_search(width: int, height: int, *, coarse: float, finest: float, face_px: float, tile_px: int,
                turn_degrees: float, turned_max_factor: float, max_items: int) -> SearchPlan:
    """The plan for a width x height frame. Past `max_items` tiles (large frames) the finest scale
    drops by 0.8 at a time down to no upsampling, then the turned passes go, finest level first,
    then the finest scale drops further: the smallest face found grows with the frame."""
    while True:
        plan = _plan(width, height, coarse, finest, face_px, tile_px, turn_degrees, turned_max_factor)
        if len(plan.items) <= max_items or finest <= coarse * 1.05:
            return plan
        turned_levels = [i.search.factor for i in plan.items if i.search.angle and i.search.factor > coarse]
        if turned_levels and finest <= 1.0:
            turned_max_factor = max(turned_levels) * 0.99
            continue
        if finest > 1.0:
            finest = max(1.0, finest * 0.8)
        else:  # the turned levels are gone: they stay gone as the levels shift
            turned_max_factor = min(turned_max_factor, coarse)
            finest *= 0.8


def _plan(width: int, height: int, coarse: float, finest: float, face_px: float, tile_px: int,
          turn_degrees: float, turned_max_factor: float) -> SearchPlan:
    levels = level_factors(coarse, finest)
    angles = (turn_degrees, -turn_degrees) if turn_degrees else ()
    # The coarse frame turned: whole (it is small), answering for faces of every size.
    coarse_frame = Tile(0, 0, max(1, round(width * coarse)), max(1, round(height * coarse)))
    items = [SearchItem(SearchPass(coarse, angle, math.inf), coarse_frame) for angle in angles]
    for index, factor in enumerate(levels):
        coarser = levels[index + 1] if index + 1 < len(levels) else coarse
        largest = face_px / coarser  # the next coarser level shows faces from this size at face_px
        overlap = math.ceil(largest * factor) + 4  # a face's box is narrower than tall: it fits whole
        for angle in (0.0, *(angles if factor <= turned_max_factor else ())):
            # A turned tile is drawn on a canvas about 1.8x its area (25 degrees), so it costs more
            # than an upright one; smaller turned tiles measured slower in all (more overlap).
            grid = tile_grid(round(width * factor), round(height * factor), tile_px, min(tile_px // 2, overlap))
            items.extend(SearchItem(SearchPass(factor, angle, largest), tile) for tile in grid)
    return SearchPlan(coarse, tuple(items))
