"""larder.aio beyond online reads: training sets, materialization and the registry, each
compared with what the synchronous store (and the TypeScript client) read from the same
live services. One event loop per test (asyncio.run; no pytest plugin)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any, Dict, List

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import larder
import larder.aio
from conftest import FEATURES

UTC = dt.timezone.utc


def _rows(table: pa.Table) -> List[Dict[str, Any]]:
    return [dict(row, event_timestamp=int(row["event_timestamp"].timestamp())) for row in table.to_pylist()]


def test_training_sets_stream_into_arrow_as_the_sync_client_does(store: larder.FeatureStore, repo: str, expected: Dict[str, Any], tmp_path: Any) -> None:
    csv = os.path.join(repo, "data", "entity_rows.csv")
    entity_df = pd.read_csv(csv)
    entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)

    async def main() -> Any:
        async with larder.aio.FeatureStore(config=store.config) as aio_store:
            job = aio_store.get_historical_features(entity_df, FEATURES)
            df = await job.to_df()
            server = await aio_store.get_historical_features(larder.ServerSource(file=csv), FEATURES).to_arrow()
            small = aio_store.get_historical_features(csv, FEATURES, max_rows_per_chunk=1)
            batches = [batch async for batch in small.iter_batches()]
            written = await aio_store.get_historical_features(csv, FEATURES, max_rows_per_chunk=2).to_parquet(tmp_path / "aio.parquet")
            # The server's status, every time (grpc.aio alone would race it to INTERNAL).
            errors = []
            for _ in range(5):
                with pytest.raises(larder.InvalidArgument) as caught:
                    await aio_store.get_historical_features(entity_df, ["driver_hourly_stats:nope"]).to_arrow()
                errors.append(caught.value)
            return job, df, server, batches, written, errors[-1]

    job, df, server, batches, written, error = asyncio.run(main())
    want = [dict(row) for row in expected["historical"]]
    assert list(df.columns) == ["driver_id", "trip_completed", "event_timestamp", "conv_rate", "acc_rate", "avg_daily_trips"]
    assert _rows(pa.Table.from_pandas(df, preserve_index=False)) == want
    assert job.summary is not None and job.summary.row_count == len(want)
    assert _rows(server) == want
    assert [b.num_rows for b in batches] == [1] * len(want) and _rows(pa.Table.from_batches(batches)) == want
    assert written == len(want) and _rows(pq.read_table(tmp_path / "aio.parquet")) == want
    assert "nope" in error.message


def test_materialization_is_followed_to_its_end(store: larder.FeatureStore) -> None:
    end = dt.datetime.now(UTC)

    async def main() -> Any:
        async with larder.aio.FeatureStore(config=store.config) as aio_store:
            job = await aio_store.materialize(end - dt.timedelta(days=20), end, views=["driver_hourly_stats"], progress=False)
            again = await aio_store.materialize_incremental(end, views=["driver_hourly_stats"], progress=False)
            listed = await aio_store.list_jobs(feature_view="driver_hourly_stats")
            fetched = await aio_store.get_job(job.id)
            with pytest.raises(larder.InvalidArgument, match="naive datetime"):
                await aio_store.materialize(dt.datetime(2024, 1, 1), end)
            with pytest.raises((larder.NotFound, larder.InvalidArgument)) as unknown:
                await aio_store.materialize(end - dt.timedelta(days=1), end, views=["no_such_view"])
            return job, again, listed, fetched, unknown.value

    job, again, listed, fetched, unknown = asyncio.run(main())
    assert larder.jobs.state_name(job.state) == "SUCCEEDED" and job.views[0].rows_written > 0
    assert larder.jobs.state_name(again.state) == "SUCCEEDED"
    assert again.id != job.id
    assert job.id in [j.id for j in listed] and fetched.id == job.id
    assert "no_such_view" in unknown.message


def test_registry_calls_answer_as_the_sync_client(store: larder.FeatureStore) -> None:
    async def main() -> Any:
        async with larder.aio.FeatureStore(config=store.config) as s:
            return await asyncio.gather(
                s.list_feature_views(),
                s.get_feature_view("driver_hourly_stats"),
                s.list_entities(),
                s.get_entity("driver"),
                s.list_feature_services(),
                s.get_feature_service("driver_activity"),
                s.list_on_demand_feature_views(),
                s.list_data_sources(),
                s.get_data_source("driver_stats_push_source"),
                s.list_features(feature_view="driver_hourly_stats"),
                s.search("converted"),
                s.list_projects(),
                s.list_feature_views(tags={"team": "driver_performance"}, name_prefix="driver_hourly_stats_f"),
                _not_found(s),
            )

    (views, view, entities, entity, services, service, odfvs, sources, source, features, found, projects, filtered, missing) = asyncio.run(main())
    assert [v.name for v in views] == [v.name for v in store.list_feature_views()]
    assert view == store.get_feature_view("driver_hourly_stats")
    assert [e.name for e in entities] == ["driver"] and entity.join_key == "driver_id"
    assert [s.name for s in services] == ["driver_activity"] and service == store.get_feature_service("driver_activity")
    assert [o.name for o in odfvs] == ["transformed_conv_rate"]
    assert {s.name for s in sources} == {s.name for s in store.list_data_sources()} and source.WhichOneof("kind") == "push"
    assert {f.name for f in features} == {"conv_rate", "acc_rate", "avg_daily_trips"}
    assert [(f.feature_view, f.name) for f in found] == [("driver_hourly_stats", "conv_rate")]
    assert "driver_stats" in [p.name for p in projects]
    assert [v.name for v in filtered] == ["driver_hourly_stats_fresh"]
    assert "nope" in missing.message


async def _not_found(s: larder.aio.FeatureStore) -> larder.LarderError:
    try:
        await s.get_feature_view("nope")
    except larder.NotFound as error:
        return error
    raise AssertionError("get_feature_view('nope') did not raise NotFound")


def test_the_asyncio_client_reads_parquet_and_value_chunks_alike(store: larder.FeatureStore, repo: str) -> None:
    csv = os.path.join(repo, "data", "entity_rows.csv")

    async def main() -> Any:
        async with larder.aio.FeatureStore(config=store.config) as aio_store:
            parquet = aio_store.get_historical_features(larder.ServerSource(file=csv), FEATURES, max_rows_per_chunk=4)
            values = aio_store.get_historical_features(larder.ServerSource(file=csv), FEATURES, max_rows_per_chunk=4, result_format="values")
            return parquet, await parquet.to_df(), values, await values.to_df()

    parquet, parquet_df, values, values_df = asyncio.run(main())
    pd.testing.assert_frame_equal(parquet_df, values_df)
    assert (parquet.received_format, values.received_format) == ("parquet", "values")
