"""Types of the C validator (source: schemas/_native/record.c, columns.c, column_batches.c, dictionary.c;
program: schemas.native_program)."""

from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any

from typing_extensions import Buffer

class Event(Mapping[str, Any]):  # registered as a collections.abc.Mapping when the module loads
    """A validated event or nested object: a read-only mapping of its present fields. It holds the record
    it was parsed from; a number, nested object or unremembered string is made on its first read, then kept."""

    def __getitem__(self, key: str) -> Any: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def keys(self) -> KeysView[str]: ...
    def items(self) -> ItemsView[str, Any]: ...
    def values(self) -> ValuesView[Any]: ...
    def to_dict(self) -> dict[str, Any]: ...

class Decoder:
    def __init__(self, contracts: tuple[tuple[Any, ...], ...], tag: str,
                 fallback: Callable[..., Mapping[str, Any]] | None = None) -> None: ...
    def parse(self, raw: bytes | str) -> Event | None: ...
    def validate(self, raw: bytes | str | Mapping[str, Any], max_bytes: int | None = None) -> Mapping[str, Any]: ...
    def columns(self, lines: Sequence[bytes], max_bytes: int, dictionary: Encodings = None, /
                ) -> tuple[int, list[int], tuple[Table | None, ...]]:
        """(consumed, refused, per contract None or (rows, line index, column buffers depth first)).
        `dictionary`: per contract None or one byte per column, nonzero for a string column to give as
        int32 indices + its distinct values (more than 1024 in a batch: plain after all)."""
    def columns_in(self, data: Buffer, starts: Buffer, ends: Buffer, max_bytes: int, dictionary: Encodings = None, /
                   ) -> tuple[int, list[int], tuple[Table | None, ...]]:
        """As `columns`, line i being data[starts[i]:ends[i]] read in place (starts, ends: int64 arrays)."""

Encodings = tuple[bytes | None, ...] | None
DICTIONARY_LIMIT: int  # distinct values a dictionary-encoded column keeps per batch before it goes plain
# (validity bitmap or None, values, string bytes or None, null count) per column; a dictionary-encoded
# column: (validity, int32 indices, (the dictionary's int32 offsets, its bytes), null count)
ColumnBuffers = tuple[bytearray | None, bytearray | None, bytearray | tuple[bytearray, bytearray] | None, int]
Table = tuple[int, bytearray, tuple[ColumnBuffers, ...]]

def line_ends(data: Buffer, /) -> bytearray:
    """int64 per line: where it ends (its newline, or len(data) for a last line without one)."""

def match_pattern(items: tuple[tuple[bytes, int, int], ...], value: str) -> bool: ...
