"""Makes a Feast 0.67 registry with the real feast package from PyPI, for the import spec
(apps/cli/src/import-feast/import-feast.spec.ts).

Reads one JSON object on stdin, prints one JSON object on stdout:
  {"project": P, "redis": "host:port",
   "repos": [{"repo": DIR, "registry": PATH_OR_URL, "registry_type": "file" | "sql"}, ...]}
For each repo (one process, so Python and feast load once): writes a Parquet source and
feature_store.yaml into DIR, applies entities, sources of every kind (file, push, Kafka,
BigQuery, PostgreSQL, request), feature views with ttl and tags, an on-demand view with
a Python UDF and a feature service. The first repo then `feast materialize`s the file
source into Redis and answers get_online_features:
  -> {"online": {feature: [values...]}, "entities": {"driver_id": [...]}}
"""
import json
import os
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
from feast import (BigQuerySource, Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource,
                   KafkaSource, PushSource, RequestSource)
from feast.data_format import JsonFormat
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float32, Float64, Int64, String
from feast.value_type import ValueType


def main():
    spec = json.load(sys.stdin)
    # Feast prints progress on stdout; the answer must be the only thing there.
    answer, sys.stdout = sys.stdout, sys.stderr
    out = {}
    for i, r in enumerate(spec["repos"]):
        out = apply(spec, r, materialize=(i == 0)) or out
    json.dump(out, answer)


def apply(spec, r, materialize):
    repo = r["repo"]
    data = os.path.join(repo, "data")
    os.makedirs(data, exist_ok=True)
    # Fresh rows, so that within the views' ttl they serve as PRESENT.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rows = pd.DataFrame({
        "driver_id": [1001, 1002, 1003, 1001],
        "conv_rate": [0.25, 0.5, 0.75, 0.125],
        "trips": [10, 20, 30, 5],
        "city": ["Paris", "Lyon", "Nice", "Old"],
        "event_timestamp": [now - timedelta(hours=1), now - timedelta(hours=2), now - timedelta(hours=3), now - timedelta(days=2)],
        "created": [now] * 4,
    })
    rows["conv_rate"] = rows["conv_rate"].astype("float32")
    rows.to_parquet(os.path.join(data, "driver_stats.parquet"))
    if r["registry_type"] == "sql":
        registry = f"registry:\n  registry_type: sql\n  path: {r['registry']}\n  cache_ttl_seconds: 0\n"
    else:
        registry = f"registry: {r['registry']}\n"
    with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
        f.write(
            f"project: {spec['project']}\n{registry}provider: local\n"
            "online_store:\n  type: redis\n"
            f"  connection_string: \"{spec['redis']}\"\n"
            "offline_store:\n  type: file\n"
            "entity_key_serialization_version: 3\n"
        )
    store = FeatureStore(repo_path=repo)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64, description="A driver.", tags={"team": "rides"})
    source = FileSource(name="driver_stats_source", path="data/driver_stats.parquet", timestamp_field="event_timestamp", created_timestamp_column="created")
    push = PushSource(name="driver_push", batch_source=source)
    kafka = KafkaSource(name="driver_kafka", kafka_bootstrap_servers="localhost:9092,127.0.0.1:9093", topic="driver_events", timestamp_field="event_timestamp",
                        message_format=JsonFormat(schema_json="driver_id integer, conv_rate double"), batch_source=source,
                        watermark_delay_threshold=timedelta(minutes=5))
    bq = BigQuerySource(name="driver_bq", table="proj.dataset.driver_stats", timestamp_field="event_timestamp")
    pgs = PostgreSQLSource(name="driver_pg", query="SELECT * FROM driver_stats", timestamp_field="event_timestamp")
    stats = FeatureView(
        name="driver_hourly_stats", entities=[driver], ttl=timedelta(days=1),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="trips", dtype=Int64), Field(name="city", dtype=String)],
        source=source, online=True, tags={"team": "rides", "tier": "gold"}, description="Hourly driver stats.", owner="ml@example.com",
    )
    fresh = FeatureView(name="driver_fresh", entities=[driver], ttl=timedelta(hours=2), schema=[Field(name="conv_rate", dtype=Float32)], source=push, online=True)
    streamed = FeatureView(name="driver_streamed", entities=[driver], ttl=timedelta(0), schema=[Field(name="conv_rate", dtype=Float32)], source=kafka, online=True)
    request = RequestSource(name="vals", schema=[Field(name="val_to_add", dtype=Int64)])

    @on_demand_feature_view(sources=[stats, request], schema=[Field(name="conv_plus", dtype=Float64)], mode="python")
    def conv_plus(inputs):
        return {"conv_plus": [c + v for c, v in zip(inputs["conv_rate"], inputs["val_to_add"])]}

    service = FeatureService(name="driver_model", features=[stats[["conv_rate", "trips"]], conv_plus], description="Ranking model.")
    store.apply([driver, source, push, kafka, bq, pgs, stats, fresh, streamed, request, conv_plus, service])
    if materialize:
        store.materialize(now - timedelta(days=3), now)
        entities = {"driver_id": [1001, 1002, 1003, 9999]}
        got = store.get_online_features(features=["driver_hourly_stats:conv_rate", "driver_hourly_stats:trips", "driver_hourly_stats:city"],
                                        entity_rows=[{"driver_id": d} for d in entities["driver_id"]]).to_dict()
        return {"online": {k: v for k, v in got.items() if k != "driver_id"}, "entities": entities}
    return None


if __name__ == "__main__":
    main()
