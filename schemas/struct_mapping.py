"""Decoded events that read like the reference's dicts: msgspec structs with a read-only mapping face.

The fast path (`schemas.fast_decode`) hands the stream the structs msgspec decoded instead of
building a dict per record (building the dicts cost more than decoding). Everything downstream was
written against the reference validator's dicts (``event["site_id"]``, ``event.get("usable",
True)``, ``dict(event)``), so the structs answer those the same way:

* the keys are the contract fields present in the record, in the order of the struct's fields; an
  optional field absent from the record (``UNSET``) is no key, as in the reference's dict, and
  ``event["duration_ms"]`` raises ``KeyError`` for it; methods and other attributes are no keys;
* nested objects (box, quality, probabilities, model) are such structs too;
* equal to a mapping with the same keys and values (nested ones compared the same way), so an
  event compares equal to the reference's dict for the same record; unhashable, like a dict;
* read-only: the stream never changes an event, and a decoded record should not change under it.

Writers turn them into JSON with `to_document` (``msgspec.to_builtins``): the reference's dict, so the
same bytes through `stream.jsonl.dumps`.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any, ClassVar

import msgspec

_UNSET = msgspec.UNSET


class EventStruct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, gc=False, frozen=True):
    """Base of the generated structs. ``_keys``: the keys it can have, set per generated class."""

    _keys: ClassVar[frozenset[str]] = frozenset()
    _tag_keys: ClassVar[tuple[str, ...]] = ()  # ("schema",): msgspec's tag, a class attribute, not a field

    def __getitem__(self, key: str) -> Any:
        if key in self._keys:
            value = getattr(self, key)
            if value is not _UNSET:
                return value
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._keys:
            value = getattr(self, key)
            if value is not _UNSET:
                return value
        return default

    def __contains__(self, key: object) -> bool:
        return key in self._keys and getattr(self, key) is not _UNSET

    def __iter__(self) -> Iterator[str]:
        yield from self._tag_keys
        for name in self.__struct_fields__:
            if getattr(self, name) is not _UNSET:
                yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def keys(self) -> KeysView[str]:
        return KeysView(self)

    def items(self) -> ItemsView[str, Any]:
        return ItemsView(self)

    def values(self) -> ValuesView[Any]:
        return ValuesView(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventStruct):
            return bool(msgspec.to_builtins(self) == msgspec.to_builtins(other))
        if isinstance(other, Mapping):
            return len(self) == len(other) and all(k in other and self[k] == other[k] for k in self)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # equal to a dict, so unhashable like one


Mapping.register(EventStruct)


def to_document(event: Mapping[str, Any] | EventStruct) -> dict[str, Any]:
    """The plain dict (nested dicts, no structs) for an event from any path."""
    if isinstance(event, msgspec.Struct):
        document: dict[str, Any] = msgspec.to_builtins(event)
        return document
    if not isinstance(event, dict) and hasattr(event, "to_dict"):  # the C validator's events
        native: dict[str, Any] = event.to_dict()
        return native
    return dict(event)


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: structs as their dicts, anything else refused as json does."""
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    if isinstance(value, Mapping):  # the C validator's events (schemas._record.Event)
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


__all__ = ["EventStruct", "json_default", "to_document"]
