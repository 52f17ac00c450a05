"""larder.kfp's training_set and feature_statistics with validation: the entity rows'
training set, and the view's computed statistics, checked by offline retrieval against
the views' TFDV schemas (the client suite's py_validation project: a planted 7.5 where
the schema allows [0, 1]), run by KFP's local runner."""

import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from kfp import compiler, dsl, local

import larder
from larder import pipeline_steps
from larder.kfp import feature_statistics, training_set

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from validation_project import PROJECT, apply_validation_project  # noqa: E402

FEATURES = ["rides:conv_rate", "rides:trips"]


@pytest.fixture(scope="module")
def work(repo):
    return apply_validation_project(str(repo))


@pytest.fixture(scope="module")
def planted_file(work, tmp_path_factory):
    path = tmp_path_factory.mktemp("entities") / "planted.parquet"
    pq.write_table(pa.Table.from_pandas(work["planted"], preserve_index=False), path)
    return path


@dsl.pipeline(name="validated-training-set")
def validated(entity_rows_uri: str, addresses: dict, destination: str, fail: bool) -> dsl.Dataset:
    rows = dsl.importer(artifact_uri=entity_rows_uri, artifact_class=dsl.Dataset, reimport=False)
    built = training_set(
        entity_data=rows.output, project=PROJECT, features=FEATURES, addresses=addresses, validation_destination=destination, fail_on_anomalies=fail
    )
    return built.outputs["training_data"]


def test_the_component_takes_validation_inputs(tmp_path):
    out = tmp_path / "validated.yaml"
    compiler.Compiler().compile(validated, str(out))
    ir = yaml.safe_load(out.read_text())
    inputs = ir["components"]["comp-training-set"]["inputDefinitions"]["parameters"]
    assert inputs["validation_destination"]["parameterType"] == "STRING" and inputs["validation_destination"]["defaultValue"] == ""
    assert inputs["fail_on_anomalies"]["parameterType"] == "BOOLEAN" and inputs["fail_on_anomalies"]["defaultValue"] is False
    wired = ir["root"]["dag"]["tasks"]["training-set"]["inputs"]["parameters"]
    assert wired["fail_on_anomalies"]["componentInputParameter"] == "fail"


def test_anomalies_reach_the_artifacts_metadata_and_fail_the_step_when_asked(local_runner, addresses, work, planted_file):
    destination = str(pathlib.Path(work["folder"]) / "kfp_checked.parquet")
    dataset = validated(entity_rows_uri=str(planted_file), addresses=addresses, destination=destination, fail=False).output
    assert dataset.metadata["anomalies"] == {"conv_rate": ["FLOAT_TYPE_BIG_FLOAT"]}
    assert "7.5" in dataset.metadata["validation"] and dataset.metadata["validation_destination"] == destination
    # The rows are still the training set, streamed into the artifact.
    assert pq.read_table(dataset.path).column("conv_rate").to_pylist() == [0.1, 7.5]
    # fail_on_anomalies: the step's work raises ValidationFailed, before the artifact is written.
    out = planted_file.parent / "never.parquet"
    with pytest.raises(larder.ValidationFailed, match="conv_rate: FLOAT_TYPE_BIG_FLOAT"):
        pipeline_steps.build_training_set(str(planted_file), str(out), PROJECT, FEATURES, "", addresses, validation_destination=destination, fail_on_anomalies=True)
    assert not out.exists()
    # A clean set passes the same check.
    kept = pipeline_steps.build_training_set(work["clean_file"], str(out), PROJECT, FEATURES, "", addresses, validation_destination=destination, fail_on_anomalies=True)
    assert kept["anomalies"] == {} and kept["rows"] == 2
    with pytest.raises(larder.InvalidArgument, match="fail_on_anomalies needs validation_destination"):
        pipeline_steps.build_training_set(work["clean_file"], str(out), PROJECT, FEATURES, "", addresses, fail_on_anomalies=True)


@dsl.pipeline(name="validated-statistics")
def validated_statistics(addresses: dict, fail: bool) -> dsl.Artifact:
    stats = feature_statistics(
        project=PROJECT,
        feature_view="rides",
        start="2024-01-01T10:00:00+00:00",
        end="2024-01-01T12:00:00+00:00",
        addresses=addresses,
        validate=True,
        fail_on_anomalies=fail,
    )
    return stats.outputs["statistics"]


def test_the_statistics_component_validates_against_the_views_schema(local_runner, addresses, work, tmp_path):
    out = tmp_path / "statistics.yaml"
    compiler.Compiler().compile(validated_statistics, str(out))
    ir = yaml.safe_load(out.read_text())
    inputs = ir["components"]["comp-feature-statistics"]["inputDefinitions"]["parameters"]
    assert all(inputs[name]["parameterType"] == "BOOLEAN" and inputs[name]["defaultValue"] is False for name in ("validate", "drift", "fail_on_anomalies"))
    assert ir["root"]["dag"]["tasks"]["feature-statistics"]["inputs"]["parameters"]["fail_on_anomalies"]["componentInputParameter"] == "fail"

    # Run for real: the planted 7.5 at 11:00 breaks conv_rate's [0, 1] domain.
    artifact = validated_statistics(addresses=addresses, fail=False).output
    assert artifact.metadata["anomalies"] == {"conv_rate": ["FLOAT_TYPE_BIG_FLOAT"]}
    assert "7.5" in artifact.metadata["validation"] and artifact.metadata["rows"] == 3
    # fail_on_anomalies: the step's work raises ValidationFailed naming the column.
    record, _, problems, report = pipeline_steps.feature_statistics(
        PROJECT, "rides", "2024-01-01T10:00:00+00:00", "2024-01-01T12:00:00+00:00", [], addresses, validate=True
    )
    assert record.id and report is not None and report.record.id == record.id
    with pytest.raises(larder.ValidationFailed, match=f"statistics of 'rides' \\({record.id}\\) break the view's TFDV schema: conv_rate: FLOAT_TYPE_BIG_FLOAT"):
        pipeline_steps.check_statistics("rides", record.id, problems, report)
    # Before the planted row the data fits: nothing to fail on.
    _, _, problems, clean = pipeline_steps.feature_statistics(
        PROJECT, "rides", "2024-01-01T10:00:00+00:00", "2024-01-01T11:00:00+00:00", [], addresses, validate=True
    )
    assert clean is not None and clean.ok
    pipeline_steps.check_statistics("rides", "x", problems, clean)
    with pytest.raises(larder.InvalidArgument, match="drift needs validate"):
        pipeline_steps.feature_statistics(PROJECT, "rides", "2024-01-01T10:00:00+00:00", "", [], addresses, drift=True)
