"""TFDV's side of `npm run bench -- stats`: loads a Parquet file into pandas (not timed),
then times tfdv.generate_statistics_from_dataframe on it. Prints one JSON line."""
import json
import sys
import time

import pandas as pd
import tensorflow_data_validation as tfdv


def main() -> None:
    frame = pd.read_parquet(sys.argv[1])
    frame = frame[[c for c in frame.columns if c != "event_timestamp"]]
    started = time.perf_counter()
    stats = tfdv.generate_statistics_from_dataframe(frame)
    wall = time.perf_counter() - started
    print(json.dumps({"wall_s": wall, "rows": int(stats.datasets[0].num_examples), "features": len(stats.datasets[0].features)}))


if __name__ == "__main__":
    main()
