from __future__ import annotations

import datetime as dt
from typing import Any, Dict

import pytest

import larder

UTC = dt.timezone.utc


def test_listing_and_describing_definitions(store: larder.FeatureStore, expected: Dict[str, Any]) -> None:
    assert sorted(v.name for v in store.list_feature_views()) == expected["views"]
    assert store.get_entity("driver").join_key == "driver_id"
    assert [e.name for e in store.list_entities()] == ["driver"]
    view = store.get_feature_view("driver_hourly_stats")
    assert [f.name for f in view.schema] == ["conv_rate", "acc_rate", "avg_daily_trips"]
    assert dict(view.tags) == {"team": "driver_performance"}
    assert [s.name for s in store.list_feature_services()] == ["driver_activity"]
    assert [p.feature_view for p in store.get_feature_service("driver_activity").projections] == ["driver_hourly_stats", "transformed_conv_rate"]
    assert [o.name for o in store.list_on_demand_feature_views()] == ["transformed_conv_rate"]
    assert store.get_on_demand_feature_view("transformed_conv_rate").name == "transformed_conv_rate"
    sources = {s.name for s in store.list_data_sources()}
    assert {"driver_stats_source", "driver_stats_push_source", "vals_to_add"} <= sources
    assert store.get_data_source("driver_stats_push_source").WhichOneof("kind") == "push"
    assert [v.name for v in store.list_feature_views(tags={"team": "driver_performance"}, name_prefix="driver_hourly_stats_f")] == ["driver_hourly_stats_fresh"]
    assert "driver_stats" in [p.name for p in store.list_projects()]


def test_search_and_list_features(store: larder.FeatureStore) -> None:
    found = store.search("converted")
    assert [(f.feature_view, f.name) for f in found] == [("driver_hourly_stats", "conv_rate")]
    assert {f.name for f in store.list_features(feature_view="driver_hourly_stats")} == {"conv_rate", "acc_rate", "avg_daily_trips"}
    assert store.search("no-such-words-anywhere") == []


def test_unknown_objects_are_not_found(store: larder.FeatureStore) -> None:
    with pytest.raises(larder.NotFound) as caught:
        store.get_feature_view("nope")
    assert "nope" in caught.value.message and caught.value.code.name == "NOT_FOUND"
    with pytest.raises(larder.NotFound):
        store.get_entity("nope")


def test_statistics_are_computed_stored_and_listed(store: larder.FeatureStore) -> None:
    end = dt.datetime.now(UTC)
    record = store.compute_statistics(feature_view="driver_hourly_stats", start=end - dt.timedelta(days=30), end=end)
    dataset = record.statistics.datasets[0]
    names = {f.name or f.path.step[0] for f in dataset.features}
    assert {"conv_rate", "acc_rate", "avg_daily_trips"} <= names
    assert record.row_count > 0 and dataset.num_examples == record.row_count
    assert store.get_statistics(record.id).id == record.id
    assert record.id in [r.id for r in store.list_statistics("driver_hourly_stats")]
    with pytest.raises(larder.InvalidArgument, match="one of"):
        store.compute_statistics(feature_view="a", saved_dataset="b")
