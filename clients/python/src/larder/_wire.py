"""Training-set chunks decoded from their wire bytes into Arrow, column at a time, with numpy.

A ResultChunk holds each column as a RepeatedValue: one length-delimited Value per row.
Reading those through protobuf's Python API costs a method call or two per value (about a
microsecond each), which for a million rows of ten columns is many seconds. Here each
column's bytes are walked once with numpy: the element boundaries are found by pointer
doubling over the length bytes (each scalar Value is `0x0a, L, payload` with L < 128),
then every value of a fixed-width or varint type is read with vectorized gathers. Any
column the fast path cannot prove it understands (strings, lists, an unexpected field)
is decoded by protobuf instead, so the result is always the same as the slow path.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import numpy as np
import pyarrow as pa

from ._proto.larder.offline.v1 import offline_retrieval_service_pb2 as offline_pb2
from ._proto.larder.types.v1 import value_pb2
from .values import arrow_type, column_from_values


def read_varint(data: Union[bytes, memoryview], pos: int) -> Tuple[int, int]:
    """(value, next position) of the varint at pos."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def split_response(raw: bytes) -> Tuple[int, memoryview]:
    """The field number (1 schema, 2 chunk, 3 summary) and payload of a response message."""
    view = memoryview(raw)
    if not raw:
        return 0, view
    key, pos = read_varint(raw, 0)
    if key & 7 != 2:
        raise ValueError(f"unexpected wire type in a result message (key {key})")
    length, pos = read_varint(raw, pos)
    if pos + length != len(raw):
        # Unknown extra fields: let protobuf sort them out.
        return -1, view
    return key >> 3, view[pos : pos + length]


def parquet_chunk(payload: memoryview) -> Tuple[int, int, memoryview]:
    """(first_row, row_count, the Parquet file's bytes) of a ParquetChunk, the file a
    view of the message's own bytes (no copy)."""
    first_row = row_count = 0
    file = payload[0:0]
    pos, end = 0, len(payload)
    while pos < end:
        key, pos = read_varint(payload, pos)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = read_varint(payload, pos)
            if field == 1:
                first_row = value
            elif field == 2:
                row_count = value
        elif wire_type == 2:
            length, pos = read_varint(payload, pos)
            if field == 3:
                file = payload[pos : pos + length]
            pos += length
        else:
            raise ValueError(f"unexpected wire type in a Parquet chunk (key {key})")
    if pos != end:
        raise ValueError("a Parquet chunk overran its message")
    return first_row, row_count, file


def _walk(arr: np.ndarray, start: int, end: int, tag: int) -> Optional[np.ndarray]:
    """Start offsets (relative to arr) of the elements `tag, L, payload[L]` tiling
    arr[start:end], each L < 128; None when the bytes are not exactly such a run."""
    m = end - start
    if m == 0:
        return np.empty(0, np.int64)
    seg = arr[start:end]
    if m >= 2 and seg[1] < 0x80:
        # Common case: every element the same size (a column of present doubles, times
        # with whole seconds): one strided check instead of the walk.
        stride = int(seg[1]) + 2
        if m % stride == 0 and (seg[0::stride] == tag).all() and (seg[1::stride] == seg[1]).all():
            return np.arange(start, end, stride, dtype=np.int64)
    invalid = m + 1
    nxt = np.empty(m + 2, np.int64)
    nxt[: m - 1] = np.arange(m - 1, dtype=np.int64) + 2 + seg[1:].astype(np.int64)
    nxt[m - 1] = invalid
    nxt[m] = m
    nxt[invalid] = invalid
    np.minimum(nxt, invalid, out=nxt)
    nxt[nxt > m] = invalid
    # steps[k] = position after k elements, built in step order by doubling.
    steps = np.zeros(1, np.int64)
    jump = nxt
    while steps[-1] < m:
        steps = np.concatenate([steps, jump[steps]])
        jump = jump[jump]
    if (steps == invalid).any():
        return None
    positions = steps[steps < m]
    if positions.size and ((seg[positions] != tag).any() or (seg[positions + 1] >= 0x80).any()):
        return None
    return positions + start


