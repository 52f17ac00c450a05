"""The result of an online read, and the request it came from."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import pyarrow as pa

from ._proto.larder.serving.v1 import online_serving_service_pb2 as serving_pb2
from ._proto.larder.types.v1 import feature_pb2
from .errors import InvalidArgument
from .values import column_from_values, from_value, to_value

EntityRows = Sequence[Mapping[str, Any]]
Columns = Mapping[str, Sequence[Any]]

_STATUS = {
    feature_pb2.FIELD_STATUS_UNSPECIFIED: "UNSPECIFIED",
    feature_pb2.FIELD_STATUS_PRESENT: "PRESENT",
    feature_pb2.FIELD_STATUS_NULL_VALUE: "NULL_VALUE",
    feature_pb2.FIELD_STATUS_NOT_FOUND: "NOT_FOUND",
    feature_pb2.FIELD_STATUS_OUTSIDE_MAX_AGE: "OUTSIDE_MAX_AGE",
}


def online_request(
    project: str,
    features: Optional[Sequence[str]],
    feature_service: Optional[str],
    entity_rows: Optional[EntityRows],
    columns: Optional[Columns],
    request_context: Optional[Columns],
    full_feature_names: bool,
) -> serving_pb2.GetOnlineFeaturesRequest:
    """Builds GetOnlineFeaturesRequest. entity_rows (Feast's list of dicts) and columns
    (name -> one value per row) are the same data in two shapes; give one. Keys that are
    not join keys go to request_context (on-demand views' request fields), as Feast does."""
    if (features is None) == (feature_service is None):
        raise InvalidArgument("give features (a list of 'view:feature') or feature_service, not both and not neither")
    if (entity_rows is None) == (columns is None):
        raise InvalidArgument("give entity_rows (a list of dicts) or columns (a dict of lists), not both and not neither")
    if isinstance(features, str):
        raise InvalidArgument("features must be a list of 'view:feature' strings, not one string")
    request = serving_pb2.GetOnlineFeaturesRequest(project=project, full_feature_names=full_feature_names)
    if feature_service is not None:
        request.feature_service = feature_service
    else:
        request.features.val.extend(features or [])
    if entity_rows is not None:
        names: List[str] = []
        for row in entity_rows:
            for name in row:
                if name not in names:
                    names.append(name)
        for i, row in enumerate(entity_rows):
            missing = [n for n in names if n not in row]
            if missing:
                raise InvalidArgument(f"entity_rows[{i}] lacks {', '.join(repr(m) for m in missing)} that other rows have")
        columns = {name: [row[name] for row in entity_rows] for name in names}
    assert columns is not None
    for name, values in columns.items():
        request.entities[name].val.extend(to_value(v) for v in values)
    for name, values in (request_context or {}).items():
        request.request_context[name].val.extend(to_value(v) for v in values)
    return request


class OnlineResponse:
    """Features by column, one entry per entity row in request order: the entity
    columns echoed first, then each requested feature (Feast's order)."""

    def __init__(self, response: serving_pb2.GetOnlineFeaturesResponse) -> None:
        self.proto = response

    @property
    def feature_names(self) -> List[str]:
        return list(self.proto.metadata.feature_names.val)

    def to_dict(self, include_event_timestamps: bool = False) -> Dict[str, List[Any]]:
        """``{name: [value per row]}``; a value not found is None. With
        include_event_timestamps, also ``{name}__ts`` columns of UTC datetimes for features."""
        out: Dict[str, List[Any]] = {}
        for name, vector in zip(self.proto.metadata.feature_names.val, self.proto.results):
            out[name] = [from_value(v) for v in vector.values]
            if include_event_timestamps and any(s.seconds or s.nanos for s in vector.event_timestamps):
                out[f"{name}__ts"] = [
                    None if not (s.seconds or s.nanos) else dt.datetime.fromtimestamp(s.seconds + s.nanos / 1e9, tz=dt.timezone.utc)
                    for s in vector.event_timestamps
                ]
        return out

    def statuses(self) -> Dict[str, List[str]]:
        """``{name: [status per row]}``: PRESENT, NULL_VALUE, NOT_FOUND or OUTSIDE_MAX_AGE."""
        return {
            name: [_STATUS.get(s, str(s)) for s in vector.statuses]
            for name, vector in zip(self.proto.metadata.feature_names.val, self.proto.results)
        }

    def to_arrow(self) -> pa.Table:
        """A pyarrow Table; each column typed from its values (null when none is set)."""
        arrays: List[pa.Array] = []
        for vector in self.proto.results:
            value_type = _first_type(vector.values)
            arrays.append(column_from_values(vector.values, value_type) if value_type is not None else pa.nulls(len(vector.values)))
        return pa.Table.from_arrays(arrays, names=self.feature_names)

    def to_df(self) -> Any:
        """A pandas DataFrame (via to_arrow)."""
        return self.to_arrow().to_pandas()

    def __repr__(self) -> str:
        rows = len(self.proto.results[0].values) if self.proto.results else 0
        return f"<OnlineResponse {rows} rows x {len(self.proto.results)} columns>"


_TYPE_OF_FIELD = {
    "bytes_val": 1, "string_val": 2, "int32_val": 3, "int64_val": 4, "double_val": 5, "float_val": 6, "bool_val": 7,
    "unix_timestamp_val": 8, "bytes_list_val": 11, "string_list_val": 12, "int32_list_val": 13, "int64_list_val": 14,
    "double_list_val": 15, "float_list_val": 16, "bool_list_val": 17, "unix_timestamp_list_val": 18,
}


def _first_type(values: Any) -> Optional[int]:
    for v in values:
        case = v.WhichOneof("val")
        if case is not None and case != "null_val":
            return _TYPE_OF_FIELD[case]
    return None


FeatureRefs = Union[Sequence[str], None]
