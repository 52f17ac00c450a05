from __future__ import annotations

import datetime as dt
import os
from typing import Any, Dict, List

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import larder
from conftest import FEATURES


def _rows(table: pa.Table) -> List[Dict[str, Any]]:
    out = []
    for row in table.to_pylist():
        row = dict(row)
        row["event_timestamp"] = int(row["event_timestamp"].timestamp())
        out.append(row)
    return out


def _expected(expected: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [dict(row) for row in expected["historical"]]


def test_a_pandas_entity_df_gives_the_typescript_clients_training_set(store: larder.FeatureStore, repo: str, expected: Dict[str, Any]) -> None:
    entity_df = pd.read_csv(os.path.join(repo, "data", "entity_rows.csv"))
    entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)
    job = store.get_historical_features(entity_df, FEATURES)
    df = job.to_df()
    assert list(df.columns) == ["driver_id", "trip_completed", "event_timestamp", "conv_rate", "acc_rate", "avg_daily_trips"]
    assert str(df["event_timestamp"].dt.tz) == "UTC"
    got = _rows(job.to_arrow())
    assert sorted(got[0]) == sorted(_expected(expected)[0])
    assert got == _expected(expected)
    assert job.summary is not None and job.summary.row_count == len(entity_df)
    # Point in time: 1004's row is a week back; its value is not the latest one.
    assert any(row["conv_rate"] is not None for row in got)


def test_pyarrow_and_file_paths_give_the_same_rows(store: larder.FeatureStore, repo: str, expected: Dict[str, Any], tmp_path: Any) -> None:
    csv = os.path.join(repo, "data", "entity_rows.csv")
    table = pcsv.read_csv(csv)
    parquet = tmp_path / "entities.parquet"
    pq.write_table(table, parquet)
    want = _expected(expected)
    assert _rows(store.get_historical_features(table, FEATURES).to_arrow()) == want
    assert _rows(store.get_historical_features(csv, FEATURES).to_arrow()) == want
    assert _rows(store.get_historical_features(str(parquet), FEATURES).to_arrow()) == want
    # Rows the engine reads itself: nothing sent from here.
    server = store.get_historical_features(larder.ServerSource(file=csv), FEATURES).to_arrow()
    assert _rows(server) == want


def test_to_parquet_streams_the_rows_to_a_file(store: larder.FeatureStore, repo: str, expected: Dict[str, Any], tmp_path: Any) -> None:
    out = tmp_path / "training.parquet"
    job = store.get_historical_features(os.path.join(repo, "data", "entity_rows.csv"), FEATURES, max_rows_per_chunk=2)
    assert job.to_parquet(out) == len(expected["historical"])
    assert _rows(pq.read_table(out)) == _expected(expected)


def test_small_chunks_are_decoded_in_order(store: larder.FeatureStore, repo: str, expected: Dict[str, Any]) -> None:
    job = store.get_historical_features(os.path.join(repo, "data", "entity_rows.csv"), FEATURES, max_rows_per_chunk=1)
    batches = list(job.iter_batches())
    assert [b.num_rows for b in batches] == [1] * len(expected["historical"])
    assert _rows(pa.Table.from_batches(batches)) == _expected(expected)


def test_full_feature_names_and_feature_service(store: larder.FeatureStore, repo: str) -> None:
    csv = os.path.join(repo, "data", "entity_rows.csv")
    full = store.get_historical_features(csv, FEATURES, full_feature_names=True).to_arrow()
    assert full.column_names[-3:] == ["driver_hourly_stats__conv_rate", "driver_hourly_stats__acc_rate", "driver_hourly_stats__avg_daily_trips"]
    entity = pcsv.read_csv(csv)
    entity = entity.append_column("val_to_add", pa.array([1] * entity.num_rows, pa.int64()))
    entity = entity.append_column("val_to_add_2", pa.array([2] * entity.num_rows, pa.int64()))
    service = store.get_historical_features(entity, feature_service="driver_activity").to_arrow()
    assert {"conv_rate", "acc_rate", "conv_rate_plus_val1", "conv_rate_plus_val2"} <= set(service.column_names)
    for row in service.to_pylist():
        if row["conv_rate"] is not None:
            assert row["conv_rate_plus_val1"] == pytest.approx(row["conv_rate"] + 1)


