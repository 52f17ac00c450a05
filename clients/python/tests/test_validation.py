"""Validation from Python against the live offline retrieval: training sets (validate=,
Destination) and computed statistics (compute_statistics(validate=, drift=)), in a project
of its own whose view has a TFDV schema (conversion rate in [0, 1]), with a planted 7.5
that only some entity rows (and the 11:00 span) reach."""

from __future__ import annotations

import os
from typing import Any, Dict

import pyarrow.parquet as pq
import pytest

import larder
import larder.aio
from larder._proto.tensorflow.metadata.v0 import anomalies_pb2, statistics_pb2
from validation_project import PROJECT, _at, apply_validation_project

FEATURES = ["rides:conv_rate", "rides:trips"]


@pytest.fixture(scope="module")
def work(repo: str) -> Dict[str, Any]:
    return apply_validation_project(repo)


@pytest.fixture(scope="module")
def rides(repo: str, work: Dict[str, Any]) -> Any:
    with larder.FeatureStore(repo_path=repo, project=PROJECT, env={}) as s:
        yield s


def test_a_training_set_that_keeps_the_schema_streams_back_with_an_empty_report(rides: larder.FeatureStore, work: Dict[str, Any]) -> None:
    out = os.path.join(work["folder"], "clean_train.parquet")
    job = rides.get_historical_features(
        larder.ServerSource(file=work["clean_file"]), FEATURES, destination=larder.Destination(file=out, overwrite=True), validate=True
    )
    table = job.to_arrow()
    assert table.column("conv_rate").to_pylist() == [0.1, 0.5]
    assert job.validation is not None and job.validation.ok
    assert job.validation.problems() == [] and "no anomalies" in job.validation.summary()
    assert isinstance(job.anomalies, anomalies_pb2.Anomalies)
    # The statistics the service checked: TFDV's message, over the columns the schema covers.
    assert isinstance(job.validation.statistics, statistics_pb2.DatasetFeatureStatisticsList)
    assert job.validation.statistics.datasets[0].num_examples == 2
    assert job.summary is not None and job.summary.storage.file.path == out
    assert pq.read_table(out).column("conv_rate").to_pylist() == [0.1, 0.5]


def test_a_planted_bad_value_is_reported_by_column_and_the_set_is_written(rides: larder.FeatureStore, work: Dict[str, Any]) -> None:
    out = os.path.join(work["folder"], "planted_train.parquet")
    job = rides.get_historical_features(work["planted"], FEATURES, full_feature_names=True, destination=larder.Destination(file=out, overwrite=True), validate=True)
    # Entity rows sent from here are joined once, into the destination: no rows come back.
    with pytest.raises(larder.InvalidArgument, match="sent no rows back"):
        job.to_df()
    summary = job.run()
    assert summary.row_count == 2
    report = job.validation
    assert report is not None and not report.ok
    assert report.by_column() == {"rides__conv_rate": ["FLOAT_TYPE_BIG_FLOAT"]}
    assert "7.5" in report.problems()[0].description
    assert report.summary().splitlines()[0].split() == ["COLUMN", "SEVERITY", "ANOMALY", "DESCRIPTION"]
    # tensorflow_metadata's wire format: the bytes read back as the same Anomalies.
    again = anomalies_pb2.Anomalies.FromString(report.anomalies.SerializeToString())
    assert list(again.anomaly_info) == ["rides__conv_rate"]
    assert pq.read_table(out).column("rides__conv_rate").to_pylist() == [0.1, 7.5]


