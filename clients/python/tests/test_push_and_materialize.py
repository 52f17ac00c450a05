from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pandas as pd
import pytest

import larder
import larder.aio

UTC = dt.timezone.utc
FRESH = ["driver_hourly_stats_fresh:conv_rate", "driver_hourly_stats_fresh:acc_rate", "driver_hourly_stats_fresh:avg_daily_trips"]


def _rows(driver: int, conv: float, when: dt.datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [driver],
            "conv_rate": pd.Series([conv], dtype="float32"),
            "acc_rate": pd.Series([0.5], dtype="float32"),
            "avg_daily_trips": [7],
            "event_timestamp": [pd.Timestamp(when)],
        }
    )


def test_push_online_then_read_it_back(store: larder.FeatureStore) -> None:
    when = dt.datetime.now(UTC) - dt.timedelta(minutes=1)
    result = store.push("driver_stats_push_source", _rows(5001, 0.25, when), to="online")
    assert (result.rows_written, result.failures) == (1, [])
    read = store.get_online_features(FRESH, [{"driver_id": 5001}])
    assert read.to_dict() == {"driver_id": [5001], "conv_rate": [0.25], "acc_rate": [0.5], "avg_daily_trips": [7]}
    assert read.statuses()["conv_rate"] == ["PRESENT"]
    # An older event does not overwrite the newer one.
    stale = store.push("driver_stats_push_source", _rows(5001, 0.75, when - dt.timedelta(hours=1)))
    assert stale.rows_skipped_stale == 1
    assert store.get_online_features(FRESH, [{"driver_id": 5001}]).to_dict()["conv_rate"] == [0.25]


def test_push_to_both_reaches_training_data(store: larder.FeatureStore) -> None:
    when = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=2)
    store.push("driver_stats_push_source", _rows(5002, 0.125, when), to="both")
    entity = pd.DataFrame({"driver_id": [5002], "event_timestamp": [pd.Timestamp(when + dt.timedelta(seconds=30))]})
    training = store.get_historical_features(entity, ["driver_hourly_stats:conv_rate"]).to_df()
    assert training["conv_rate"].tolist() == [0.125]


def test_a_refused_row_raises_with_the_servers_reason(store: larder.FeatureStore) -> None:
    when = dt.datetime.now(UTC) - dt.timedelta(minutes=1)
    good = _rows(5003, 0.5, when)
    bad = good.assign(driver_id=[5004], conv_rate=["high"])
    rows = pd.concat([good.astype({"conv_rate": object}), bad], ignore_index=True)
    rows["conv_rate"] = rows["conv_rate"].astype(str)
    with pytest.raises(larder.RowsRejected) as caught:
        store.push("driver_stats_push_source", rows)
    assert caught.value.failures and caught.value.failures[0]["column"] == "conv_rate"
    assert "conv_rate" in caught.value.failures[0]["reason"]
    with pytest.raises(larder.InvalidArgument, match="'online', 'offline' or 'both'"):
        store.push("driver_stats_push_source", good, to="elsewhere")
    with pytest.raises(larder.NotFound):
        store.push("no_such_source", good, timestamp_column="event_timestamp")


def test_materialize_reports_progress_and_rows(store: larder.FeatureStore, capsys: Any) -> None:
    end = dt.datetime.now(UTC)
    job = store.materialize(end - dt.timedelta(days=20), end, views=["driver_hourly_stats"], progress=True)
    assert larder.jobs.state_name(job.state) == "SUCCEEDED"
    assert [v.feature_view for v in job.views] == ["driver_hourly_stats"]
    assert job.views[0].rows_written > 0
    assert "materialize" in capsys.readouterr().err
    again = store.materialize_incremental(end, views=["driver_hourly_stats"], progress=False)
    assert larder.jobs.state_name(again.state) == "SUCCEEDED"
    assert store.get_job(job.id).id == job.id
    assert job.id in [j.id for j in store.list_jobs(feature_view="driver_hourly_stats")]


def test_materialize_refuses_naive_times_and_unknown_views(store: larder.FeatureStore) -> None:
    with pytest.raises(larder.InvalidArgument, match="naive datetime"):
        store.materialize(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2))
    with pytest.raises((larder.NotFound, larder.InvalidArgument)) as caught:
        store.materialize(dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC), views=["no_such_view"])
    assert "no_such_view" in caught.value.message


def test_the_asyncio_client_pushes_and_reads(store: larder.FeatureStore) -> None:
    async def main() -> Any:
        async with larder.aio.FeatureStore(config=store.config) as aio_store:
            when = dt.datetime.now(UTC) - dt.timedelta(minutes=1)
            pushed = await aio_store.push("driver_stats_push_source", _rows(5005, 0.0625, when))
            read = await aio_store.get_online_features(FRESH, columns={"driver_id": [5005, 1001]})
            many = await asyncio.gather(*[aio_store.get_online_features(FRESH, [{"driver_id": 5005}]) for _ in range(10)])
            with pytest.raises(larder.InvalidArgument):
                await aio_store.get_online_features(["driver_hourly_stats_fresh:nope"], [{"driver_id": 1}])
            return pushed, read, many, await aio_store.health()

    pushed, read, many, health = asyncio.run(main())
    assert pushed.rows_written == 1
    assert read.to_dict()["conv_rate"][0] == 0.0625
    assert read.to_dict() == store.get_online_features(FRESH, columns={"driver_id": [5005, 1001]}).to_dict()
    assert all(m.to_dict()["conv_rate"] == [0.0625] for m in many)
    assert health == "SERVING"
