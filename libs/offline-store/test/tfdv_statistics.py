"""The real TFDV's view of a dataset, for Larder's statistics compatibility test.

Reads one JSON request on stdin: {"parquet": path, "ours": path to our serialized
DatasetFeatureStatisticsList, "columns": [feature names]}. Parses our bytes with
tensorflow_metadata, runs tfdv.generate_statistics_from_dataframe on the same rows,
and answers on stdout with both statistics as JSON dicts.
"""
import json
import sys

import pandas as pd
import tensorflow_data_validation as tfdv
from google.protobuf import json_format
from tensorflow_metadata.proto.v0 import statistics_pb2


def main() -> None:
    request = json.load(sys.stdin)
    frame = pd.read_parquet(request["parquet"])[request["columns"]]
    with open(request["ours"], "rb") as handle:
        ours = statistics_pb2.DatasetFeatureStatisticsList.FromString(handle.read())
    theirs = tfdv.generate_statistics_from_dataframe(frame)
    json.dump(
        {
            "ours": json_format.MessageToDict(ours, preserving_proto_field_name=True),
            "tfdv": json_format.MessageToDict(theirs, preserving_proto_field_name=True),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
