"""Starts Feast's own feature server (`feast serve`, from the feast package on PyPI) over
a Redis that Larder wrote in the `feast` layout, for the JSON parity spec
(apps/online-serving/src/feast-http.spec.ts).

Reads one JSON object on stdin, writes a Feast repo, `apply`s the definitions into its
registry with Feast's own FeatureStore, then replaces itself with `feast serve`:
  {"repo": DIR, "project": P, "redis": "host:port", "port": N,
   "entities": [{"name": N, "join_key": K, "type": "INT64"}],
   "views": [{"name": N, "entities": [N...], "ttl_s": S, "features": [{"name": F, "type": T}]}],
   "services": [{"name": N, "projections": [{"view": V, "features": [F...] | null}]}],
   "serve_args": [...]}   optional, more `feast serve` options
"""
import json
import os
import sys
from datetime import timedelta

from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource
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
}


def main():
    spec = json.load(sys.stdin)
    repo = spec["repo"]
    os.makedirs(os.path.join(repo, "data"), exist_ok=True)
    with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
        f.write(
            f"project: {spec['project']}\n"
            f"registry: {os.path.join(repo, 'data', 'registry.db')}\n"
            "provider: local\n"
            "online_store:\n"
            "  type: redis\n"
            f"  connection_string: \"{spec['redis']}\"\n"
            "entity_key_serialization_version: 3\n"
        )
    store = FeatureStore(repo_path=repo)
    entities = {e["name"]: Entity(name=e["name"], join_keys=[e["join_key"]], value_type=ValueType[e["type"]]) for e in spec["entities"]}
    source = FileSource(name="src", path=os.path.join(repo, "data", "none.parquet"), timestamp_field="ts")
    views = {}
    for v in spec["views"]:
        views[v["name"]] = FeatureView(
            name=v["name"],
            entities=[entities[n] for n in v["entities"]],
            ttl=timedelta(seconds=v["ttl_s"]),
            schema=[Field(name=f["name"], dtype=DTYPES[f["type"]]) for f in v["features"]],
            source=source,
            online=True,
        )
    services = []
    for s in spec["services"]:
        projections = [views[p["view"]] if p.get("features") is None else views[p["view"]][p["features"]] for p in s["projections"]]
        services.append(FeatureService(name=s["name"], features=projections))
    store.apply([source, *entities.values(), *views.values(), *services])
    feast = os.path.join(os.path.dirname(sys.executable), "feast")
    sys.stdout.flush()
    os.execv(feast, [feast, "-c", repo, "serve", "-h", "127.0.0.1", "-p", str(spec["port"]), "--no-access-log", *spec.get("serve_args", [])])


if __name__ == "__main__":
    main()
