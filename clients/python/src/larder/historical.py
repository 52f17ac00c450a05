"""Training sets: entity rows in, point-in-time-correct features out, streamed into Arrow."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Union

import pyarrow as pa

from ._proto.larder.offline.v1 import offline_retrieval_service_pb2 as offline_pb2
from ._proto.larder.registry.v1 import data_source_pb2
from .errors import InvalidArgument, LarderError
from .values import column_from_values, fill_timestamps, timestamps_from_arrow, values_from_arrow

ENTITY_BATCH_ROWS = 10_000
"""Entity rows per message sent: well inside the services' message limit for a few keys."""


@dataclass(frozen=True)
class ServerSource:
    """Entity rows the offline engine reads itself (nothing is sent from this process):
    a Parquet/CSV file inside the service's read roots, or a table of its PostgreSQL or
    BigQuery offline store."""

    file: Optional[str] = None
    postgres_table: Optional[str] = None
    bigquery_table: Optional[str] = None
    timestamp_column: str = ""
    order_column: str = ""

    def to_proto(self) -> offline_pb2.EntitySource:
        given = [x for x in (self.file, self.postgres_table, self.bigquery_table) if x is not None]
        if len(given) != 1:
            raise InvalidArgument("ServerSource takes exactly one of file, postgres_table, bigquery_table")
        source = offline_pb2.EntitySource(timestamp_column=self.timestamp_column, order_column=self.order_column)
        if self.file is not None:
            fmt = data_source_pb2.FILE_FORMAT_CSV if self.file.lower().endswith(".csv") else data_source_pb2.FILE_FORMAT_PARQUET
            source.file.CopyFrom(data_source_pb2.FileSource(path=self.file, format=fmt))
        elif self.postgres_table is not None:
            source.postgres.table = self.postgres_table
        else:
            assert self.bigquery_table is not None
            source.bigquery.table = self.bigquery_table
        return source


EntityDf = Union["pa.Table", Any, str, "os.PathLike[str]", ServerSource]


def entity_table(entity_df: Any) -> pa.Table:
    """A pandas DataFrame, a pyarrow Table, or a local .parquet/.csv path, as a Table."""
    if isinstance(entity_df, pa.Table):
        return entity_df
    if isinstance(entity_df, (str, os.PathLike)):
        path = Path(entity_df)
        if not path.is_file():
            raise InvalidArgument(f"entity_df: no such file {path}")
        if path.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(path)
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        raise InvalidArgument(f"entity_df: {path} is neither .parquet nor .csv")
    if hasattr(entity_df, "columns") and hasattr(entity_df, "iloc"):
        return pa.Table.from_pandas(entity_df, preserve_index=False)
    raise InvalidArgument(f"entity_df must be a pandas DataFrame, a pyarrow Table, a path or a ServerSource, not {type(entity_df).__name__}")


def inline_requests(query: offline_pb2.HistoricalQuery, table: pa.Table, timestamp_column: str) -> List[offline_pb2.GetHistoricalFeaturesRequest]:
    """The query, then the entity rows in RowBatches of ENTITY_BATCH_ROWS."""
    if timestamp_column not in table.column_names:
        raise InvalidArgument(f"entity_df has no {timestamp_column!r} column (the time of each row; name another with timestamp_column=)")
    names = [n for n in table.column_names if n != timestamp_column]
    query.entity_columns.extend(names)
    messages = [offline_pb2.GetHistoricalFeaturesRequest(query=query)]
    for start in range(0, table.num_rows, ENTITY_BATCH_ROWS):
        part = table.slice(start, ENTITY_BATCH_ROWS)
        message = offline_pb2.GetHistoricalFeaturesRequest()
        rows = message.entity_rows
        for name in names:
            rows.columns[name].val.extend(values_from_arrow(part.column(name), name))
        fill_timestamps(rows.event_timestamps, timestamps_from_arrow(part.column(timestamp_column), timestamp_column))
        messages.append(message)
    return messages


def decode_chunk_proto(schema: offline_pb2.ResultSchema, arrow_schema: pa.Schema, chunk: offline_pb2.ResultChunk) -> pa.RecordBatch:
    if len(chunk.columns) != len(schema.columns):
        raise LarderError(f"a result chunk has {len(chunk.columns)} columns where the schema has {len(schema.columns)}")
    arrays: List[pa.Array] = [column_from_values(repeated.val, column.value_type) for column, repeated in zip(schema.columns, chunk.columns)]
    micros = [s.seconds * 1_000_000 + s.nanos // 1000 for s in chunk.event_timestamps]
    at = _timestamp_position(schema)
    arrays.insert(at, pa.array(micros, type=pa.int64()).cast(arrow_schema.field(at).type))
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)


