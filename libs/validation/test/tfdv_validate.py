"""The real TFDV's verdict on Larder's statistics and schema, for the compatibility test.

Reads one JSON request on stdin:
  {"current": path, "previous": path, "schema": path, "inferred_schema_out": path}
(serialized DatasetFeatureStatisticsList x2 and Schema, all written by Larder).
Parses them with tensorflow_metadata, runs tfdv.validate_statistics(current, schema,
previous_statistics=previous), infers a schema from Larder's current statistics with
tfdv.infer_schema and writes it with tfdv.write_schema_text. Answers on stdout with
the anomalies as JSON (proto field names).
"""
import json
import sys

import tensorflow_data_validation as tfdv
from google.protobuf import json_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2


def read(path, message):
    with open(path, "rb") as handle:
        return message.FromString(handle.read())


def main() -> None:
    request = json.load(sys.stdin)
    current = read(request["current"], statistics_pb2.DatasetFeatureStatisticsList)
    previous = read(request["previous"], statistics_pb2.DatasetFeatureStatisticsList)
    schema = read(request["schema"], schema_pb2.Schema)
    anomalies = tfdv.validate_statistics(current, schema, previous_statistics=previous)
    inferred = tfdv.infer_schema(previous)
    tfdv.write_schema_text(inferred, request["inferred_schema_out"])
    json.dump({"anomalies": json_format.MessageToDict(anomalies, preserving_proto_field_name=True)}, sys.stdout)


if __name__ == "__main__":
    main()
