"""Training sets: entity rows in, point-in-time-correct features out, streamed into Arrow."""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, AsyncIterable, AsyncIterator, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import pyarrow as pa

from ._proto.larder.offline.v1 import offline_retrieval_service_pb2 as offline_pb2
from ._proto.larder.registry.v1 import data_source_pb2
from .errors import FailedPrecondition, InvalidArgument, LarderError, ValidationFailed
from .validation import ValidationReport, report_of
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


@dataclass(frozen=True)
class Destination:
    """Where offline retrieval's engine writes the training set itself: a Parquet/CSV file
    inside the service's write root, or a table of its PostgreSQL or BigQuery offline
    store. ``saved_dataset`` also registers it (with ``tags``) as a saved dataset;
    ``overwrite`` replaces what is there. Rows still stream back for a ServerSource
    (unless ``omit_rows``); entity rows sent from here are joined once, so then only the
    summary comes back. Validation (``validate=``) needs a destination: the engine
    computes the statistics where it wrote the set."""

    file: Optional[str] = None
    postgres_table: Optional[str] = None
    bigquery_table: Optional[str] = None
    overwrite: bool = False
    saved_dataset: str = ""
    tags: Mapping[str, str] = dc_field(default_factory=dict)
    omit_rows: bool = False
    row_index_column: str = ""

    def to_proto(self, omit_rows: bool) -> offline_pb2.OutputDestination:
        given = [x for x in (self.file, self.postgres_table, self.bigquery_table) if x is not None]
        if len(given) != 1:
            raise InvalidArgument("Destination takes exactly one of file, postgres_table, bigquery_table")
        out = offline_pb2.OutputDestination(
            saved_dataset_name=self.saved_dataset,
            saved_dataset_tags=dict(self.tags),
            omit_rows=omit_rows or self.omit_rows,
            overwrite=self.overwrite,
            row_index_column=self.row_index_column,
        )
        if self.file is not None:
            fmt = data_source_pb2.FILE_FORMAT_CSV if self.file.lower().endswith(".csv") else data_source_pb2.FILE_FORMAT_PARQUET
            out.storage.file.CopyFrom(data_source_pb2.FileSource(path=self.file, format=fmt))
        elif self.postgres_table is not None:
            out.storage.postgres_table = self.postgres_table
        else:
            assert self.bigquery_table is not None
            out.storage.bigquery_table = self.bigquery_table
        return out

    def __str__(self) -> str:
        return str(self.file or self.postgres_table or self.bigquery_table)


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