def _varints(arr: np.ndarray, pos: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    out = np.zeros(pos.size, np.uint64)
    if pos.size == 0:
        return out.view(np.int64)
    for j in range(int(nbytes.max())):
        live = nbytes > j
        byte = arr[pos[live] + j].astype(np.uint64)
        out[live] |= (byte & np.uint64(0x7F)) << np.uint64(7 * j)
    return out.view(np.int64)


def _varint_lengths(arr: np.ndarray, pos: np.ndarray, limit: np.ndarray) -> Optional[np.ndarray]:
    """Length of the varint starting at each pos (it must end before pos + limit)."""
    lengths = np.zeros(pos.size, np.int64)
    open_ = np.ones(pos.size, bool)
    for j in range(10):
        if not open_.any():
            break
        idx = np.nonzero(open_)[0]
        if (j >= limit[idx]).any():
            return None
        ended = arr[pos[idx] + j] < 0x80
        lengths[idx[ended]] = j + 1
        open_[idx[ended]] = False
    return None if open_.any() else lengths


# ValueType -> (Value tag byte, payload length or 0 for a varint, numpy dtype of the payload)
_SCALARS = {
    value_pb2.VALUE_TYPE_DOUBLE: (0x29, 8, "<f8"),
    value_pb2.VALUE_TYPE_FLOAT: (0x35, 4, "<f4"),
    value_pb2.VALUE_TYPE_INT64: (0x20, 0, None),
    value_pb2.VALUE_TYPE_INT32: (0x18, 0, None),
    value_pb2.VALUE_TYPE_BOOL: (0x38, 0, None),
    value_pb2.VALUE_TYPE_UNIX_TIMESTAMP: (0x40, 0, None),
}


def _column(arr: np.ndarray, start: int, end: int, value_type: int) -> Optional[pa.Array]:
    """A RepeatedValue's `val` elements in arr[start:end] as an Arrow array, or None."""
    spec = _SCALARS.get(value_type)
    if spec is None:
        return None
    tag, width, dtype = spec
    pos = _walk(arr, start, end, 0x0A)
    if pos is None:
        return None
    lengths = arr[pos + 1].astype(np.int64)
    body = pos + 2
    first = np.where(lengths > 0, arr[np.minimum(body, arr.size - 1)], 0)
    # An unset Value (L 0) or null_val (field 19 = 0: 0x98 0x01 0x00) is null.
    nulls = (lengths == 0) | ((lengths == 3) & (first == 0x98) & (arr[np.minimum(body + 1, arr.size - 1)] == 0x01))
    present = ~nulls
    if (first[present] != tag).any():
        return None
    at = body[present] + 1
    n = pos.size
    if width:
        if (lengths[present] != width + 1).any():
            return None
        raw = arr[at[:, None] + np.arange(width)].reshape(-1).view(dtype) if at.size else np.empty(0, dtype)
        values = np.zeros(n, dtype)
        values[present] = raw
    else:
        nbytes = lengths[present] - 1
        if (nbytes < 1).any() or (nbytes > 10).any():
            return None
        values = np.zeros(n, np.int64)
        values[present] = _varints(arr, at, nbytes)
    mask = nulls if nulls.any() else None
    target = arrow_type(value_type)
    if value_type == value_pb2.VALUE_TYPE_UNIX_TIMESTAMP:
        return pa.array(values, mask=mask, type=pa.int64()).cast(target)
    if value_type == value_pb2.VALUE_TYPE_INT32:
        values = values.astype(np.int32)
    elif value_type == value_pb2.VALUE_TYPE_BOOL:
        values = values != 0
    return pa.array(values, mask=mask, type=target)


def _timestamps(arr: np.ndarray, start: int, end: int) -> Optional[np.ndarray]:
    """event_timestamps (repeated Timestamp, field 3 of the chunk) as epoch microseconds."""
    pos = _walk(arr, start, end, 0x1A)
    if pos is None:
        return None
    lengths = arr[pos + 1].astype(np.int64)
    body = pos + 2
    n = pos.size
    seconds = np.zeros(n, np.int64)
    nanos = np.zeros(n, np.int64)
    cursor = body.copy()
    remaining = lengths.copy()
    for field, out in ((0x08, seconds), (0x10, nanos)):
        has = (remaining > 0) & (arr[np.minimum(cursor, arr.size - 1)] == field)
        if has.any():
            at = cursor[has] + 1
            widths = _varint_lengths(arr, at, remaining[has] - 1)
            if widths is None:
                return None
            out[has] = _varints(arr, at, widths)
            cursor[has] += 1 + widths
            remaining[has] -= 1 + widths
    if (remaining != 0).any():
        return None
    return seconds * 1_000_000 + nanos // 1000


def decode_chunk(payload: memoryview, schema: offline_pb2.ResultSchema, arrow_schema: pa.Schema) -> Tuple[int, pa.RecordBatch]:
    """(first_row, record batch) of a ResultChunk's bytes."""
    data = bytes(payload)
    arr = np.frombuffer(data, np.uint8)
    first_row = 0
    spans: List[Tuple[int, int]] = []
    pos = 0
    ts_start = len(data)
    while pos < len(data):
        key, after = read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if field == 1 and wire == 0:
            first_row, pos = read_varint(data, after)
        elif field == 2 and wire == 2:
            length, body = read_varint(data, after)
            spans.append((body, body + length))
            pos = body + length
        elif field == 3 and wire == 2:
            ts_start = pos
            break
        else:
            return _slow(data, schema, arrow_schema)
    micros = _timestamps(arr, ts_start, len(data))
    if micros is None or len(spans) != len(schema.columns):
        return _slow(data, schema, arrow_schema)
    arrays: List[pa.Array] = []
    proto_chunk: Optional[offline_pb2.ResultChunk] = None
    for i, ((start, end), column) in enumerate(zip(spans, schema.columns)):
        array = _column(arr, start, end, column.value_type)
        if array is None:
            if proto_chunk is None:
                proto_chunk = offline_pb2.ResultChunk.FromString(data)
            array = column_from_values(proto_chunk.columns[i].val, column.value_type)
        if len(array) != micros.size:
            raise ValueError(f"column {column.name!r} has {len(array)} values for {micros.size} rows")
        arrays.append(array)
    at = sum(1 for c in schema.columns if c.role != offline_pb2.COLUMN_ROLE_FEATURE)
    arrays.insert(at, pa.array(micros, type=pa.int64()).cast(arrow_schema.field(at).type))
    return first_row, pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)


def _slow(data: bytes, schema: offline_pb2.ResultSchema, arrow_schema: pa.Schema) -> Tuple[int, pa.RecordBatch]:
    from .historical import decode_chunk_proto

    chunk = offline_pb2.ResultChunk.FromString(data)
    return chunk.first_row, decode_chunk_proto(schema, arrow_schema, chunk)
