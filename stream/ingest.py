"""Raw record -> validated input event, or a dead letter with every reason.

The validation stage in front of the window engine (the engine's hot path trusts its input).
Records are decoded and validated once by ``schemas.fast_decode`` (the C validator where it is built,
else msgspec structs, both generated from the contract; the reference validator names the reasons for
whatever they do not prove valid). Beyond the contract
(``schemas.validation``: malformed JSON, NaN, unknown major version, missing fields, out-of-range
probabilities, record size), the stream rejects:

* schemas other than face_expression and camera_heartbeat (the stream's own outputs and future
  types are not inputs);
* event time more than ``max_future_ms`` ahead of the host's clock (a camera with a wrong clock
  would otherwise drag the watermark forward and make everyone else late), or more than
  ``max_past_ms`` behind it (a replay of ancient data belongs to the batch path).

The clock is an argument (``now_ms``); pass None to skip the time checks (replays, tests).

One record never stops the stream: ``check`` never raises for a record. An unexpected exception
while looking at one (a bug in a validator, an input nobody thought of) dead-letters that record
with the reason ``unexpected <ExceptionType>: ...`` (code ``internal_error``) and the batch goes
on, so a host can never be stuck replaying a poison record after a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.contract import MAX_RECORD_BYTES
from schemas.fast_decode import FastDecoder
from schemas.validation import Code, Problem, ValidationError
from stream.deadletter import EVENT_TIME_OUT_OF_RANGE, INTERNAL_ERROR, DeadLetter

logger = logging.getLogger(__name__)
INPUT_SCHEMAS = frozenset({"face_expression", "camera_heartbeat"})
# Valid inputs are decoded and checked once (C, else msgspec); the rest get the reference's exact reasons.
# The frequent type first: a wrong guess costs the decoder one key.
_DECODER = FastDecoder(sorted(INPUT_SCHEMAS, key=lambda name: name != "face_expression"))


@dataclass(frozen=True)
class IngestConfig:
    max_bytes: int = MAX_RECORD_BYTES
    max_future_ms: int = 5 * 60_000
    max_past_ms: int = 7 * 24 * 3_600_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_future_ms", "max_past_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ingest setting {name} must be a positive integer, got {value!r}")


def check(raw: bytes | str, now_ms: int | None, config: IngestConfig = IngestConfig()
          ) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    """(event, []) when usable, else (None, every problem). Never raises for a record.
    The event is a read-only mapping: the fast path's struct, or the reference's dict."""
    try:
        return _check(raw, now_ms, config)
    except Exception as error:  # one record must never stop the stream: dead-letter it, go on
        logger.exception("unexpected error validating a record; dead-lettered")
        return None, [Problem("$", f"unexpected {type(error).__name__}: {str(error)[:300]}", INTERNAL_ERROR)]


def _check(raw: bytes | str, now_ms: int | None, config: IngestConfig
           ) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    try:
        event = _DECODER.parse(raw, max_bytes=config.max_bytes)
    except ValidationError as error:
        return None, error.problems
    except RecursionError:
        return None, [Problem("$", "malformed JSON: nested too deeply", Code.MALFORMED_JSON)]
    if event["schema"] not in INPUT_SCHEMAS:
        return None, [Problem("schema", f"{event['schema']} is not a stream input "
                                        f"(expected {', '.join(sorted(INPUT_SCHEMAS))})", Code.UNKNOWN_SCHEMA)]
    if now_ms is not None:
        t = event["event_time_ms"]
        if t > now_ms + config.max_future_ms:
            return None, [Problem("event_time_ms", f"{(t - now_ms) / 1000:.0f} s in the future "
                                                   f"(limit {config.max_future_ms / 1000:.0f} s)",
                                  EVENT_TIME_OUT_OF_RANGE)]
        if t < now_ms - config.max_past_ms:
            return None, [Problem("event_time_ms", f"{(now_ms - t) / 3_600_000:.1f} h in the past "
                                                   f"(limit {config.max_past_ms / 3_600_000:.1f} h)",
                                  EVENT_TIME_OUT_OF_RANGE)]
    return event, []


def ingest(records: list[tuple[str, bytes]], now_ms: int | None, config: IngestConfig = IngestConfig()
           ) -> tuple[list[Mapping[str, Any]], list[DeadLetter]]:
    """Splits (source position, payload) records into events and dead letters, keeping order.

    A record the decoder proves valid, of an input schema and in the time range, is taken at once
    (one call into the decoder); any other goes through ``check``, which names every reason."""
    events: list[Mapping[str, Any]] = []
    letters: list[DeadLetter] = []
    parse, max_bytes, schemas = _DECODER.parse, config.max_bytes, INPUT_SCHEMAS
    low = high = 0
    if now_ms is not None:
        low, high = now_ms - config.max_past_ms, now_ms + config.max_future_ms
    for source, payload in records:
        try:
            event = parse(payload, max_bytes=max_bytes)
            if event["schema"] in schemas and (now_ms is None or low <= event["event_time_ms"] <= high):
                events.append(event)
                continue
        except Exception:  # nosec B110
            pass  # ``check`` below names what is wrong with the record (and logs the unexpected)
        checked, problems = check(payload, now_ms, config)
        if checked is None:
            letters.append(DeadLetter.of(bytes(payload), problems, source))
        else:
            events.append(checked)
    return events, letters