class _ResultReader:
    """Turns the result stream's raw messages (bytes) into record batches: the one decoder
    both RetrievalJob and larder.aio's AsyncRetrievalJob feed."""

    def __init__(self, job: "_JobState") -> None:
        self._job = job
        # A job read again (to_parquet twice) must not pass on the last run's summary.
        job.summary = None
        job.validation = None
        job.received_format = None
        self._arrow_schema: Optional[pa.Schema] = None
        self._next_row = 0

    def _set_schema(self, schema: offline_pb2.ResultSchema) -> None:
        self._job.schema = schema
        self._arrow_schema = arrow_schema_of(schema)

    def feed(self, raw: Any) -> List[pa.RecordBatch]:
        """The record batches in one message (none for the schema and the summary)."""
        from ._wire import decode_chunk, parquet_chunk, split_response

        field, payload = split_response(raw)
        if field == 1:
            self._set_schema(offline_pb2.ResultSchema.FromString(bytes(payload)))
        elif field == 2:
            schema, arrow_schema = self._job.schema, self._arrow_schema
            if schema is None or arrow_schema is None:
                raise LarderError("the service sent rows before their schema")
            first_row, batch = decode_chunk(payload, schema, arrow_schema)
            self._job.received_format = "values"
            if first_row != self._next_row:
                raise LarderError(f"a result chunk starts at row {first_row}, expected {self._next_row}")
            self._next_row += batch.num_rows
            return [batch]
        elif field == 4:
            first_row, row_count, file = parquet_chunk(payload)
            return self._parquet(first_row, row_count, file)
        elif field == 3:
            self._job.summary = offline_pb2.ResultSummary.FromString(bytes(payload))
        elif field == -1:
            # Not the plain one-field shape: let protobuf read it.
            message = offline_pb2.GetHistoricalFeaturesResponse.FromString(bytes(raw))
            part = message.WhichOneof("part")
            if part == "schema":
                self._set_schema(message.schema)
            elif part == "chunk" and self._job.schema is not None and self._arrow_schema is not None:
                batch = decode_chunk_proto(self._job.schema, self._arrow_schema, message.chunk)
                self._job.received_format = "values"
                self._next_row += batch.num_rows
                return [batch]
            elif part == "parquet_chunk":
                chunk = message.parquet_chunk
                return self._parquet(chunk.first_row, chunk.row_count, memoryview(chunk.parquet))
            elif part == "summary":
                self._job.summary = message.summary
        return []

    def _parquet(self, first_row: int, row_count: int, file: memoryview) -> List[pa.RecordBatch]:
        """A Parquet chunk's rows, read from the message's bytes into Arrow (the bytes are
        not kept), as the schema types them."""
        import pyarrow.parquet as pq

        arrow_schema = self._arrow_schema
        if arrow_schema is None:
            raise LarderError("the service sent rows before their schema")
        if first_row != self._next_row:
            raise LarderError(f"a result chunk starts at row {first_row}, expected {self._next_row}")
        self._job.received_format = "parquet"
        table = pq.read_table(pa.BufferReader(pa.py_buffer(file)))
        if table.num_rows != row_count or table.column_names != arrow_schema.names:
            raise LarderError(
                f"a Parquet chunk has {table.num_rows} rows and columns {table.column_names}; "
                f"expected {row_count} rows and {arrow_schema.names}"
            )
        # Types the schema names exactly (a list's item field, UNIX_TIMESTAMP in seconds as
        # value chunks carry it): the frame is the same whichever format carried the rows.
        table = table.cast(arrow_schema, safe=False)
        self._next_row += table.num_rows
        return table.to_batches()

    def end(self) -> None:
        if self._job.summary is None:
            raise LarderError("the result stream ended without its summary")
        self._job.validation = report_of(self._job.summary, self._job.validate != "")

    def failed(self, error: LarderError) -> LarderError:
        """The error to raise: a broken schema under validate="fail" is ValidationFailed."""
        if self._job.validate == "fail" and isinstance(error, FailedPrecondition) and error.message.startswith(BROKEN_SCHEMAS):
            return ValidationFailed(error.message)
        return error


BROKEN_SCHEMAS = "query.validation: the training set breaks"
"""How offline retrieval's FAILED_PRECONDITION for validate="fail" begins."""


class _JobState:
    """What both retrieval jobs know: the call, and the schema, summary and validation
    report once the stream has told them."""

    def __init__(self, rows_back: bool, validate: str, destination: Optional["Destination"]) -> None:
        self.rows_back = rows_back
        self.validate = validate
        self.destination = destination
        self._table: Optional[pa.Table] = None
        self.summary: Optional[offline_pb2.ResultSummary] = None
        self.schema: Optional[offline_pb2.ResultSchema] = None
        self.validation: Optional[ValidationReport] = None
        # "parquet" or "values": how the rows arrived (a service that cannot write
        # Parquet, or a result with on-demand features, answers with values).
        self.received_format: Optional[str] = None

    @property
    def anomalies(self) -> Any:
        """TFDV's Anomalies of the training set (validate=True), once it has run."""
        return None if self.validation is None else self.validation.anomalies

    def _need_rows(self) -> None:
        if not self.rows_back:
            raise InvalidArgument(
                f"the service wrote the training set to {self.destination} and sent no rows back (entity rows sent from here "
                "with a destination, or omit_rows=True): call run(), then read the destination; or give a ServerSource"
            )

    def _table_of(self, batches: List[pa.RecordBatch]) -> pa.Table:
        assert self.schema is not None
        return pa.Table.from_batches(batches, schema=arrow_schema_of(self.schema))


