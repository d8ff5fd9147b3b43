"""The event contract: every event type, its version and its fields, declared once.

JSON Schema files, the validator, the Arrow/Parquet schema and the Athena column list are all
derived from these declarations (see `jsonschema_gen.py`, `validation.py`, `batch/table_schema.py`);
tests check the committed files and the Python types against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas.expressions import EXPRESSIONS
from schemas.ids import ULID_PATTERN

Kind = Literal["string", "integer", "number", "boolean", "object"]

# 2000-01-01 .. 2100-01-01 in ms: anything outside is a unit mistake (seconds, microseconds).
MIN_EVENT_TIME_MS = 946_684_800_000
MAX_EVENT_TIME_MS = 4_102_444_800_000
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
# The largest record, in bytes of its one-line JSON, that is an event at all: the edge refuses a bigger
# one before it is spooled, the stream dead-letters one, compaction refuses one. Every transport
# carries it (IoT Core 128 KiB, Kinesis 1 MiB), and a window of several thousand faces stays far below.
MAX_RECORD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    description: str
    required: bool = True
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    fields: tuple[Field, ...] = ()  # members of an object
    required_when: tuple[str, str] | None = None  # (sibling field, value) that makes it required
    # An integer of UTC epoch milliseconds that names a moment (not a duration): the lake stores it as a
    # timestamp named without the unit (`batch.table_schema.lake_name`).
    instant: bool = False


@dataclass(frozen=True)
class EventContract:
    name: str
    major: int
    minor: int
    description: str
    fields: tuple[Field, ...] = field(default_factory=tuple)

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"

    def field_named(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _envelope(name: str) -> tuple[Field, ...]:
    return (
        Field("schema", "string", "Event type name.", enum=(name,)),
        Field("schema_version", "string", "MAJOR.MINOR; readers accept a newer minor, never another major.",
              pattern=r"^[0-9]+\.[0-9]+$"),
        Field("event_id", "string", "ULID: globally unique, sorts by time; the idempotency key.",
              pattern=ULID_PATTERN.pattern),
        Field("site_id", "string", "Site (restaurant, cinema, shop).", pattern=IDENTIFIER),
        Field("event_time_ms", "integer", "When it happened at the source, UTC epoch milliseconds.",
              minimum=MIN_EVENT_TIME_MS, maximum=MAX_EVENT_TIME_MS, instant=True),
    )


def _camera() -> Field:
    return Field("camera_id", "string", "Camera within the site.", pattern=IDENTIFIER)


def _unit(name: str, description: str) -> Field:
    return Field(name, "number", description, minimum=0.0, maximum=1.0)


def _expression_shares(name: str, description: str, nullable: bool = False) -> Field:
    return Field(name, "object", description, nullable=nullable,
                 fields=tuple(_unit(e, f"Share for {e}.") for e in EXPRESSIONS))


FACE_EXPRESSION = EventContract(
    "face_expression", 1, 0,
    "One anonymous face track's expression, from the edge. Carries no pixels and no identity.",
    _envelope("face_expression") + (
        _camera(),
        Field("zone", "string", "Named area of the camera view, if zones are configured.",
              required=False, nullable=True, pattern=IDENTIFIER),
        Field("track_id", "string", "Anonymous track id, unique per camera; never linked to a person.",
              pattern=IDENTIFIER),
        Field("kind", "string", "track_update while the face is in view; track_end once it has left.",
              enum=("track_update", "track_end")),
        Field("duration_ms", "integer", "How long the track was in view (track_end).", required=False,
              minimum=0, required_when=("kind", "track_end")),
        Field("frame_count", "integer", "Frames the face was seen in (track_end).", required=False,
              minimum=1, required_when=("kind", "track_end")),
        Field("box", "object", "Face box, normalised to the frame (0..1).", fields=(
            _unit("x", "Left edge."), _unit("y", "Top edge."), _unit("w", "Width."), _unit("h", "Height."))),
        Field("quality", "object", "Face quality; faces failing it are left out of sentiment.", fields=(
            Field("face_px", "integer", "Face box height in pixels.", minimum=0, maximum=100_000),
            Field("sharpness", "number", "Variance of the Laplacian on the crop.", minimum=0.0),
            Field("brightness", "number", "Mean gray level of the crop, 0..255.", minimum=0.0, maximum=255.0),
            Field("usable", "boolean", "Passed the quality gate.", required=False),
        )),
        _expression_shares("probabilities", "Classifier probabilities (smoothed over the track)."),
        Field("top_class", "string", "Most probable expression.", enum=EXPRESSIONS),
        Field("valence", "number", "Probability-weighted valence.", minimum=-1.0, maximum=1.0),
        Field("model", "object", "Expression model that produced the probabilities.", fields=(
            Field("id", "string", "Model id.", max_length=128),
            Field("version", "string", "Model version.", max_length=64))),
        Field("edge_version", "string", "moodlens edge software version.", max_length=64),
    ),
)

CAMERA_HEARTBEAT = EventContract(
    "camera_heartbeat", 1, 0, "Periodic liveness and health of one edge camera.",
    _envelope("camera_heartbeat") + (
        _camera(),
        Field("fps", "number", "Frames processed per second since the last heartbeat.", minimum=0.0),
        Field("faces", "integer", "Faces detected since the last heartbeat.", minimum=0),
        Field("open_tracks", "integer", "Tracks open now.", minimum=0),
        Field("spool_depth", "integer", "Events waiting in the on-device spool.", minimum=0),
        Field("dropped_count", "integer", "Events dropped by the spool's bound since start.", minimum=0),
        Field("model_version", "string", "Expression model version in use.", max_length=64),
        Field("uptime_s", "number", "Seconds since the edge process started.", minimum=0.0),
        Field("edge_version", "string", "moodlens edge software version.", max_length=64),
    ),
)

SENTIMENT_WINDOW = EventContract(
    "sentiment_window", 1, 0, "Rolling sentiment over an event-time window, per site or camera.",
    _envelope("sentiment_window") + (
        Field("camera_id", "string", "Camera, or null for the whole site.", nullable=True, pattern=IDENTIFIER),
        Field("window_start_ms", "integer", "Window start, inclusive, UTC epoch ms.", minimum=0, instant=True),
        Field("window_end_ms", "integer", "Window end, exclusive, UTC epoch ms.", minimum=0, instant=True),
        Field("window_minutes", "integer", "Window length.", minimum=1),
        Field("tracks", "integer", "Distinct tracks (customers) seen with usable faces.", minimum=0),
        Field("faces", "integer", "Usable face observations.", minimum=0),
        Field("low_quality_faces", "integer", "Observations left out by the quality gate.", minimum=0),
        Field("insufficient_data", "boolean", "Fewer tracks than the minimum, or hidden beside a camera window "
              "with too few so that the site window cannot give it back (schemas.privacy): measures are null."),
        _expression_shares("shares", "Share of tracks per expression.", nullable=True),
        Field("mean_valence", "number", "Mean valence over tracks.", nullable=True, minimum=-1.0, maximum=1.0),
        Field("valence_ci", "object", "95% interval of the mean valence.", nullable=True, fields=(
            Field("low", "number", "Lower bound.", minimum=-1.0, maximum=1.0),
            Field("high", "number", "Upper bound.", minimum=-1.0, maximum=1.0))),
        Field("net_score", "number", "Positive share minus negative share.", nullable=True,
              minimum=-1.0, maximum=1.0),
        Field("net_score_ci", "object", "95% interval of the net score.", nullable=True, fields=(
            Field("low", "number", "Lower bound.", minimum=-1.0, maximum=1.0),
            Field("high", "number", "Upper bound.", minimum=-1.0, maximum=1.0))),
    ),
)

SENTIMENT_ALARM = EventContract(
    "sentiment_alarm", 1, 0, "An alarm changing state for a site or camera.",
    _envelope("sentiment_alarm") + (
        Field("camera_id", "string", "Camera, or null for the whole site.", nullable=True, pattern=IDENTIFIER),
        Field("rule", "string", "Which rule.", enum=("low_sentiment", "sentiment_drop", "camera_silent",
                                                   "site_unreachable")),
        Field("state", "string", "ALARM when raised, OK when recovered.", enum=("ALARM", "OK")),
        Field("value", "number", "Measured value that decided the state.", nullable=True),
        Field("threshold", "number", "Threshold it was compared with.", nullable=True),
        Field("reason", "string", "Human-readable explanation.", max_length=1000),
    ),
)

CONTRACTS: dict[str, EventContract] = {
    c.name: c for c in (FACE_EXPRESSION, CAMERA_HEARTBEAT, SENTIMENT_WINDOW, SENTIMENT_ALARM)
}


def contract_for(name: str) -> EventContract:
    try:
        return CONTRACTS[name]
    except KeyError:
        raise KeyError(f"unknown event schema {name!r}; known: {', '.join(sorted(CONTRACTS))}") from None
