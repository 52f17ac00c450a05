"""Runs Feast's own code for Larder's interoperability test (libs/online-store).

Reads one JSON request on stdin and prints one JSON answer on stdout. Values travel
as base64 of serialized feast.types.Value messages, so neither side re-implements the
other's value encoding.

  {"op": "keys", "project": P, "entity_keys": [EK...], "strings": [S...]}
      -> serialize_entity_key / _redis_key (hex) per key, _mmh3 (hex) per string
  {"op": "write", "redis": "host:port", "project": P, "view": V, "rows": [ROW...]}
      -> RedisOnlineStore.online_write_batch
  {"op": "read", "redis": "host:port", "project": P, "view": V, "features": [F...],
   "entity_keys": [EK...]}
      -> RedisOnlineStore.online_read
EK = {"join_keys": [...], "values": [b64 Value...]}
V = {"name": N, "join_keys": [...], "features": [{"name": F, "type": "INT64"}...]}
ROW = {"entity_key": EK, "ts_us": int, "values": {F: b64 Value}}
Event times travel as whole microseconds since the epoch (ts_us), as Python's datetime holds them.
"""
import base64
import json
import sys
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)

from feast import Entity, FeatureView, Field, FileSource
from feast.infra.online_stores.helpers import _mmh3, _redis_key
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig
from feast import types as feast_types
from feast.value_type import ValueType

DTYPES = {
    "BYTES": feast_types.Bytes,
    "STRING": feast_types.String,
    "INT32": feast_types.Int32,
    "INT64": feast_types.Int64,
    "DOUBLE": feast_types.Float64,
    "FLOAT": feast_types.Float32,
    "BOOL": feast_types.Bool,
    "UNIX_TIMESTAMP": feast_types.UnixTimestamp,
    "BYTES_LIST": feast_types.Array(feast_types.Bytes),
    "STRING_LIST": feast_types.Array(feast_types.String),
    "INT32_LIST": feast_types.Array(feast_types.Int32),
    "INT64_LIST": feast_types.Array(feast_types.Int64),
    "DOUBLE_LIST": feast_types.Array(feast_types.Float64),
    "FLOAT_LIST": feast_types.Array(feast_types.Float32),
    "BOOL_LIST": feast_types.Array(feast_types.Bool),
    "UNIX_TIMESTAMP_LIST": feast_types.Array(feast_types.UnixTimestamp),
}


def value(b64):
    return ValueProto.FromString(base64.b64decode(b64))


def entity_key(ek):
    return EntityKeyProto(join_keys=ek["join_keys"], entity_values=[value(v) for v in ek["values"]])


def repo_config(req):
    # Feast's project rule (repo_operations.is_valid_name) allows hyphens except for
    # SQLite online stores, but 0.67 checks `project` before it has seen `online_store`,
    # so it takes every store for SQLite. The project is set after that check, as a
    # Redis deployment named under the rule (e.g. "larder-compat") would have it.
    config = RepoConfig(
        project="placeholder",
        registry="/dev/null",
        provider="local",
        online_store=RedisOnlineStoreConfig(connection_string=req["redis"]),
        entity_key_serialization_version=3,
    )
    config.project = req["project"]
    return config


def feature_view(view):
    entities = [Entity(name=k, join_keys=[k], value_type=ValueType.UNKNOWN) for k in view["join_keys"]]
    return FeatureView(
        name=view["name"],
        entities=entities,
        schema=[Field(name=f["name"], dtype=DTYPES[f["type"]]) for f in view["features"]],
        source=FileSource(path="unused.parquet", timestamp_field="event_timestamp"),
        ttl=timedelta(0),
    )


def main():
    req = json.load(sys.stdin)
    op = req["op"]
    if op == "keys":
        out = {
            "entity_keys": [serialize_entity_key(entity_key(ek), entity_key_serialization_version=3).hex() for ek in req["entity_keys"]],
            "redis_keys": [_redis_key(req["project"], entity_key(ek), entity_key_serialization_version=3).hex() for ek in req["entity_keys"]],
            "mmh3": [_mmh3(s).hex() for s in req["strings"]],
        }
    elif op == "write":
        config = repo_config(req)
        data = [
            (
                entity_key(row["entity_key"]),
                {name: value(v) for name, v in row["values"].items()},
                EPOCH + row["ts_us"] * MICROSECOND,
                None,
            )
            for row in req["rows"]
        ]
        RedisOnlineStore().online_write_batch(config, feature_view(req["view"]), data, None)
        out = {"written": len(data)}
    elif op == "read":
        config = repo_config(req)
        rows = RedisOnlineStore().online_read(
            config, feature_view(req["view"]), [entity_key(ek) for ek in req["entity_keys"]], list(req["features"])
        )
        out = {
            "rows": [
                None
                if ts is None
                else {
                    "ts_us": (ts.astimezone(timezone.utc) - EPOCH) // MICROSECOND,
                    "values": {k: base64.b64encode(v.SerializeToString()).decode() for k, v in values.items()},
                }
                for ts, values in rows
            ]
        }
    else:
        raise ValueError(f"unknown op {op}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
