"""Appending Arrow rows to an Iceberg table: our own partition split and Parquet files, one fast append.

pyiceberg's `Transaction.append` does the same job at ~0.5 M rows per CPU second; most of that is
its generic partition split (one filter pass over the table per partition) and Parquet settings
that dictionary-encode every column (event ids and measurements too). Here:

* partitions: each partition field's transform runs once over its column (pyiceberg's own
  `pyarrow_transform`, so the values are exactly the ones pyiceberg would compute), the results
  become small integer codes, and one `take` groups the rows by partition, keeping input order
  within each (the edge's events arrive in time order, so each file is sorted by time already);
* files: one Parquet file per partition (more only past the table's target file size), zstd as
  the table says, plain encoding (no dictionaries), statistics for every column, written where
  pyiceberg's location provider puts them, with unique names;
* metadata: each file's `DataFile` (partition, sizes, counts, bounds) comes from its Parquet
  footer through pyiceberg's own helper, as `pyiceberg.io.pyarrow.write_file` does;
* commit: all files of a run in one snapshot (`fast_append`, or `merge_append` when the table asks
  for manifest merging), in one transaction, onto the snapshot the caller last looked at: when
  another writer committed in between, the commit fails, the caller's `recheck` sees what that
  writer added (`added_since`) and may drop rows from this run's files (`drop_rows`), and the
  commit is tried again onto the new snapshot. (pyiceberg's own retry would re-apply the append
  blindly: two runs deduplicated against the same snapshot would both land.)

A run that fails before its commit deletes the files it wrote (`abort`); files written before a
kill -9 are named by no snapshot: orphans `maintain` deletes. See
docs/adr/lakewrite-0001-own-parquet-fast-append.md for the pyiceberg internals this relies on.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io.pyarrow import (
    _check_pyarrow_schema_compatible,
    _get_parquet_writer_kwargs,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
    pyarrow_to_schema,
    schema_to_pyarrow,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestEntryStatus
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.schema import sanitize_column_names
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update.snapshot import _SnapshotProducer
from pyiceberg.typedef import Record
from pyiceberg.utils.properties import property_as_bool, property_as_int

FEW_PARTITIONS = 16  # up to this many, one comparison pass per partition beats a sort
COMMIT_ATTEMPTS = 20  # each failed attempt means another writer committed: progress, not a loop


class _Layout:
    """What every file of a table shares: Arrow schema with field ids, writer settings, stats plan."""

    def __init__(self, table: Table) -> None:
        metadata = table.metadata
        self.schema = metadata.schema()
        if sanitize_column_names(self.schema) != self.schema:
            raise ValueError(f"{table.name()}: column names Parquet cannot hold as they are")
        self.arrow = schema_to_pyarrow(self.schema, include_field_ids=True)
        self.spec = metadata.spec()
        self.spec_id = metadata.default_spec_id
        self.properties = metadata.properties
        self.format_version = metadata.format_version
        self.writer_options: dict[str, Any] = {
            **_get_parquet_writer_kwargs(self.properties), "store_decimal_as_integer": True,
            # No Arrow schema in the footer: readers take the Parquet types (string, not the
            # large_string the Iceberg schema maps to), as they do for pyiceberg's own files.
            "store_schema": False}
        # Plain encoding but for the columns that come dictionary-encoded (`dictionaries`, per file):
        # zstd packs repeated values as well as dictionaries do (files within 1%), and dictionaries of
        # unique ids and measurements cost time for nothing (measured in
        # docs/adr/lakewrite-0001-own-parquet-fast-append.md); an Arrow dictionary is written as it is.
        self.row_group_rows = property_as_int(self.properties, TableProperties.PARQUET_ROW_GROUP_LIMIT,
                                              TableProperties.PARQUET_ROW_GROUP_LIMIT_DEFAULT)
        self.target_bytes = property_as_int(self.properties, TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
                                            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT)
        self.stats_plan = compute_statistics_plan(self.schema, self.properties)
        self.column_ids = parquet_path_to_id_mapping(self.schema)
        self.file_schemas: dict[pa.Schema, pa.Schema] = {}  # per schema of the rows: what their files hold
        self.dictionary_paths: dict[pa.Schema, list[str] | bool] = {}

    def dictionaries(self, schema: pa.Schema) -> list[str] | bool:
        """`use_dictionary` for a file of `schema`: its dictionary-encoded columns, or False."""
        paths = self.dictionary_paths.get(schema)
        if paths is None:
            paths = self.dictionary_paths[schema] = dictionary_columns(schema) or False
        return paths

    def _check_compatible(self, schema: pa.Schema) -> None:
        """pyiceberg's check, run only when `schema` is not the table's own (its rich report of every
        field costs ~0.07 s of imports per process, for rows that are the table's schema exactly)."""
        try:
            same = pyarrow_to_schema(schema, name_mapping=self.schema.name_mapping,
                                     format_version=self.format_version).as_struct() == self.schema.as_struct()
        except ValueError:  # columns the table lacks: pyiceberg's check says so
            same = False
        if not same:
            _check_pyarrow_schema_compatible(self.schema, schema, format_version=self.format_version)

    def conform(self, rows: pa.Table) -> pa.Table:
        """`rows` in the table's column order, field ids attached; refused as pyiceberg would refuse them."""
        schema = self.file_schemas.get(rows.schema)
        if schema is None:
            self._check_compatible(_plain_strings(rows.schema))
            schema = self.file_schemas[rows.schema] = pa.schema(
                [_as_stored(target, rows.schema.field(target.name).type) if target.name in rows.column_names
                 else target for target in self.arrow])
        columns = []
        for field in schema:
            if field.name not in rows.column_names:  # a column the table has and these rows lack: NULL
                columns.append(pa.nulls(rows.num_rows, field.type))
                continue
            column = rows.column(field.name)
            columns.append(column if column.type.equals(field.type) else column.cast(field.type))
        return pa.Table.from_arrays(columns, schema=schema)


_STRINGS = (pa.types.is_string, pa.types.is_large_string)
_LISTS = (pa.types.is_list, pa.types.is_large_list)


def _plain(field: pa.Field) -> pa.Field:
    kind = field.type
    if pa.types.is_dictionary(kind):
        return field.with_type(kind.value_type)
    if pa.types.is_struct(kind):
        return field.with_type(pa.struct([_plain(member) for member in kind]))
    return field


def _plain_strings(schema: pa.Schema) -> pa.Schema:
    """`schema` with dictionary types as their values' type: what a file of it reads back as (checked
    so, pyiceberg says nothing of dictionaries, an encoding detail to Iceberg)."""
    return pa.schema([_plain(field) for field in schema], metadata=schema.metadata)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Dotted paths of the dictionary-encoded columns: Parquet writes them as dictionary pages + indices
    (the writer takes Arrow's dictionary as it is; other columns stay plain)."""
    out: list[str] = []

    def walk(fields: Any, prefix: str) -> None:
        for field in fields:
            if pa.types.is_dictionary(field.type):
                out.append(prefix + field.name)
            elif pa.types.is_struct(field.type):
                walk(field.type, f"{prefix}{field.name}.")

    walk(schema, "")
    return out


def _same_kind(kinds: tuple[Any, ...], *types: pa.DataType) -> bool:
    return all(any(kind(t) for kind in kinds) for t in types)


def _as_stored(target: pa.Field, actual: pa.DataType) -> pa.Field:
    """The table's field (name, nullability, field id) with the rows' own string and list widths:
    without an Arrow schema in the footer, a Parquet file cannot tell string from large_string,
    so the rows are written as they come instead of being copied into the other width."""
    kind = target.type
    if _same_kind(_STRINGS, kind, actual):
        return target.with_type(actual)
    if pa.types.is_dictionary(actual) and _same_kind(_STRINGS, kind, actual.value_type):
        return target.with_type(actual)  # written as a Parquet dictionary, read back as the strings
    if pa.types.is_struct(kind) and pa.types.is_struct(actual) and \
            [f.name for f in kind] == [f.name for f in actual]:
        return target.with_type(pa.struct([_as_stored(kind.field(i), actual.field(i).type)
                                           for i in range(kind.num_fields)]))
    if _same_kind(_LISTS, kind, actual):
        element = _as_stored(kind.value_field, actual.value_type)
        return target.with_type(pa.large_list(element) if pa.types.is_large_list(actual) else pa.list_(element))
    return target  # anything else is cast to the table's type


def _codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """Small integer codes for `values` and the value of each code (None for nulls)."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries().combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    indices = encoded.indices
    if indices.null_count:
        indices = indices.fill_null(len(dictionary))
        dictionary.append(None)
    return indices.to_numpy(zero_copy_only=False).astype(np.int64), dictionary


def split_by_partition(rows: pa.Table, layout: _Layout) -> list[tuple[list[Any], pa.Table]]:
    """(partition values, rows) per partition, rows in input order within each."""
    if layout.spec.is_unpartitioned():
        return [([], rows)]
    key = np.zeros(rows.num_rows, dtype=np.int64)
    values: list[list[Any]] = []
    for field in layout.spec.fields:
        source = layout.schema.find_field(field.source_id)
        column = rows.column(layout.schema.find_column_name(field.source_id))
        codes, dictionary = _codes(field.transform.pyarrow_transform(source.field_type)(column))
        key = key * len(dictionary) + codes
        values.append(dictionary)
    radices = [len(v) for v in values]

    def partition_values(code: int) -> list[Any]:
        out = []
        for dictionary, radix in zip(reversed(values), reversed(radices), strict=True):
            code, index = divmod(code, radix)
            out.append(dictionary[index])
        return out[::-1]

    first, last = int(key.min()), int(key.max())
    if first == last:
        return [(partition_values(first), rows)]
    keys = np.unique(pc.unique(pa.array(key)).to_numpy())
    if len(keys) <= FEW_PARTITIONS:
        groups = [np.flatnonzero(key == k) for k in keys]
        order = np.concatenate(groups)
    else:
        order = np.argsort(key, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(key[order])) + 1)
    grouped = rows.take(pa.array(order))
    out, start = [], 0
    for k, group in zip(keys, groups, strict=True):
        out.append((partition_values(int(k)), grouped.slice(start, len(group))))
        start += len(group)
    return out


class _OneCopyTransaction(Transaction):
    """pyiceberg's Transaction applies its staged updates to the base metadata and deep-copies the
    result every time `table_metadata` is read: 14 times in one fast append's commit, ~0.035 s of
    CPU each commit (7% of compacting 1 M events). This one rebuilds it only after a change. The
    metadata models are frozen, so sharing one copy between readers is safe.

    Its snapshot producers are kept from pyiceberg's commit loop, which would otherwise retry a
    failed commit onto whatever the table became; `FastAppend.commit` decides what to retry."""

    _built: tuple[int, int, TableMetadata] | None = None
    producers: list[_SnapshotProducer[Any]]

    def _register_snapshot_producer(self, producer: _SnapshotProducer[Any]) -> None:
        self.__dict__.setdefault("producers", []).append(producer)

    @property
    def table_metadata(self) -> TableMetadata:
        key = (id(self._table.metadata), len(self._updates))
        if self._built is None or self._built[:2] != key:
            self._built = (*key, super().table_metadata)
        return self._built[2]


def added_since(table: Table, base_snapshot_id: int | None) -> list[DataFile]:
    """The data files the snapshots after `base_snapshot_id` (up to the current one) added; every
    data file of the current snapshot when `base_snapshot_id` is no longer among its ancestors
    (expired in between: what was added since cannot be told apart any more)."""
    added: list[DataFile] = []
    snapshot = table.current_snapshot()
    while snapshot is not None and snapshot.snapshot_id != base_snapshot_id:
        for manifest in snapshot.manifests(table.io):
            if manifest.added_snapshot_id != snapshot.snapshot_id:
                continue
            added.extend(entry.data_file for entry in manifest.fetch_manifest_entry(table.io)
                         if entry.status == ManifestEntryStatus.ADDED)
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    if snapshot is None and base_snapshot_id is not None:
        return [task.file for task in table.scan().plan_files()]
    return added


Recheck = Callable[["FastAppend", int | None], None]


class FastAppend:
    """Rows written as Parquet files now; all of them added to the table in one snapshot by `commit`."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.base_snapshot_id = table.metadata.current_snapshot_id  # what the caller deduplicated against
        self.layout = _Layout(table)
        self.locations = table.location_provider()
        self.write_uuid = uuid.uuid4()
        self.counter = itertools.count()
        self.files: list[DataFile] = []
        self.partition_keys: list[PartitionKey | None] = []  # per file, to write a file again
        self.rows = 0
        self.bytes = 0  # in the files written (deleted ones included)
        self.arrow_bytes = self.arrow_bytes_written = 0  # of the rows given to files / of those written

    def write(self, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        conformed = self.layout.conform(rows)
        self.arrow_bytes += conformed.nbytes
        for values, part in split_by_partition(conformed, self.layout):
            key = PartitionKey(field_values=[PartitionFieldValue(field, value) for field, value in
                                             zip(self.layout.spec.fields, values, strict=True)],
                               partition_spec=self.layout.spec, schema=self.layout.schema) if values else None
            for piece in self._pieces(part):
                self.files.append(self._write_file(piece, key))
                self.partition_keys.append(key)
                self.arrow_bytes_written += piece.nbytes
        self.rows += rows.num_rows

    def _pieces(self, part: pa.Table) -> list[pa.Table]:
        """At most the table's target file size each (in Arrow bytes, as pyiceberg counts it)."""
        if part.nbytes <= self.layout.target_bytes:
            return [part]
        per_file = max(1, int(self.layout.target_bytes / (part.nbytes / part.num_rows)))
        return [part.slice(start, per_file) for start in range(0, part.num_rows, per_file)]

    def _write_file(self, rows: pa.Table, key: PartitionKey | None) -> DataFile:
        name = f"00000-{next(self.counter)}-{self.write_uuid}.parquet"  # pyiceberg's naming
        path = self.locations.new_data_location(data_file_name=name, partition_key=key)
        try:
            with self.table.io.new_output(path).create(overwrite=True) as stream:
                writer = pq.ParquetWriter(stream, rows.schema, **self.layout.writer_options,
                                          use_dictionary=self.layout.dictionaries(rows.schema))
                writer.write_table(rows, row_group_size=self.layout.row_group_rows)
                writer.close()
                size = stream.tell()
        except BaseException:
            self._delete(path)  # a half-written file holds space (a full disk) and names nothing
            raise
        self.bytes += size
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=writer.writer.metadata, stats_columns=self.layout.stats_plan,
            parquet_column_mapping=self.layout.column_ids)
        return DataFile.from_args(
            content=DataFileContent.DATA, file_path=path, file_format=FileFormat.PARQUET,
            partition=key.partition if key is not None else Record(), file_size_in_bytes=size,
            sort_order_id=None, spec_id=self.layout.spec_id, equality_ids=None, key_metadata=None,
            **statistics.to_serialized_dict())

    def space_needed(self) -> int:
        """Bytes the files of every row given so far take (or would take): the sizes of the files
        written, scaled up by their compression ratio to the rows whose file could not be written
        (at 1:1 when none was written)."""
        ratio = self.bytes / self.arrow_bytes_written if self.arrow_bytes_written else 1.0
        return int(self.arrow_bytes * ratio)

    def _delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.table.io.delete(path)

    def abort(self) -> None:
        """Deletes every file written and not committed (a failed run leaves no space taken)."""
        files, self.files, self.partition_keys = self.files, [], []
        for data_file in files:
            self._delete(data_file.file_path)

    def file_column(self, index: int, column: str) -> pa.Array:
        """One column of this run's `index`-th file, as written."""
        with self.table.io.new_input(self.files[index].file_path).open() as stream:
            return pq.read_table(stream, columns=[column]).column(column).combine_chunks()

    def drop_rows(self, drops: list[np.ndarray]) -> int:
        """Removes the rows `drops[i]` marks from the i-th file: the file is written again without
        them, or deleted when nothing is left. Returns the rows removed."""
        files: list[DataFile] = []
        keys: list[PartitionKey | None] = []
        dropped = 0
        for data_file, key, drop in zip(self.files, self.partition_keys, drops, strict=True):
            count = int(drop.sum())
            if count == 0:
                files.append(data_file)
                keys.append(key)
                continue
            if count < len(drop):
                with self.table.io.new_input(data_file.file_path).open() as stream:
                    rows = pq.read_table(stream)
                files.append(self._write_file(rows.filter(pa.array(~drop)), key))
                keys.append(key)
            self._delete(data_file.file_path)
            dropped += count
        self.files, self.partition_keys = files, keys
        self.rows -= dropped
        return dropped

    def commit(self, snapshot_properties: dict[str, str], recheck: Recheck | None = None) -> None:
        """One snapshot with every file written, onto the snapshot the rows were checked against;
        nothing at all when nothing was written (or `recheck` dropped everything).

        When another writer committed first, `recheck(self, base)` is called with the table
        refreshed and `base` the snapshot this run had seen (it may drop rows), then the commit is
        tried again onto the new snapshot. Without a `recheck`, the conflict is raised.
        """
        for attempt in itertools.count(1):
            if not self.files:
                return
            try:
                self._commit_once(snapshot_properties)
                return
            except CommitFailedException:
                if recheck is None or attempt == COMMIT_ATTEMPTS:
                    raise
            self.table.refresh()
            seen, self.base_snapshot_id = self.base_snapshot_id, self.table.metadata.current_snapshot_id
            recheck(self, seen)

    def _commit_once(self, snapshot_properties: dict[str, str]) -> None:
        """One attempt; CommitFailedException when the table is no longer at `base_snapshot_id`
        (the snapshot update asserts the branch's head, checked by the catalog at its commit)."""
        tx = _OneCopyTransaction(self.table)
        update = tx.update_snapshot(snapshot_properties=snapshot_properties)
        merge = property_as_bool(self.layout.properties, TableProperties.MANIFEST_MERGE_ENABLED,
                                 TableProperties.MANIFEST_MERGE_ENABLED_DEFAULT)
        with update.merge_append() if merge else update.fast_append() as append:
            for data_file in self.files:
                append.append_data_file(data_file)
        try:
            tx.commit_transaction()
        except CommitFailedException:
            for producer in tx.__dict__.get("producers", []):
                producer._clean_all_uncommitted()  # its manifests name files of a commit that did not land
            raise
