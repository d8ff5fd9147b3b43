"""Hostile records for the fuzz tests and `benchmarks/fuzz_stream.py`: valid events mutated the ways
an attacker or a careless integrator would (huge numbers, wrong types, missing fields, torn bytes,
byte-order marks, lone surrogates, deep nesting, oversize records, duplicates with other content).

A record is built from a *plan*: ``(base, op, position, blob)``, small values that hypothesis draws
(and shrinks) in the tests and ``random.Random`` draws in the benchmark. ``build(plans)`` is pure:
the same plans always give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.expressions import EXPRESSIONS, VALENCE
from stream.ids import stable_event_id

T0 = 1_790_000_040_000 // 60_000 * 60_000
OPS = 16  # how many mutation operators ``mutate`` knows (op is taken modulo this)
Plan = tuple[int, int, int, bytes]

# Values that broke or could break a validator: overflow, wrong types, control characters, surrogates.
HOSTILE_TEXT = [
    "1" + "0" * 400, "-" + "9" * 30, str(2**63), "1e999", "-1E400", "NaN", "Infinity", "-0", "1.0e-400",
    '"\\ud800"', '"\\udfff x"', '"\\u0000\\u001f\\n"', '"cafe\\n"', '"../../../escape"', '"' + "x" * 300 + '"',
    "[]", "{}", "null", "true", '"1"', "[" * 40 + "]" * 40, '{"a":' * 20 + "1" + "}" * 20, '""', "0.5",
]


def base_event(index: int, kind: int) -> dict[str, Any]:
    """A valid face_expression (update or end, usable or not) or camera_heartbeat, spread over 30 minutes."""
    t = T0 + (index * 7_919) % (30 * 60_000)
    site, camera, track = f"s{index % 3}", f"c{index % 2}", f"t{index % 11}"
    if kind % 4 == 3:
        return {"schema": "camera_heartbeat", "schema_version": "1.0",
                "event_id": stable_event_id(t, site, camera, "hb", index), "site_id": site, "camera_id": camera,
                "event_time_ms": t, "fps": 24.5, "faces": 3, "open_tracks": 1, "spool_depth": 0,
                "dropped_count": 0, "model_version": "1.0.0", "uptime_s": 60.0, "edge_version": "0.1.0"}
    top = EXPRESSIONS[index % len(EXPRESSIONS)]
    event: dict[str, Any] = {
        "schema": "face_expression", "schema_version": "1.0",
        "event_id": stable_event_id(t, site, camera, track, index), "site_id": site, "camera_id": camera,
        "zone": None, "track_id": track, "event_time_ms": t, "kind": "track_end" if kind % 4 == 2 else "track_update",
        "box": {"x": 0.25, "y": 0.1, "w": 0.2, "h": 0.3},
        "quality": {"face_px": 96, "sharpness": 140.5, "brightness": 120.0, "usable": kind % 5 != 0},
        "probabilities": {name: (1.0 if name == top else 0.0) for name in EXPRESSIONS},
        "top_class": top, "valence": VALENCE[top],
        "model": {"id": "moodlens-expression-vgg32", "version": "1.0.0"}, "edge_version": "0.1.0"}
    if event["kind"] == "track_end":
        event.update(duration_ms=1000, frame_count=10)
    return event


def _paths(document: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    if isinstance(document, dict):
        for key, value in document.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    return out


def _set_raw(document: dict[str, Any], path: tuple[str, ...], raw_value: str) -> bytes:
    """The document as JSON with the value at ``path`` replaced by the raw JSON text ``raw_value``."""
    marker = "\x00MARK\x00"
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return json.dumps(document).replace(json.dumps(marker), raw_value, 1).encode()


def mutate(index: int, plan: Plan, previous: bytes | None) -> bytes:
    """One record from a plan; ``previous`` is the record before it (for duplicates)."""
    base, op, position, blob = plan
    op %= OPS
    document = base_event(index, base)
    paths = _paths(document)
    path = paths[position % len(paths)]
    raw = json.dumps(document).encode()
    if op == 0:  # untouched: valid
        return raw
    if op == 1:  # a field set to a hostile value
        return _set_raw(document, path, HOSTILE_TEXT[(position + len(blob)) % len(HOSTILE_TEXT)])
    if op == 2:  # a field missing
        target = document
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return json.dumps(document).encode()
    if op == 3:  # an unknown field holding a hostile value
        return raw[:-1] + b', "x_' + str(position).encode() + b'": ' + \
            HOSTILE_TEXT[position % len(HOSTILE_TEXT)].encode() + b"}"
    if op == 4:  # torn: cut anywhere
        return raw[:position % max(len(raw), 1)] or b"{"
    if op == 5:  # random bytes inserted
        at = position % len(raw)
        return raw[:at] + (blob or b"\xff") + raw[at:]
    if op == 6:  # one byte flipped
        at = position % len(raw)
        return raw[:at] + bytes([raw[at] ^ (1 << (position % 8))]) + raw[at + 1:]
    if op == 7:  # byte-order mark
        return b"\xef\xbb\xbf" + raw
    if op == 8:  # nothing like an event
        return blob or b"\x00"
    if op == 9:  # a duplicate of the previous record (a retry)
        return previous if previous is not None else raw
    if op == 10:  # same event_id as the previous record, other content (when it was a valid event)
        try:
            other = json.loads(previous) if previous is not None else None
        except ValueError:
            other = None
        if isinstance(other, dict) and isinstance(other.get("event_id"), str):
            document["event_id"] = other["event_id"]
        return json.dumps(document).encode()
    if op == 11:  # a schema or major version nobody reads
        document["schema_version" if position % 2 else "schema"] = "9.0" if position % 2 else "sentiment_window"
        return json.dumps(document).encode()
    if op == 12 and position % 8 == 0:  # over the size limit (one in 8: they are big)
        return raw[:-1] + b', "padding": "' + b"\\u0001" * (11_000 + position % 1000) + b'"}'
    if op == 12:  # an id far too long
        document["site_id"] = "s" * (65 + position % 300)
        return json.dumps(document).encode()
    if op == 13:  # a type swapped: the value wrapped in a list
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = [target[path[-1]]]
        return json.dumps(document).encode()
    if op == 14:  # an unknown field with arbitrary text (any code point, lone surrogates included)
        text = blob.decode("utf-8", "surrogateescape")
        return raw[:-1] + b', "note": ' + json.dumps(text).encode() + b"}"
    # op 15: a string field with random text
    return _set_raw(document, path, json.dumps(blob.decode("latin-1")))


def build(plans: Sequence[Plan], start: int = 0) -> list[bytes]:
    records: list[bytes] = []
    for offset, plan in enumerate(plans):
        records.append(mutate(start + offset, plan, records[-1] if records else None))
    return records


PLAN_BYTES = 12


def plans_from_bytes(data: bytes) -> list[Plan]:
    """Plans from a byte string, ``PLAN_BYTES`` per plan: hypothesis draws (and shrinks) one blob per
    batch, far cheaper than drawing hundreds of tuples."""
    plans = []
    for start in range(0, len(data) - PLAN_BYTES + 1, PLAN_BYTES):
        chunk = data[start:start + PLAN_BYTES]
        plans.append((chunk[0], chunk[1], int.from_bytes(chunk[2:5], "big"), chunk[6:6 + chunk[5] % 7]))
    return plans
