"""The numpy chunk decoder (larder._wire) against protobuf's own decoding of the same bytes:
every scalar type, nulls both ways, negative and large integers, sub-second times, and
columns it leaves to protobuf (strings, lists)."""

from __future__ import annotations

import random

import pyarrow as pa

from larder._proto.larder.offline.v1 import offline_retrieval_service_pb2 as offline_pb2
from larder._proto.larder.types.v1 import value_pb2
from larder._wire import decode_chunk, split_response
from larder.historical import arrow_schema_of, decode_chunk_proto

V = value_pb2.Value
COLUMNS = [
    ("driver_id", value_pb2.VALUE_TYPE_INT64, offline_pb2.COLUMN_ROLE_JOIN_KEY),
    ("zone", value_pb2.VALUE_TYPE_STRING, offline_pb2.COLUMN_ROLE_PASSTHROUGH),
    ("d", value_pb2.VALUE_TYPE_DOUBLE, offline_pb2.COLUMN_ROLE_FEATURE),
    ("f", value_pb2.VALUE_TYPE_FLOAT, offline_pb2.COLUMN_ROLE_FEATURE),
    ("i32", value_pb2.VALUE_TYPE_INT32, offline_pb2.COLUMN_ROLE_FEATURE),
    ("b", value_pb2.VALUE_TYPE_BOOL, offline_pb2.COLUMN_ROLE_FEATURE),
    ("t", value_pb2.VALUE_TYPE_UNIX_TIMESTAMP, offline_pb2.COLUMN_ROLE_FEATURE),
    ("l", value_pb2.VALUE_TYPE_DOUBLE_LIST, offline_pb2.COLUMN_ROLE_FEATURE),
]


def _value(rng: random.Random, value_type: int) -> V:
    pick = rng.random()
    if pick < 0.1:
        return V()  # unset: no matching row
    if pick < 0.15:
        return V(null_val=value_pb2.NULL_UNSPECIFIED)
    if value_type == value_pb2.VALUE_TYPE_INT64:
        return V(int64_val=rng.choice([0, 1, -1, 127, 128, 2**62, -(2**63), 2**63 - 1, rng.randrange(-(2**40), 2**40)]))
    if value_type == value_pb2.VALUE_TYPE_STRING:
        return V(string_val=rng.choice(["", "north", "ü" * 200]))
    if value_type == value_pb2.VALUE_TYPE_DOUBLE:
        return V(double_val=rng.choice([0.0, -0.0, 1.5, -2.25e300, rng.random()]))
    if value_type == value_pb2.VALUE_TYPE_FLOAT:
        return V(float_val=rng.choice([0.0, 0.5, -3.25]))
    if value_type == value_pb2.VALUE_TYPE_INT32:
        return V(int32_val=rng.choice([0, -1, 2**31 - 1, -(2**31), 300]))
    if value_type == value_pb2.VALUE_TYPE_BOOL:
        return V(bool_val=rng.random() < 0.5)
    if value_type == value_pb2.VALUE_TYPE_UNIX_TIMESTAMP:
        return V(unix_timestamp_val=rng.choice([0, 1_700_000_000, -86_400]))
    message = V()
    message.double_list_val.val.extend([rng.random() for _ in range(rng.randrange(3))])
    return message


def _chunk(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    message = offline_pb2.GetHistoricalFeaturesResponse()
    chunk = message.chunk
    chunk.first_row = 12345
    for _, value_type, _ in COLUMNS:
        chunk.columns.add().val.extend(_value(rng, value_type) for _ in range(rows))
    for _ in range(rows):
        chunk.event_timestamps.add(seconds=rng.choice([0, 1, 1_700_000_000, -5]), nanos=rng.choice([0, 1000, 999_999_000]))
    return message.SerializeToString()


def _schema() -> offline_pb2.ResultSchema:
    schema = offline_pb2.ResultSchema(timestamp_column="event_timestamp")
    for name, value_type, role in COLUMNS:
        schema.columns.add(name=name, value_type=value_type, role=role)
    return schema


def test_the_wire_decoder_equals_protobufs_decoding() -> None:
    schema = _schema()
    arrow_schema = arrow_schema_of(schema)
    for seed, rows in [(1, 1), (2, 7), (3, 500), (4, 0)]:
        raw = _chunk(rows, seed)
        field, payload = split_response(raw)
        assert field == 2
        first_row, fast = decode_chunk(payload, schema, arrow_schema)
        slow = decode_chunk_proto(schema, arrow_schema, offline_pb2.GetHistoricalFeaturesResponse.FromString(raw).chunk)
        assert first_row == 12345
        assert fast.schema == slow.schema
        assert pa.Table.from_batches([fast]).equals(pa.Table.from_batches([slow])), seed
        assert fast.num_rows == rows


def test_damaged_bytes_are_refused_not_misread() -> None:
    schema = _schema()
    arrow_schema = arrow_schema_of(schema)
    raw = _chunk(20, 5)
    _, payload = split_response(raw)
    cut = bytes(payload)[:-3]
    try:
        _, batch = decode_chunk(memoryview(cut), schema, arrow_schema)
    except Exception:
        return  # protobuf (the fallback) refuses the truncated message
    raise AssertionError(f"a truncated chunk decoded to {batch.num_rows} rows")
