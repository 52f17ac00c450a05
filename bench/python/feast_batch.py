"""Feast 0.67's batch paths, timed in-process, for `npm run bench -- vs-feast`
(bench/vs-feast-batch.ts). Reads one JSON object on stdin, prints one JSON line on stdout.

  {"mode": "materialize", "repo": DIR, "project": P, "redis": "host:port",
   "views": [VIEW...], "start": ISO, "end": ISO}
      apply, then time FeatureStore.materialize(start, end) into Redis  -> {"wall_s": S, "cpu_s": C}
  {"mode": "historical", "repo": DIR, "project": P, "views": [VIEW...],
   "entities": PARQUET, "features": ["view:feature", ...]}
      apply, read the entity rows, then time get_historical_features(...).to_df()
      (Feast's file offline store)                          -> {"wall_s": S, "cpu_s": C, "rows": N}
  VIEW = {"name": N, "path": PARQUET, "timestamp_field": C, "created": C | null,
          "ttl_s": S, "features": [{"name": F, "type": "DOUBLE" | "INT64"}]}
Only the timed call is measured: Python's start, feast's import and apply are not.
cpu_s is the process's CPU time over that call, every thread (dask's workers) included.
"""
import json
import os
import sys
import time
from datetime import datetime, timedelta

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64, Int64
from feast.value_type import ValueType

DTYPES = {"DOUBLE": Float64, "INT64": Int64}


def store_for(spec):
    repo = spec["repo"]
    os.makedirs(os.path.join(repo, "data"), exist_ok=True)
    online = f"online_store:\n  type: redis\n  connection_string: \"{spec['redis']}\"\n" if spec.get("redis") else "online_store:\n  type: sqlite\n  path: data/online.db\n"
    with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
        f.write(f"project: {spec['project']}\nregistry: data/registry.db\nprovider: local\n{online}"
                "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")
    store = FeatureStore(repo_path=repo)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    objects = [driver]
    for v in spec["views"]:
        source = FileSource(name=f"{v['name']}_source", path=v["path"], timestamp_field=v["timestamp_field"],
                            created_timestamp_column=v.get("created") or "")
        objects += [source, FeatureView(name=v["name"], entities=[driver], ttl=timedelta(seconds=v["ttl_s"]),
                                        schema=[Field(name=f["name"], dtype=DTYPES[f["type"]]) for f in v["features"]],
                                        source=source, online=True)]
    store.apply(objects)
    return store


def main():
    spec = json.load(sys.stdin)
    answer, sys.stdout = sys.stdout, sys.stderr
    store = store_for(spec)
    if spec["mode"] == "materialize":
        start = datetime.fromisoformat(spec["start"])
        end = datetime.fromisoformat(spec["end"])
        t, c = time.perf_counter(), time.process_time()
        store.materialize(start, end)
        out = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c}
    else:
        entities = pd.read_parquet(spec["entities"])
        t, c = time.perf_counter(), time.process_time()
        df = store.get_historical_features(entity_df=entities, features=spec["features"], full_feature_names=True).to_df()
        out = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "rows": len(df)}
    answer.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
