from __future__ import annotations

import math
from typing import Any, Dict

import pyarrow as pa
import pytest

import larder
from conftest import FEATURES

IDS = [1001, 1002, 1003, 1004, 1005, 999999]


def test_values_equal_what_the_typescript_client_reads(store: larder.FeatureStore, expected: Dict[str, Any]) -> None:
    result = store.get_online_features(FEATURES, [{"driver_id": i} for i in IDS])
    assert result.feature_names == ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"]
    assert result.to_dict() == expected["online"]
    statuses = result.statuses()
    assert [statuses[n] for n in ["conv_rate", "acc_rate", "avg_daily_trips"]] == expected["onlineStatuses"]
    # The unknown driver is NOT_FOUND with no value; the others have one.
    assert statuses["conv_rate"][-1] == "NOT_FOUND" and result.to_dict()["conv_rate"][-1] is None
    assert all(v is not None for v in result.to_dict()["conv_rate"][:-1])


def test_columns_and_entity_rows_are_the_same_request(store: larder.FeatureStore) -> None:
    by_rows = store.get_online_features(FEATURES, [{"driver_id": i} for i in IDS]).to_dict()
    by_columns = store.get_online_features(FEATURES, columns={"driver_id": IDS}).to_dict()
    assert by_rows == by_columns


def test_arrow_and_pandas_keep_the_declared_types(store: larder.FeatureStore, expected: Dict[str, Any]) -> None:
    result = store.get_online_features(FEATURES, columns={"driver_id": IDS})
    table = result.to_arrow()
    assert table.schema.field("driver_id").type == pa.int64()
    assert table.schema.field("conv_rate").type == pa.float32()
    assert table.schema.field("avg_daily_trips").type == pa.int64()
    df = result.to_df()
    assert list(df.columns) == ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"]
    assert df["driver_id"].tolist() == IDS
    assert df["conv_rate"].iloc[0] == pytest.approx(expected["online"]["conv_rate"][0])
    assert math.isnan(df["conv_rate"].iloc[-1])


def test_full_feature_names(store: larder.FeatureStore, expected: Dict[str, Any]) -> None:
    result = store.get_online_features(FEATURES, columns={"driver_id": IDS}, full_feature_names=True).to_dict()
    assert list(result) == ["driver_id", "driver_hourly_stats__conv_rate", "driver_hourly_stats__acc_rate", "driver_hourly_stats__avg_daily_trips"]
    assert result["driver_hourly_stats__conv_rate"] == expected["online"]["conv_rate"]


def test_feature_service_with_an_on_demand_view(store: larder.FeatureStore, expected: Dict[str, Any]) -> None:
    result = store.get_online_features(
        feature_service="driver_activity",
        entity_rows=[{"driver_id": 1001, "val_to_add": 1, "val_to_add_2": 10}, {"driver_id": 1002, "val_to_add": 2, "val_to_add_2": 20}],
    ).to_dict()
    conv = expected["online"]["conv_rate"][:2]
    assert result["conv_rate"] == conv
    assert result["acc_rate"] == expected["online"]["acc_rate"][:2]
    assert result["conv_rate_plus_val1"] == pytest.approx([conv[0] + 1, conv[1] + 2])
    assert result["conv_rate_plus_val2"] == pytest.approx([conv[0] + 10, conv[1] + 20])


def test_an_unknown_feature_is_invalid_argument_with_the_servers_message(store: larder.FeatureStore) -> None:
    with pytest.raises(larder.InvalidArgument) as caught:
        store.get_online_features(["driver_hourly_stats:no_such_feature"], [{"driver_id": 1001}])
    assert caught.value.code.name == "INVALID_ARGUMENT"
    assert "no_such_feature" in caught.value.message


def test_an_unknown_feature_service_is_not_found(store: larder.FeatureStore) -> None:
    with pytest.raises(larder.NotFound) as caught:
        store.get_online_features(feature_service="no_such_service", entity_rows=[{"driver_id": 1001}])
    assert "no_such_service" in caught.value.message
    assert isinstance(caught.value, larder.LarderError)


def test_bad_requests_are_refused_before_sending(store: larder.FeatureStore) -> None:
    with pytest.raises(larder.InvalidArgument, match="not both"):
        store.get_online_features(FEATURES, [{"driver_id": 1}], feature_service="driver_activity")
    with pytest.raises(larder.InvalidArgument, match="one string"):
        store.get_online_features("driver_hourly_stats:conv_rate", [{"driver_id": 1}])  # type: ignore[arg-type]
    with pytest.raises(larder.InvalidArgument, match=r"entity_rows\[0\] lacks 'other'"):
        store.get_online_features(FEATURES, [{"driver_id": 1}, {"other": 2}])


def test_a_service_that_is_not_there_is_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with larder.FeatureStore(online=f"127.0.0.1:{port}", project="driver_stats", timeout=5, env={}) as nowhere:
        with pytest.raises(larder.Unavailable):
            nowhere.get_online_features(FEATURES, [{"driver_id": 1001}])
