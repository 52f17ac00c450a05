"""The Python client's benchmark cases (driven by bench/python.ts, which starts the services).

online ADDRESS REGISTRY SECONDS ENTITIES: 1 entity x 50 features, one call at a time, three ways:
  health  grpc.health.v1 Check through a raw generated stub (the Python gRPC floor);
  raw     GetOnlineFeatures through a raw generated stub, request built before timing
          and the response left undecoded past protobuf's parse (the rpc's Python floor);
  client  larder.FeatureStore.get_online_features(...).to_dict(): request built, sent,
          mapped to Python values per call.
historical OFFLINE REGISTRY ENTITY_FILE OUT_FILE: the same 1M x 3 training set
  export  GetHistoricalFeaturesFromSource writing Parquet in the service (omit_rows): the
          service's own export time;
  drain   the same rows streamed back and dropped as bytes (the stream's own cost);
  client  larder: get_historical_features(ServerSource(...), result_format="values").to_df(),
          rows streamed back as value chunks and decoded into a pandas DataFrame;
  parquet the same with the client's default, Parquet chunks written by the engine and
          read by pyarrow (and that stream drained as bytes, for its size);
  read    pyarrow reading the exported Parquet into pandas (the file path's last step).
Prints one JSON object.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any, Callable, Dict, List

import grpc

import larder
from larder._proto.health.v1 import health_pb2, health_pb2_grpc
from larder._proto.larder.offline.v1 import offline_retrieval_service_pb2 as offline_pb2
from larder._proto.larder.offline.v1 import offline_retrieval_service_pb2_grpc as offline_grpc
from larder._proto.larder.registry.v1 import data_source_pb2, saved_dataset_pb2
from larder._proto.larder.serving.v1 import online_serving_service_pb2 as serving_pb2
from larder._proto.larder.serving.v1 import online_serving_service_pb2_grpc as serving_grpc
from larder._proto.larder.types.v1 import value_pb2

FEATURES = [f"view_{v}:f{f}" for v in range(5) for f in range(10)]


def timed(call: Callable[[int], Any], seconds: float) -> Dict[str, float]:
    for i in range(200):  # warm-up: connections, caches
        call(i)
    samples: List[float] = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        began = time.perf_counter_ns()
        call(i)
        samples.append((time.perf_counter_ns() - began) / 1e6)
        i += 1
    samples.sort()
    pick = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))]  # noqa: E731
    return {"p50_ms": round(pick(0.5), 3), "p99_ms": round(pick(0.99), 3), "p999_ms": round(pick(0.999), 3), "calls": len(samples)}


def online(address: str, registry: str, seconds: float, entities: int) -> Dict[str, Any]:
    rng = random.Random(7)
    keys = [rng.randrange(entities) for _ in range(4096)]
    channel = grpc.insecure_channel(address)
    health = health_pb2_grpc.HealthStub(channel)
    serving = serving_grpc.OnlineServingServiceStub(channel)
    check = health_pb2.HealthCheckRequest(service="")
    requests = []
    for key in keys:
        request = serving_pb2.GetOnlineFeaturesRequest(project="bench", full_feature_names=True)
        request.features.val.extend(FEATURES)
        request.entities["driver_id"].val.append(value_pb2.Value(int64_val=key))
        requests.append(request)
    store = larder.FeatureStore(online=address, registry=registry, project="bench", env={})
    first = store.get_online_features(FEATURES, [{"driver_id": keys[0]}], full_feature_names=True).to_dict()
    assert len(first) == 51 and all(first[f"view_4__f{f}"][0] is not None for f in range(10)), first
    out = {
        "health": timed(lambda i: health.Check(check, timeout=5), seconds),
        "raw": timed(lambda i: serving.GetOnlineFeatures(requests[i % 4096], timeout=5), seconds),
        "client": timed(lambda i: store.get_online_features(FEATURES, [{"driver_id": keys[i % 4096]}], full_feature_names=True).to_dict(), seconds),
    }
    store.close()
    channel.close()
    return out


def historical(offline: str, registry: str, entity_file: str, out_file: str) -> Dict[str, Any]:
    import pyarrow.parquet as pq

    features = [f"view_{v}:{f}" for v in range(3) for f in ("f_a", "f_b", "f_c")]
    query = offline_pb2.HistoricalQuery(project="bench", full_feature_names=True)
    query.features.val.extend(features)
    query.destination.storage.CopyFrom(saved_dataset_pb2.DatasetStorage(file=data_source_pb2.FileSource(path=out_file, format=data_source_pb2.FILE_FORMAT_PARQUET)))
    query.destination.omit_rows = True
    query.destination.overwrite = True
    stream_query = offline_pb2.HistoricalQuery(project="bench", full_feature_names=True)
    stream_query.features.val.extend(features)
    source = offline_pb2.EntitySource(file=data_source_pb2.FileSource(path=entity_file, format=data_source_pb2.FILE_FORMAT_PARQUET))
    channel = grpc.insecure_channel(offline, options=[("grpc.max_receive_message_length", 64 << 20)])
    stub = offline_grpc.OfflineRetrievalServiceStub(channel)
    store = larder.FeatureStore(offline=offline, registry=registry, project="bench", env={})
    out: Dict[str, Any] = {}
    for run in range(2):
        began = time.perf_counter()
        summary = [m for m in stub.GetHistoricalFeaturesFromSource(offline_pb2.GetHistoricalFeaturesFromSourceRequest(query=query, entity_source=source))][-1].summary
        export_s = time.perf_counter() - began
        # The same stream received as bytes and dropped: the service's streaming and
        # gRPC's transport, without the client's decoding.
        drain = channel.unary_stream(
            "/larder.offline.v1.OfflineRetrievalService/GetHistoricalFeaturesFromSource",
            request_serializer=offline_pb2.GetHistoricalFeaturesFromSourceRequest.SerializeToString,
            response_deserializer=None,
        )
        began = time.perf_counter()
        received = sum(len(m) for m in drain(offline_pb2.GetHistoricalFeaturesFromSourceRequest(query=stream_query, entity_source=source)))
        drain_s = time.perf_counter() - began
        began = time.perf_counter()
        df = store.get_historical_features(larder.ServerSource(file=entity_file), features, full_feature_names=True, result_format="values").to_df()
        client_s = time.perf_counter() - began
        del df
        parquet_query = offline_pb2.HistoricalQuery()
        parquet_query.CopyFrom(stream_query)
        parquet_query.result_format = offline_pb2.RESULT_FORMAT_PARQUET
        began = time.perf_counter()
        parquet_bytes = sum(len(m) for m in drain(offline_pb2.GetHistoricalFeaturesFromSourceRequest(query=parquet_query, entity_source=source)))
        parquet_drain_s = time.perf_counter() - began
        began = time.perf_counter()
        job = store.get_historical_features(larder.ServerSource(file=entity_file), features, full_feature_names=True)
        df = job.to_df()
        parquet_s = time.perf_counter() - began
        assert job.received_format == "parquet", job.received_format
        began = time.perf_counter()
        read = pq.read_table(out_file).to_pandas()
        read_s = time.perf_counter() - began
        assert len(df) == summary.row_count == len(read), (len(df), summary.row_count, len(read))
        out[f"run{run}"] = {"export_s": round(export_s, 2), "drain_s": round(drain_s, 2), "stream_mb": round(received / 1e6), "client_s": round(client_s, 2), "parquet_s": round(parquet_s, 2), "parquet_drain_s": round(parquet_drain_s, 2), "parquet_mb": round(parquet_bytes / 1e6), "read_s": round(read_s, 2), "rows": len(df), "columns": len(df.columns)}
    store.close()
    channel.close()
    return out


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "online":
        result = online(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    else:
        result = historical(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    print(json.dumps(result))
