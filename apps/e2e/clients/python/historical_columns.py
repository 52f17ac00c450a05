#!/usr/bin/env python3
"""Reads a training set through the Python stubs and prints it as a table of named columns.

    python historical_columns.py --stubs DIR --address HOST:PORT [--order a,b,c]

Sends GetHistoricalFeatures with inline entity rows for trips:trips (join keys driver_id
and customer_id, plus a passthrough column zone). The RowBatch's `columns` map is built
with zone first; its order on the wire is whatever this Python's protobuf makes of it.
With --order the query states the column order in HistoricalQuery.entity_columns, the
ordered field. The client reconstructs each row by position in ResultSchema.columns
(the normative order) and prints one JSON line: {"columns": [...], "rows": [{...}]}.
"""

import argparse
import json
import sys

import grpc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--order", default="")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    from google.protobuf import timestamp_pb2
    from larder.offline.v1 import offline_retrieval_service_pb2 as offline
    from larder.offline.v1 import offline_retrieval_service_pb2_grpc as offline_grpc
    from larder.types.v1 import feature_pb2, row_batch_pb2, value_pb2

    at = timestamp_pb2.Timestamp(seconds=1704110400)  # 2024-01-01T12:00:00Z
    rows = [(1001, "c1", "north"), (1002, "c2", "south"), (1001, "c2", "east")]
    columns = {
        "zone": value_pb2.RepeatedValue(val=[value_pb2.Value(string_val=z) for _, _, z in rows]),
        "customer_id": value_pb2.RepeatedValue(val=[value_pb2.Value(string_val=c) for _, c, _ in rows]),
        "driver_id": value_pb2.RepeatedValue(val=[value_pb2.Value(int64_val=d) for d, _, _ in rows]),
    }
    order = [name for name in args.order.split(",") if name]
    query = offline.HistoricalQuery(features=feature_pb2.FeatureList(val=["trips:trips"]), entity_columns=order)
    requests = [
        offline.GetHistoricalFeaturesRequest(query=query),
        offline.GetHistoricalFeaturesRequest(entity_rows=row_batch_pb2.RowBatch(columns=columns, event_timestamps=[at] * len(rows))),
    ]
    stub = offline_grpc.OfflineRetrievalServiceStub(grpc.insecure_channel(args.address))
    names, table = [], []
    for reply in stub.GetHistoricalFeatures(iter(requests), timeout=30):
        part = reply.WhichOneof("part")
        if part == "schema":
            names = [column.name for column in reply.schema.columns]
        elif part == "chunk":
            for r in range(len(reply.chunk.event_timestamps)):
                row = {}
                for i, name in enumerate(names):
                    value = reply.chunk.columns[i].val[r]
                    kind = value.WhichOneof("val")
                    row[name] = None if kind is None else getattr(value, kind)
                table.append(row)
    print(json.dumps({"columns": names, "rows": table}))


if __name__ == "__main__":
    main()