class RetrievalJob(_JobState):
    """A training set being retrieved. Nothing is sent until a result is asked for; the
    rows then stream in, each chunk turned into an Arrow record batch as it arrives
    (the chunk is dropped once decoded). ``to_arrow()``/``to_df()`` keep the table, so
    asking twice does not query twice; ``iter_batches()`` and ``to_parquet()`` keep
    nothing and hold one chunk at a time. With a destination, ``run()`` executes the
    query and returns the summary; ``validation`` then holds the ValidationReport."""

    def __init__(self, start: Callable[[], Iterable[Any]], rows_back: bool = True, validate: str = "", destination: Optional["Destination"] = None) -> None:
        super().__init__(rows_back, validate, destination)
        self._start = start

    def _messages(self) -> Iterator[pa.RecordBatch]:
        reader = _ResultReader(self)
        try:
            for raw in self._start():
                for batch in reader.feed(raw):
                    yield batch
        except LarderError as error:
            raise reader.failed(error) from None
        reader.end()

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Record batches in row order: the entity columns, the timestamp (UTC), then
        the features, as the schema orders them."""
        self._need_rows()
        return self._messages()

    def run(self) -> offline_pb2.ResultSummary:
        """Runs the query to its end (keeping the rows, as to_arrow, when they come back)
        and returns the summary: rows, where they were written, the anomalies."""
        if self._table is None:
            if self.rows_back:
                self.to_arrow()
            else:
                for _ in self._messages():
                    pass
        assert self.summary is not None
        return self.summary

    def to_arrow(self) -> pa.Table:
        if self._table is None:
            batches = list(self.iter_batches())
            self._table = self._table_of(batches)
        return self._table

    def to_df(self) -> Any:
        """A pandas DataFrame; timestamps as datetime64[ns, UTC]."""
        return self.to_arrow().to_pandas()

    def to_parquet(self, path: Union[str, "os.PathLike[str]"]) -> int:
        """Writes the rows to a local Parquet file as they arrive; returns the row count."""
        import pyarrow.parquet as pq

        if self._table is not None:
            pq.write_table(self._table, path)
            return self._table.num_rows
        writer = _ParquetOut(path)
        try:
            for batch in self.iter_batches():
                writer.write(batch)
        except BaseException:
            writer.abort()
            raise
        writer.finish(self.schema)
        return writer.rows


class AsyncRetrievalJob(_JobState):
    """RetrievalJob for asyncio (larder.aio): the same decoding, awaited. ``await
    job.to_arrow()``, ``to_df()``, ``to_parquet(path)``, ``run()``, and ``async for
    batch in job.iter_batches()``."""

    def __init__(self, start: Callable[[], AsyncIterable[Any]], rows_back: bool = True, validate: str = "", destination: Optional["Destination"] = None) -> None:
        super().__init__(rows_back, validate, destination)
        self._start = start

    async def _messages(self) -> AsyncIterator[pa.RecordBatch]:
        reader = _ResultReader(self)
        try:
            async for raw in self._start():
                for batch in reader.feed(raw):
                    yield batch
        except LarderError as error:
            raise reader.failed(error) from None
        reader.end()

    def iter_batches(self) -> AsyncIterator[pa.RecordBatch]:
        self._need_rows()
        return self._messages()

    async def run(self) -> offline_pb2.ResultSummary:
        if self._table is None:
            if self.rows_back:
                await self.to_arrow()
            else:
                async for _ in self._messages():
                    pass
        assert self.summary is not None
        return self.summary

    async def to_arrow(self) -> pa.Table:
        if self._table is None:
            self._table = self._table_of([batch async for batch in self.iter_batches()])
        return self._table

    async def to_df(self) -> Any:
        return (await self.to_arrow()).to_pandas()

    async def to_parquet(self, path: Union[str, "os.PathLike[str]"]) -> int:
        import pyarrow.parquet as pq

        if self._table is not None:
            pq.write_table(self._table, path)
            return self._table.num_rows
        writer = _ParquetOut(path)
        try:
            async for batch in self.iter_batches():
                writer.write(batch)
        except BaseException:
            writer.abort()
            raise
        writer.finish(self.schema)
        return writer.rows


class _ParquetOut:
    """A Parquet file written batch by batch (an empty file of the schema when no rows)."""

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path = path
        self.rows = 0
        self._writer: Any = None

    def write(self, batch: pa.RecordBatch) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, batch.schema)
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def finish(self, schema: Optional[offline_pb2.ResultSchema]) -> None:
        import pyarrow.parquet as pq

        if self._writer is not None:
            self._writer.close()
        elif schema is not None:
            pq.write_table(arrow_schema_of(schema).empty_table(), self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()


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


RESULT_FORMATS: Dict[str, int] = {"parquet": offline_pb2.RESULT_FORMAT_PARQUET, "values": offline_pb2.RESULT_FORMAT_VALUES}
"""How the rows travel. Parquet (the default): files the engine writes, read by pyarrow
straight into Arrow, about half the service's cost of value chunks; a service that cannot
write them answers with value chunks, which are read as well. "values": value chunks."""

VALIDATE_MODES: Dict[Any, str] = {False: "", None: "", True: "report", "report": "report", "fail": "fail"}

_SERVICE = "/larder.offline.v1.OfflineRetrievalService/"


@dataclass
class HistoricalCall:
    """A training-set call, built once for the sync and the asyncio store: the rpc, its
    request (one, or the query then entity-row batches), and how the job reads the answer."""

    method: str
    serializer: Callable[[Any], bytes]
    request: Any
    streaming: bool
    rows_back: bool
    validate: str
    destination: Optional[Destination]


def historical_call(
    project: str,
    entity_df: Any,
    features: Optional[Sequence[str]],
    feature_service: Optional[str],
    full_feature_names: bool,
    timestamp_column: str,
    max_rows_per_chunk: int,
    validate: Union[bool, str],
    destination: Optional[Destination],
    result_format: str = "parquet",
) -> HistoricalCall:
    """get_historical_features' arguments, checked, as the call to make."""
    if result_format not in RESULT_FORMATS:
        raise InvalidArgument(f"result_format must be 'parquet' or 'values', not {result_format!r}")
    mode = VALIDATE_MODES.get(validate) if isinstance(validate, (bool, str)) or validate is None else None
    if mode is None:
        raise InvalidArgument(f"validate must be False, True or 'fail', not {validate!r}")
    if mode and destination is None:
        raise InvalidArgument("validate needs destination=larder.Destination(...): the engine computes the statistics where it wrote the training set")
    if destination is not None and not isinstance(destination, Destination):
        raise InvalidArgument(f"destination must be a larder.Destination, not {type(destination).__name__}")
    query = historical_query(project, features, feature_service, full_feature_names)
    query.max_rows_per_chunk = max_rows_per_chunk
    query.result_format = RESULT_FORMATS[result_format]
    if mode:
        query.validation.enabled = True
        query.validation.fail_on_anomalies = mode == "fail"
    inline = not isinstance(entity_df, ServerSource)
    if destination is not None:
        # Entity rows sent from here are joined once, so the service cannot also stream them.
        query.destination.CopyFrom(destination.to_proto(omit_rows=inline))
    rows_back = destination is None or not query.destination.omit_rows
    if not inline:
        request = offline_pb2.GetHistoricalFeaturesFromSourceRequest(query=query, entity_source=entity_df.to_proto())
        return HistoricalCall(
            _SERVICE + "GetHistoricalFeaturesFromSource", offline_pb2.GetHistoricalFeaturesFromSourceRequest.SerializeToString, request, False, rows_back, mode, destination
        )
    messages = inline_requests(query, entity_table(entity_df), timestamp_column)
    return HistoricalCall(_SERVICE + "GetHistoricalFeatures", offline_pb2.GetHistoricalFeaturesRequest.SerializeToString, messages, True, rows_back, mode, destination)
