"""A project whose view has a TFDV schema (conversion rate in [0, 1]) and data with a
planted 7.5 that only some entity rows reach: applied to the live registry by the client
suite (test_validation.py) and the Kubeflow suite, each on its own (applying twice is a
no-op)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Dict

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from google.protobuf import text_format

import larder
from larder._proto.larder.registry.v1 import registry_service_pb2 as reg_pb2
from larder._proto.larder.registry.v1 import registry_service_pb2_grpc as reg_grpc
from larder._proto.larder.types.v1 import value_pb2
from larder._proto.tensorflow.metadata.v0 import schema_pb2

PROJECT = "py_validation"
UTC = dt.timezone.utc
SCHEMA = """
feature { name: "conv_rate" type: FLOAT presence { min_fraction: 1.0 } float_domain { min: 0 max: 1 } }
feature { name: "trips" type: INT int_domain { min: 0 } }
"""


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, 1, hour, minute, tzinfo=UTC)


def apply_validation_project(repo: str) -> Dict[str, Any]:
    """Writes the view's data and a clean entity file under the quickstart repo (offline
    retrieval's read and write root), applies the project, and returns the folder, the
    clean and planted entity rows (pandas) and the clean file's path."""
    folder = os.path.join(str(repo), "data", "py_validation")
    os.makedirs(folder, exist_ok=True)
    data = pa.table(
        {
            "driver_id": pa.array([1001, 1002, 1002], pa.int64()),
            "event_ts": pa.array([_at(10), _at(10), _at(11)], pa.timestamp("us", tz="UTC")),
            "conv_rate": pa.array([0.1, 0.5, 7.5], pa.float64()),
            "trips": pa.array([5, 7, 8], pa.int64()),
        }
    )
    pq.write_table(data, os.path.join(folder, "rides.parquet"))
    clean = pd.DataFrame({"driver_id": [1001, 1002], "event_timestamp": [pd.Timestamp(_at(10, 30))] * 2})
    planted = pd.DataFrame({"driver_id": [1001, 1002], "event_timestamp": [pd.Timestamp(_at(10, 30)), pd.Timestamp(_at(11, 30))]})
    pq.write_table(pa.Table.from_pandas(clean, preserve_index=False), os.path.join(folder, "clean.parquet"))
    apply = reg_pb2.ApplyRegistryRequest(project=PROJECT)
    apply.entities.add(name="driver", join_key="driver_id", value_type=value_pb2.VALUE_TYPE_INT64)
    source = apply.data_sources.add(name="rides_src", timestamp_field="event_ts")
    source.file.path = os.path.join(folder, "rides.parquet")
    view = apply.feature_views.add(name="rides", entities=["driver"], batch_source="rides_src")
    view.schema.add(name="conv_rate", value_type=value_pb2.VALUE_TYPE_DOUBLE)
    view.schema.add(name="trips", value_type=value_pb2.VALUE_TYPE_INT64)
    view.validation.schema.CopyFrom(text_format.Parse(SCHEMA, schema_pb2.Schema()))
    with larder.FeatureStore(config=larder.read_repo_config(repo), env={}) as admin:
        reg_grpc.RegistryServiceStub(admin._channel("registry")).ApplyRegistry(apply, timeout=30)
    return {"folder": folder, "clean": clean, "planted": planted, "clean_file": os.path.join(folder, "clean.parquet")}
