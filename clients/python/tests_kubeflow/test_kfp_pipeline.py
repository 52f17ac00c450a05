"""larder.kfp: the sample pipeline compiled by KFP's compiler (its IR checked), then the
components run for real by KFP's local runner against the live store."""

import datetime as dt
import pathlib

import pyarrow.parquet as pq
import pytest
import yaml
from kfp import compiler

import larder
from larder import pipeline_steps
from larder._proto.tensorflow.metadata.v0 import statistics_pb2
from larder.kfp import feature_statistics, materialize_incremental

from conftest import FEATURES


@pytest.fixture(scope="module")
def ir(pipeline_module, tmp_path_factory):
    out = tmp_path_factory.mktemp("ir") / "driver_pipeline.yaml"
    compiler.Compiler().compile(pipeline_module.driver_pipeline, str(out))
    return yaml.safe_load(out.read_text())


def test_compiled_ir_names_our_components_their_inputs_outputs_and_wiring(ir):
    comps = ir["components"]
    assert set(comps) == {"comp-importer", "comp-training-set", "comp-train", "comp-register"}
    ts = comps["comp-training-set"]
    assert set(ts["inputDefinitions"]["artifacts"]) == {"entity_data"}
    assert ts["inputDefinitions"]["artifacts"]["entity_data"]["artifactType"]["schemaTitle"] == "system.Dataset"
    params = ts["inputDefinitions"]["parameters"]
    assert {k: params[k]["parameterType"] for k in ("project", "features", "feature_service", "addresses", "full_feature_names", "timestamp_column")} == {
        "project": "STRING",
        "features": "LIST",
        "feature_service": "STRING",
        "addresses": "STRUCT",
        "full_feature_names": "BOOLEAN",
        "timestamp_column": "STRING",
    }
    assert ts["outputDefinitions"]["artifacts"]["training_data"]["artifactType"]["schemaTitle"] == "system.Dataset"
    assert ts["outputDefinitions"]["parameters"]["Output"]["parameterType"] == "NUMBER_INTEGER"
    assert comps["comp-train"]["outputDefinitions"]["artifacts"]["model"]["artifactType"]["schemaTitle"] == "system.Model"
    assert comps["comp-register"]["outputDefinitions"]["artifacts"]["registered"]["artifactType"]["schemaTitle"] == "system.Model"

    tasks = ir["root"]["dag"]["tasks"]
    assert set(tasks) == {"importer", "training-set", "train", "register"}
    wired = tasks["training-set"]["inputs"]
    assert wired["artifacts"]["entity_data"]["taskOutputArtifact"] == {"outputArtifactKey": "artifact", "producerTask": "importer"}
    assert wired["parameters"]["features"]["componentInputParameter"] == "features"
    assert wired["parameters"]["project"]["componentInputParameter"] == "project"
    assert tasks["train"]["inputs"]["artifacts"]["training_data"]["taskOutputArtifact"] == {"outputArtifactKey": "training_data", "producerTask": "training-set"}
    reg = tasks["register"]["inputs"]["artifacts"]
    assert reg["model"]["taskOutputArtifact"] == {"outputArtifactKey": "model", "producerTask": "train"}
    assert reg["training_data"]["taskOutputArtifact"] == {"outputArtifactKey": "training_data", "producerTask": "training-set"}
    assert ir["root"]["inputDefinitions"]["parameters"]["features"]["defaultValue"] == FEATURES
    # The container runs our function in the image: the executor calls training_set.
    executor = ir["deploymentSpec"]["executors"]["exec-training-set"]["container"]
    assert executor["image"] == "larder-python:0.1.0"
    assert "training_set" in executor["args"] and "pipeline_steps.build_training_set" in executor["command"][-1]


def test_pipeline_runs_locally_training_set_equals_both_clients(pipeline_module, local_runner, repo, addresses, expected, store):
    entity_rows = repo / "data" / "entity_rows.csv"
    run = pipeline_module.driver_pipeline(entity_rows_uri=str(entity_rows), addresses=addresses)
    training = run.outputs["training_data"]
    table = pq.read_table(training.path)
    # Entity columns, the time, then the features; rows as the TypeScript client read them.
    assert set(table.column_names) == {"driver_id", "event_timestamp", "trip_completed", "conv_rate", "acc_rate", "avg_daily_trips"}
    assert table.column_names[-3:] == ["conv_rate", "acc_rate", "avg_daily_trips"]
    rows = table.to_pylist()
    assert len(rows) == len(expected["historical"]) > 0
    for got, want in zip(rows, expected["historical"]):
        assert int(got["event_timestamp"].timestamp()) == want["event_timestamp"]
        for name in ("driver_id", "trip_completed", "conv_rate", "acc_rate", "avg_daily_trips"):
            assert got[name] == pytest.approx(want[name]), name
    # ... and as the Python client reads them in-process.
    direct = store.get_historical_features(str(entity_rows), FEATURES).to_arrow()
    assert table.column_names == direct.column_names and table.equals(direct)
    assert training.metadata["rows"] == len(rows) and training.metadata["features"] == FEATURES

    model = run.outputs["model"]
    assert model.metadata["name"] == "driver-trip" and model.metadata["features"] == FEATURES
    assert model.metadata["columns"] == ["conv_rate", "acc_rate", "avg_daily_trips"] and model.metadata["training_rows"] == len(rows)
    import pickle

    with open(model.path, "rb") as f:
        fitted = pickle.load(f)
    assert fitted.predict_proba(table.select(["conv_rate", "acc_rate", "avg_daily_trips"]).to_pandas().fillna(0)).shape == (len(rows), 2)