def test_fail_raises_validation_failed_with_the_status_and_registers_nothing(rides: larder.FeatureStore, work: Dict[str, Any]) -> None:
    out = os.path.join(work["folder"], "failed_train.parquet")
    destination = larder.Destination(file=out, overwrite=True, saved_dataset="planted_rides")
    with pytest.raises(larder.ValidationFailed) as caught:
        rides.get_historical_features(work["planted"], FEATURES, destination=destination, validate="fail").run()
    assert isinstance(caught.value, larder.FailedPrecondition)
    assert caught.value.code.name == "FAILED_PRECONDITION"
    assert "conv_rate: FLOAT_TYPE_BIG_FLOAT" in caught.value.message
    with pytest.raises(larder.NotFound):
        rides.get_saved_dataset("planted_rides")
    # A set that keeps the schema passes "fail" and is registered.
    kept = larder.Destination(file=os.path.join(work["folder"], "kept_train.parquet"), overwrite=True, saved_dataset="clean_rides")
    assert rides.get_historical_features(work["clean"], FEATURES, destination=kept, validate="fail").run().row_count == 2
    assert rides.get_saved_dataset("clean_rides").name == "clean_rides"


def test_validation_errors_name_what_is_wrong(rides: larder.FeatureStore, store: larder.FeatureStore, repo: str, work: Dict[str, Any]) -> None:
    with pytest.raises(larder.InvalidArgument, match="validate needs destination"):
        rides.get_historical_features(work["clean"], FEATURES, validate=True)
    with pytest.raises(larder.InvalidArgument, match="False, True or 'fail'"):
        rides.get_historical_features(work["clean"], FEATURES, destination=larder.Destination(file="x.parquet"), validate="maybe")
    with pytest.raises(larder.InvalidArgument, match="exactly one of"):
        rides.get_historical_features(work["clean"], FEATURES, destination=larder.Destination(file="x.parquet", postgres_table="t"))
    # Outside the service's write root: refused by the service, nothing written.
    with pytest.raises(larder.LarderError) as outside:
        rides.get_historical_features(work["clean"], FEATURES, destination=larder.Destination(file="/etc/larder_evil.parquet"), validate=True).run()
    assert outside.value.code.name in ("INVALID_ARGUMENT", "PERMISSION_DENIED") and "destination" in outside.value.message
    assert not os.path.exists("/etc/larder_evil.parquet")
    # A view without a schema: a plain FailedPrecondition, not a validation failure.
    plain = larder.Destination(file=os.path.join(repo, "data", "py_validation", "no_schema.parquet"), overwrite=True)
    with pytest.raises(larder.FailedPrecondition) as caught:
        store.get_historical_features(os.path.join(repo, "data", "entity_rows.csv"), ["driver_hourly_stats:conv_rate"], destination=plain, validate="fail").run()
    assert not isinstance(caught.value, larder.ValidationFailed) and "TFDV schema" in caught.value.message


def test_the_asyncio_client_validates_too(rides: larder.FeatureStore, work: Dict[str, Any]) -> None:
    import asyncio

    async def main() -> Any:
        async with larder.aio.FeatureStore(config=rides.config) as aio_store:
            destination = larder.Destination(file=os.path.join(work["folder"], "aio_train.parquet"), overwrite=True)
            report = aio_store.get_historical_features(work["planted"], FEATURES, destination=destination, validate=True)
            await report.run()
            with pytest.raises(larder.ValidationFailed, match="FLOAT_TYPE_BIG_FLOAT"):
                await aio_store.get_historical_features(work["planted"], FEATURES, destination=destination, validate="fail").run()
            return report.validation

    validation = asyncio.run(main())
    assert validation is not None and validation.by_column() == {"conv_rate": ["FLOAT_TYPE_BIG_FLOAT"]}


# --- computed statistics validated (compute_statistics(validate=...)) -----------------