def test_errors_name_what_is_wrong(store: larder.FeatureStore, repo: str) -> None:
    csv = os.path.join(repo, "data", "entity_rows.csv")
    with pytest.raises(larder.InvalidArgument) as caught:
        store.get_historical_features(csv, ["driver_hourly_stats:nope"]).to_arrow()
    assert "nope" in caught.value.message
    with pytest.raises(larder.InvalidArgument, match="no 'when' column"):
        store.get_historical_features(csv, FEATURES, timestamp_column="when")
    with pytest.raises(larder.InvalidArgument, match="no such file"):
        store.get_historical_features("/nonexistent/entities.parquet", FEATURES)


def test_zone_less_timestamps_are_utc_not_the_machines_zone(store: larder.FeatureStore, repo: str) -> None:
    entity_df = pd.read_csv(os.path.join(repo, "data", "entity_rows.csv"))
    aware = pd.to_datetime(entity_df["event_timestamp"], utc=True)
    with_zone = entity_df.assign(event_timestamp=aware.dt.tz_convert("Asia/Kolkata"))
    naive = entity_df.assign(event_timestamp=aware.dt.tz_localize(None))
    a = store.get_historical_features(with_zone, FEATURES).to_arrow()
    b = store.get_historical_features(naive, FEATURES).to_arrow()
    assert _rows(a) == _rows(b)
    assert a.column("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert a.column("event_timestamp")[0].as_py().tzinfo is not None
    assert a.column("event_timestamp")[0].as_py() == aware[0].to_pydatetime().astimezone(dt.timezone.utc)


def test_parquet_and_value_chunks_give_the_same_frames(store: larder.FeatureStore, repo: str) -> None:
    csv = os.path.join(repo, "data", "entity_rows.csv")
    entity_df = pd.read_csv(csv)
    entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True).dt.tz_convert("America/St_Johns")
    # A driver with no feature rows: nulls in every feature.
    unknown = entity_df.iloc[[0]].assign(driver_id=987654321)
    entity_df = pd.concat([entity_df, unknown], ignore_index=True)
    cases = [
        (entity_df, {}),
        (larder.ServerSource(file=csv), {"max_rows_per_chunk": 3}),
        (csv, {"full_feature_names": True}),
    ]
    for entity, options in cases:
        parquet = store.get_historical_features(entity, FEATURES, **options)
        values = store.get_historical_features(entity, FEATURES, result_format="values", **options)
        pd.testing.assert_frame_equal(parquet.to_df(), values.to_df())
        assert parquet.to_arrow().schema == values.to_arrow().schema
        assert (parquet.received_format, values.received_format) == ("parquet", "values")
    assert parquet_nulls_of(store, entity_df) == 3
    chunked = store.get_historical_features(larder.ServerSource(file=csv), FEATURES, max_rows_per_chunk=3)
    sizes = [b.num_rows for b in chunked.iter_batches()]
    assert len(sizes) > 1 and max(sizes) <= 3 and sum(sizes) == len(entity_df) - 1
    # On-demand features are computed in the service: value chunks, read the same way.
    with_fields = pcsv.read_csv(csv)
    with_fields = with_fields.append_column("val_to_add", pa.array([1] * with_fields.num_rows, pa.int64()))
    with_fields = with_fields.append_column("val_to_add_2", pa.array([2] * with_fields.num_rows, pa.int64()))
    service = store.get_historical_features(with_fields, feature_service="driver_activity")
    assert service.to_arrow().num_rows == with_fields.num_rows
    assert service.received_format == "values"
    with pytest.raises(larder.InvalidArgument, match="result_format"):
        store.get_historical_features(csv, FEATURES, result_format="csv")


def parquet_nulls_of(store: larder.FeatureStore, entity_df: Any) -> int:
    """Null features of the unknown driver (the last row), read from Parquet chunks."""
    df = store.get_historical_features(entity_df, FEATURES).to_df()
    return int(df.iloc[-1][["conv_rate", "acc_rate", "avg_daily_trips"]].isna().sum())