def test_materialize_incremental_component_moves_the_watermark(local_runner, addresses, store):
    before = pipeline_steps.watermarks(store, ["driver_hourly_stats"])["driver_hourly_stats"]
    end = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert before == "" or dt.datetime.fromisoformat(before) < end
    task = materialize_incremental(project="driver_stats", end=end.isoformat(), views=["driver_hourly_stats"], addresses=addresses)
    assert task.outputs["watermarks"] == {"driver_hourly_stats": end.isoformat()}
    # The registry agrees, and the job is the materialization service's.
    assert pipeline_steps.watermarks(store, ["driver_hourly_stats"]) == {"driver_hourly_stats": end.isoformat()}
    job = store.get_job(task.outputs["job_id"])
    assert larder.jobs.state_name(job.state) == "SUCCEEDED"
    assert [v.feature_view for v in job.views] == ["driver_hourly_stats"]
    assert task.outputs["rows_written"] == sum(v.rows_written for v in job.views)


def test_times_without_a_zone_are_refused_not_guessed(addresses):
    with pytest.raises(larder.InvalidArgument, match="end '2024-05-01T00:00:00' has no time zone"):
        pipeline_steps.materialize_incremental("driver_stats", "2024-05-01T00:00:00", ["driver_hourly_stats"], addresses)
    with pytest.raises(larder.InvalidArgument, match="start 'yesterday' is not an ISO 8601 time"):
        pipeline_steps.feature_statistics("driver_stats", "driver_hourly_stats", "yesterday", "", [], addresses)


START = "2020-01-01T00:00:00+00:00"


def test_statistics_component_writes_tfdv_statistics_and_enforces_limits(local_runner, addresses, store):
    end = dt.datetime.now(dt.timezone.utc).isoformat()
    task = feature_statistics(project="driver_stats", feature_view="driver_hourly_stats", start=START, end=end, addresses=addresses, min_rows=1, max_missing_fraction=1.0)
    record = store.get_statistics(task.outputs["Output"])
    stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(pathlib.Path(task.outputs["statistics"].path).read_bytes())
    assert stats == record.statistics and record.row_count > 0
    assert task.outputs["statistics"].metadata["rows"] == record.row_count
    missing = pipeline_steps.missing_fractions(stats)
    assert {"conv_rate", "acc_rate", "avg_daily_trips"} <= set(missing)
    assert all(0.0 <= share <= 1.0 for share in missing.values())
    # The same view with limits it breaks fails the step, naming each limit.
    again, _, problems, report = pipeline_steps.feature_statistics("driver_stats", "driver_hourly_stats", START, end, [], addresses, min_rows=record.row_count + 1, max_missing_fraction=0.0)
    assert problems[0] == f"{record.row_count} rows, fewer than min_rows {record.row_count + 1}"
    assert report is None
    with pytest.raises(larder.FailedPrecondition, match=f"statistics of 'driver_hourly_stats' \\({again.id}\\) break the limits: {record.row_count} rows"):
        pipeline_steps.check_statistics("driver_hourly_stats", again.id, problems)


def test_components_refuse_hostile_inputs(addresses, tmp_path):
    with pytest.raises(larder.InvalidArgument, match="unknown service 'evil'"):
        pipeline_steps.open_store("driver_stats", {"evil": "10.0.0.1:1"})
    with pytest.raises(larder.InvalidArgument, match="max_missing_fraction"):
        pipeline_steps.feature_statistics("driver_stats", "driver_hourly_stats", "", "", [], addresses, max_missing_fraction=2.0)
    bad = tmp_path / "rows.csv"
    bad.write_text("driver_id,when\n1001,2024-01-01T00:00:00Z\n")
    with pytest.raises(larder.InvalidArgument, match="no column 'event_timestamp'"):
        pipeline_steps.read_entity_rows(str(bad), "event_timestamp")
    with pytest.raises(larder.NotFound):
        pipeline_steps.feature_statistics("driver_stats", "no_such_view", START, "2030-01-01T00:00:00Z", [], addresses)