def _timestamp_position(schema: offline_pb2.ResultSchema) -> int:
    """The timestamp column goes after the entity columns, before the features (Feast's order)."""
    return sum(1 for c in schema.columns if c.role != offline_pb2.COLUMN_ROLE_FEATURE)


class RetrievalJob:
    """A training set being retrieved. Nothing is sent until a result is asked for; the
    rows then stream in, each chunk turned into an Arrow record batch as it arrives
    (the chunk is dropped once decoded). ``to_arrow()``/``to_df()`` keep the table, so
    asking twice does not query twice; ``iter_batches()`` and ``to_parquet()`` keep
    nothing and hold one chunk at a time."""

    def __init__(self, start: Callable[[], Iterable[Any]]) -> None:
        self._start = start
        self._table: Optional[pa.Table] = None
        self.summary: Optional[offline_pb2.ResultSummary] = None
        self.schema: Optional[offline_pb2.ResultSchema] = None

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Record batches in row order: the entity columns, the timestamp (UTC), then
        the features, as the schema orders them."""
        from ._wire import decode_chunk, split_response

        schema: Optional[offline_pb2.ResultSchema] = None
        arrow_schema: Optional[pa.Schema] = None
        next_row = 0
        for raw in self._start():
            field, payload = split_response(raw)
            if field == 1:
                schema = offline_pb2.ResultSchema.FromString(bytes(payload))
                self.schema = schema
                arrow_schema = arrow_schema_of(schema)
            elif field == 2:
                if schema is None or arrow_schema is None:
                    raise LarderError("the service sent rows before their schema")
                first_row, batch = decode_chunk(payload, schema, arrow_schema)
                if first_row != next_row:
                    raise LarderError(f"a result chunk starts at row {first_row}, expected {next_row}")
                next_row += batch.num_rows
                yield batch
            elif field == 3:
                self.summary = offline_pb2.ResultSummary.FromString(bytes(payload))
            elif field == -1:
                # Not the plain one-field shape: let protobuf read it.
                message = offline_pb2.GetHistoricalFeaturesResponse.FromString(bytes(raw))
                part = message.WhichOneof("part")
                if part == "schema":
                    schema = message.schema
                    self.schema = schema
                    arrow_schema = arrow_schema_of(schema)
                elif part == "chunk" and schema is not None and arrow_schema is not None:
                    batch = decode_chunk_proto(schema, arrow_schema, message.chunk)
                    next_row += batch.num_rows
                    yield batch
                elif part == "summary":
                    self.summary = message.summary
        if self.summary is None:
            raise LarderError("the result stream ended without its summary")

    def to_arrow(self) -> pa.Table:
        if self._table is None:
            batches = list(self.iter_batches())
            assert self.schema is not None
            self._table = pa.Table.from_batches(batches, schema=arrow_schema_of(self.schema))
        return self._table

    def to_df(self) -> Any:
        """A pandas DataFrame; timestamps as datetime64[ns, UTC]."""
        return self.to_arrow().to_pandas()

    def to_parquet(self, path: Union[str, "os.PathLike[str]"]) -> int:
        """Writes the rows to a local Parquet file as they arrive; returns the row count."""
        import pyarrow.parquet as pq

        writer: Optional[pq.ParquetWriter] = None
        rows = 0
        try:
            if self._table is not None:
                pq.write_table(self._table, path)
                return self._table.num_rows
            for batch in self.iter_batches():
                if writer is None:
                    writer = pq.ParquetWriter(path, batch.schema)
                writer.write_batch(batch)
                rows += batch.num_rows
            if writer is None and self.schema is not None:
                pq.write_table(arrow_schema_of(self.schema).empty_table(), path)
        finally:
            if writer is not None:
                writer.close()
        return rows


def arrow_schema_of(schema: offline_pb2.ResultSchema) -> pa.Schema:
    from .values import arrow_type

    fields = [pa.field(c.name, arrow_type(c.value_type)) for c in schema.columns]
    fields.insert(_timestamp_position(schema), pa.field(schema.timestamp_column or "event_timestamp", pa.timestamp("us", tz="UTC")))
    return pa.schema(fields)


def historical_query(
    project: str,
    features: Optional[Sequence[str]],
    feature_service: Optional[str],
    full_feature_names: bool,
) -> offline_pb2.HistoricalQuery:
    if (features is None) == (feature_service is None):
        raise InvalidArgument("give features (a list of 'view:feature') or feature_service, not both and not neither")
    if isinstance(features, str):
        raise InvalidArgument("features must be a list of 'view:feature' strings, not one string")
    query = offline_pb2.HistoricalQuery(project=project, full_feature_names=full_feature_names)
    if feature_service is not None:
        query.feature_service = feature_service
    else:
        query.features.val.extend(features or [])
    return query
