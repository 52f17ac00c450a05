"""Conversions between larder.types.v1.Value and Python, pandas and Arrow values.

Timestamps are always timezone-aware UTC: a naive datetime sent by the caller is refused
rather than read in the machine's zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import pyarrow as pa

from ._proto.larder.types.v1 import value_pb2
from .errors import InvalidArgument

Value = value_pb2.Value
ValueType = value_pb2.ValueType
UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

# ValueType number -> (Value field, Arrow type).
_FIELDS: Dict[int, "tuple[str, pa.DataType]"] = {
    value_pb2.VALUE_TYPE_BYTES: ("bytes_val", pa.binary()),
    value_pb2.VALUE_TYPE_STRING: ("string_val", pa.string()),
    value_pb2.VALUE_TYPE_INT32: ("int32_val", pa.int32()),
    value_pb2.VALUE_TYPE_INT64: ("int64_val", pa.int64()),
    value_pb2.VALUE_TYPE_DOUBLE: ("double_val", pa.float64()),
    value_pb2.VALUE_TYPE_FLOAT: ("float_val", pa.float32()),
    value_pb2.VALUE_TYPE_BOOL: ("bool_val", pa.bool_()),
    value_pb2.VALUE_TYPE_UNIX_TIMESTAMP: ("unix_timestamp_val", pa.timestamp("s", tz="UTC")),
    value_pb2.VALUE_TYPE_BYTES_LIST: ("bytes_list_val", pa.list_(pa.binary())),
    value_pb2.VALUE_TYPE_STRING_LIST: ("string_list_val", pa.list_(pa.string())),
    value_pb2.VALUE_TYPE_INT32_LIST: ("int32_list_val", pa.list_(pa.int32())),
    value_pb2.VALUE_TYPE_INT64_LIST: ("int64_list_val", pa.list_(pa.int64())),
    value_pb2.VALUE_TYPE_DOUBLE_LIST: ("double_list_val", pa.list_(pa.float64())),
    value_pb2.VALUE_TYPE_FLOAT_LIST: ("float_list_val", pa.list_(pa.float32())),
    value_pb2.VALUE_TYPE_BOOL_LIST: ("bool_list_val", pa.list_(pa.bool_())),
    value_pb2.VALUE_TYPE_UNIX_TIMESTAMP_LIST: ("unix_timestamp_list_val", pa.list_(pa.timestamp("s", tz="UTC"))),
}


def arrow_type(value_type: int) -> pa.DataType:
    """The Arrow type a column of this ValueType becomes (null for unknown/NULL)."""
    entry = _FIELDS.get(value_type)
    return entry[1] if entry is not None else pa.null()


def from_value(value: Value) -> Any:
    """A Value as Python: None, a scalar, a list, or a UTC datetime for timestamps."""
    case = value.WhichOneof("val")
    if case is None or case == "null_val":
        return None
    if case == "unix_timestamp_val":
        return _EPOCH + dt.timedelta(seconds=value.unix_timestamp_val)
    if case == "unix_timestamp_list_val":
        return [_EPOCH + dt.timedelta(seconds=s) for s in value.unix_timestamp_list_val.val]
    found = getattr(value, case)
    return list(found.val) if case.endswith("_list_val") else found


def column_from_values(values: Sequence[Value], value_type: int) -> pa.Array:
    """A column of Values as one Arrow array of the column's declared type: each Value
    is read once, by the field its type names (no per-value type dispatch)."""
    entry = _FIELDS.get(value_type)
    if entry is None:
        return pa.array([from_value(v) for v in values])
    name, arrow = entry
    if name.endswith("_list_val"):
        data: List[Any] = [list(getattr(v, name).val) if v.WhichOneof("val") == name else None for v in values]
        if value_type == value_pb2.VALUE_TYPE_UNIX_TIMESTAMP_LIST:
            return pa.array(data, type=pa.list_(pa.int64())).cast(arrow)
        return pa.array(data, type=arrow)
    if value_type == value_pb2.VALUE_TYPE_UNIX_TIMESTAMP:
        seconds = [v.unix_timestamp_val if v.WhichOneof("val") == name else None for v in values]
        return pa.array(seconds, type=pa.int64()).cast(arrow)
    return pa.array([getattr(v, name) if v.WhichOneof("val") == name else None for v in values], type=arrow)


def _timestamp_seconds(x: Any) -> int:
    if isinstance(x, dt.datetime):
        if x.tzinfo is None:
            raise InvalidArgument(f"{x!r} is a naive datetime: give a timezone (e.g. datetime.timezone.utc) so no machine's zone is assumed")
        return int((x - _EPOCH).total_seconds() // 1)
    raise InvalidArgument(f"expected a timezone-aware datetime, got {type(x).__name__}")


def to_value(x: Any, value_type: Optional[int] = None) -> Value:
    """A Python value as a Value. Without value_type the type is inferred: int -> INT64,
    float -> DOUBLE, str -> STRING, bytes -> BYTES, bool -> BOOL, aware datetime ->
    UNIX_TIMESTAMP, lists by their first element; None -> an unset Value (no value)."""
    if x is None or (isinstance(x, float) and x != x and value_type is None):
        return Value()
    if hasattr(x, "item") and not isinstance(x, (list, tuple, str, bytes)):
        # numpy / pandas scalars
        try:
            x = x.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(x, "to_pydatetime"):
        x = x.to_pydatetime()
    if value_type is None:
        value_type = _infer(x)
    entry = _FIELDS.get(value_type)
    if entry is None:
        raise InvalidArgument(f"cannot send a value of type {ValueType.Name(value_type) if value_type in ValueType.values() else value_type}")
    name = entry[0]
    if name.endswith("_list_val"):
        items = list(x)
        if value_type == value_pb2.VALUE_TYPE_UNIX_TIMESTAMP_LIST:
            items = [_timestamp_seconds(i) for i in items]
        message = Value()
        getattr(message, name).val.extend(items)
        return message
    if value_type == value_pb2.VALUE_TYPE_UNIX_TIMESTAMP:
        return Value(unix_timestamp_val=_timestamp_seconds(x))
    try:
        return Value(**{name: x})
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"{x!r} is not a {ValueType.Name(value_type)}: {error}") from error


def _infer(x: Any) -> int:
    if isinstance(x, bool):
        return value_pb2.VALUE_TYPE_BOOL
    if isinstance(x, int):
        return value_pb2.VALUE_TYPE_INT64
    if isinstance(x, float):
        return value_pb2.VALUE_TYPE_DOUBLE
    if isinstance(x, str):
        return value_pb2.VALUE_TYPE_STRING
    if isinstance(x, (bytes, bytearray)):
        return value_pb2.VALUE_TYPE_BYTES
    if isinstance(x, dt.datetime):
        return value_pb2.VALUE_TYPE_UNIX_TIMESTAMP
    if isinstance(x, (list, tuple)) or hasattr(x, "tolist"):
        items = list(x.tolist() if hasattr(x, "tolist") else x)
        first = next((i for i in items if i is not None), None)
        if first is None:
            raise InvalidArgument("cannot infer the type of an empty list: pass a typed value")
        scalar = _infer(first)
        return {
            value_pb2.VALUE_TYPE_BOOL: value_pb2.VALUE_TYPE_BOOL_LIST,
            value_pb2.VALUE_TYPE_INT64: value_pb2.VALUE_TYPE_INT64_LIST,
            value_pb2.VALUE_TYPE_DOUBLE: value_pb2.VALUE_TYPE_DOUBLE_LIST,
            value_pb2.VALUE_TYPE_STRING: value_pb2.VALUE_TYPE_STRING_LIST,
            value_pb2.VALUE_TYPE_BYTES: value_pb2.VALUE_TYPE_BYTES_LIST,
            value_pb2.VALUE_TYPE_UNIX_TIMESTAMP: value_pb2.VALUE_TYPE_UNIX_TIMESTAMP_LIST,
        }[scalar]
    raise InvalidArgument(f"cannot send a value of Python type {type(x).__name__}")


# Arrow type -> ValueType, for columns sent from a DataFrame or Table.
def value_type_of_arrow(t: pa.DataType) -> Optional[int]:
    if pa.types.is_boolean(t):
        return value_pb2.VALUE_TYPE_BOOL
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_int32(t) or pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return value_pb2.VALUE_TYPE_INT32
    if pa.types.is_integer(t):
        return value_pb2.VALUE_TYPE_INT64
    if pa.types.is_float32(t) or pa.types.is_float16(t):
        return value_pb2.VALUE_TYPE_FLOAT
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return value_pb2.VALUE_TYPE_DOUBLE
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return value_pb2.VALUE_TYPE_STRING
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return value_pb2.VALUE_TYPE_BYTES
    if pa.types.is_timestamp(t):
        return value_pb2.VALUE_TYPE_UNIX_TIMESTAMP
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = value_type_of_arrow(t.value_type)
        return None if inner is None else {
            value_pb2.VALUE_TYPE_BOOL: value_pb2.VALUE_TYPE_BOOL_LIST,
            value_pb2.VALUE_TYPE_INT32: value_pb2.VALUE_TYPE_INT32_LIST,
            value_pb2.VALUE_TYPE_INT64: value_pb2.VALUE_TYPE_INT64_LIST,
            value_pb2.VALUE_TYPE_FLOAT: value_pb2.VALUE_TYPE_FLOAT_LIST,
            value_pb2.VALUE_TYPE_DOUBLE: value_pb2.VALUE_TYPE_DOUBLE_LIST,
            value_pb2.VALUE_TYPE_STRING: value_pb2.VALUE_TYPE_STRING_LIST,
            value_pb2.VALUE_TYPE_BYTES: value_pb2.VALUE_TYPE_BYTES_LIST,
            value_pb2.VALUE_TYPE_UNIX_TIMESTAMP: value_pb2.VALUE_TYPE_UNIX_TIMESTAMP_LIST,
        }.get(inner)
    return None


def values_from_arrow(column: pa.ChunkedArray, name: str) -> List[Value]:
    """One Value per element of an Arrow column (null -> unset Value)."""
    value_type = value_type_of_arrow(column.type)
    if pa.types.is_null(column.type):
        return [Value() for _ in range(len(column))]
    if value_type is None:
        raise InvalidArgument(f"column {name!r}: cannot send Arrow type {column.type}")
    if pa.types.is_timestamp(column.type):
        # Zone-less columns are read as UTC (see timestamps_from_arrow).
        column = column.cast(pa.timestamp("s", tz=column.type.tz), safe=False).cast(pa.int64())
        return [Value() if s is None else Value(unix_timestamp_val=s) for s in column.to_pylist()]
    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    field = _FIELDS[value_type][0]
    out: List[Value] = []
    for x in column.to_pylist():
        if x is None:
            out.append(Value())
        elif field.endswith("_list_val"):
            message = Value()
            getattr(message, field).val.extend(x)
            out.append(message)
        else:
            out.append(Value(**{field: x}))
    return out


def timestamps_from_arrow(column: pa.ChunkedArray, name: str) -> List[int]:
    """Microseconds since the epoch per row of a timestamp column; refuses naive ones."""
    t = column.type
    if pa.types.is_timestamp(t):
        # Arrow stores instants as UTC whatever the column's zone; a zone-less column
        # (pandas' default, a CSV without offsets) is read as UTC, as Feast does: never
        # in the machine's zone.
        micros = column.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.int64()).to_pylist()
    else:
        raise InvalidArgument(f"column {name!r} must hold timezone-aware timestamps, not {t}")
    if any(m is None for m in micros):
        raise InvalidArgument(f"column {name!r} has a null timestamp")
    return micros  # type: ignore[return-value]


def fill_timestamps(target: Any, micros: Iterable[int]) -> None:
    """Appends google.protobuf.Timestamps (repeated field) from epoch microseconds."""
    add = target.add
    for m in micros:
        seconds, rest = divmod(m, 1_000_000)
        stamp = add()
        stamp.seconds = seconds
        stamp.nanos = rest * 1000


TO_PYTHON: Callable[[Value], Any] = from_value