def test_computed_statistics_are_checked_against_the_views_schema(rides: larder.FeatureStore) -> None:
    report = rides.compute_statistics(feature_view="rides", start=_at(10), end=_at(12), validate=True, dry_run=True)
    assert isinstance(report, larder.ValidationReport) and not report.ok
    assert report.by_column() == {"conv_rate": ["FLOAT_TYPE_BIG_FLOAT"]}
    assert "7.5" in report.problems()[0].description
    assert isinstance(report.anomalies, anomalies_pb2.Anomalies)
    assert report.anomalies.baseline.feature[0].float_domain.max == 1
    # The record comes along: a dry run stores nothing, so it has no id.
    assert report.record.id == "" and report.record.row_count == 3 and report.statistics == report.record.statistics
    clean = rides.compute_statistics(feature_view="rides", start=_at(10), end=_at(11), validate=True, dry_run=True)
    assert clean.ok and "no anomalies" in clean.summary()
    # Without validate: the plain record, as before.
    assert rides.compute_statistics(feature_view="rides", start=_at(10), end=_at(11), dry_run=True).row_count == 2


def test_fail_raises_after_storing_and_drift_names_the_previous_span(rides: larder.FeatureStore) -> None:
    first = rides.compute_statistics(feature_view="rides", start=_at(10), end=_at(11), validate="fail", drift=True)
    assert first.ok and first.record.id and first.drift_baseline_id == ""
    with pytest.raises(larder.ValidationFailed) as caught:
        rides.compute_statistics(feature_view="rides", start=_at(11), end=_at(12), validate="fail", drift=True)
    assert caught.value.code.name == "FAILED_PRECONDITION"
    assert "statistics of 'rides' (stored as " in caught.value.message and "conv_rate: FLOAT_TYPE_BIG_FLOAT" in caught.value.message
    # Stored before the check failed: listed, and the next span's baseline.
    stored = caught.value.message.split("(stored as ")[1].split(")")[0]
    assert stored in [r.id for r in rides.list_statistics("rides")]
    later = rides.compute_statistics(feature_view="rides", start=_at(12), end=_at(13), validate=True, drift=True, dry_run=True)
    assert later.drift_baseline_id == stored


def test_statistics_validation_errors_name_what_is_wrong(rides: larder.FeatureStore, store: larder.FeatureStore) -> None:
    with pytest.raises(larder.InvalidArgument, match="False, True or 'fail'"):
        rides.compute_statistics(feature_view="rides", start=_at(10), end=_at(12), validate="maybe")
    with pytest.raises(larder.InvalidArgument, match="drift needs validate"):
        rides.compute_statistics(feature_view="rides", start=_at(10), end=_at(12), drift=True)
    with pytest.raises(larder.InvalidArgument, match="unsupported for a saved dataset"):
        rides.compute_statistics(saved_dataset="clean_rides", validate=True)
    # A view without a schema: a plain FailedPrecondition naming it.
    with pytest.raises(larder.FailedPrecondition) as caught:
        store.compute_statistics(feature_view="driver_hourly_stats", start=_at(10), end=_at(12), validate=True, dry_run=True)
    assert not isinstance(caught.value, larder.ValidationFailed) and "feature view 'driver_hourly_stats' has no TFDV schema" in caught.value.message


def test_the_asyncio_client_computes_lists_and_reads_statistics(rides: larder.FeatureStore) -> None:
    import asyncio

    async def main() -> Any:
        async with larder.aio.FeatureStore(config=rides.config) as aio_store:
            report = await aio_store.compute_statistics(feature_view="rides", start=_at(10), end=_at(12), validate=True)
            listed = await aio_store.list_statistics("rides")
            got = await aio_store.get_statistics(report.record.id)
            with pytest.raises(larder.ValidationFailed, match="FLOAT_TYPE_BIG_FLOAT"):
                await aio_store.compute_statistics(feature_view="rides", start=_at(10), end=_at(12), validate="fail", dry_run=True)
            plain = await aio_store.compute_statistics(feature_view="rides", start=_at(10), end=_at(11), dry_run=True)
            return report, listed, got, plain

    report, listed, got, plain = asyncio.run(main())
    assert report.by_column() == {"conv_rate": ["FLOAT_TYPE_BIG_FLOAT"]}
    assert report.record.id in [r.id for r in listed] and not listed[0].HasField("statistics")
    assert got.statistics == report.record.statistics and plain.row_count == 2
