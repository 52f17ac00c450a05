"""Kubeflow Pipelines components that use the Larder client (``pip install 'larder[kfp]'``).

    from larder.kfp import training_set, materialize_incremental, feature_statistics

- ``training_set``: entity rows in (a Dataset: Parquet or CSV with the join keys and an
  ``event_timestamp``), a point-in-time-correct training set out (a Parquet Dataset),
  streamed from offline retrieval straight into the file; optionally validated first
  against the views' TFDV schemas (``validation_destination``, ``fail_on_anomalies``).
- ``materialize_incremental``: moves views' online data up to ``end`` from their
  watermarks; outputs the job id, rows written and the watermarks after the job.
- ``feature_statistics``: TFDV-compatible statistics of a feature view over an event-time
  range, computed in the offline engine and stored; the DatasetFeatureStatisticsList is
  the output artifact (``tfdv.load_stats_binary``), and the step fails when the row count
  or a feature's missing share breaks the limits given; with ``validate`` the service
  checks the statistics against the view's TFDV schema (``drift``: and against the
  previous stored span), the anomalies go into the artifact's metadata, and
  ``fail_on_anomalies`` fails the step naming them.

They run in an image with this package installed (its wheel: ``pip wheel
./clients/python``): ``LARDER_KFP_IMAGE`` names it when this module is imported (default
``larder-python:0.1.0``), or ``components(image)`` builds them for another. They reach
the store through ``addresses`` (``{"offline_retrieval": "host:port", ...}``, larder.yaml's
``services:`` keys) or, when it is empty, the environment the client reads
(``LARDER_OFFLINE_RETRIEVAL``, ``LARDER_PROJECT``, ``LARDER_CLIENT_TLS_*``,
``LARDER_CLIENT_TOKEN_FILE``...), which the cluster sets on the task's pod.
"""

import os
from typing import Any, Dict, List, NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

DEFAULT_IMAGE = "larder-python:0.1.0"

# KFP ships each function below to the pod as source text: its body imports what it uses
# and calls into larder.pipeline_steps, which the image has with the rest of the package.


def training_set(
    entity_data: Input[Dataset],
    training_data: Output[Dataset],
    project: str = "",
    features: List[str] = [],
    feature_service: str = "",
    addresses: Dict[str, str] = {},
    full_feature_names: bool = False,
    timestamp_column: str = "event_timestamp",
    validation_destination: str = "",
    fail_on_anomalies: bool = False,
) -> int:
    """The training set of entity_data's rows (Parquet or CSV), as Parquet; returns its row
    count. With validation_destination (a file path in offline retrieval's write root) the
    set is first checked against its views' TFDV schemas there: the anomalies go into the
    artifact's metadata, and fail_on_anomalies fails the step when a schema is broken."""
    from larder import pipeline_steps

    written = pipeline_steps.build_training_set(
        entity_data.path,
        training_data.path,
        project,
        features,
        feature_service,
        addresses,
        full_feature_names,
        timestamp_column,
        validation_destination,
        fail_on_anomalies,
    )
    training_data.metadata.update(written)
    return int(written["rows"])


def materialize_incremental(
    metrics: Output[Metrics],
    project: str = "",
    end: str = "",
    views: List[str] = [],
    addresses: Dict[str, str] = {},
) -> NamedTuple("MaterializeOutputs", [("job_id", str), ("rows_written", int), ("watermarks", Dict[str, str])]):  # type: ignore[valid-type]
    """Materializes views (every online view when empty) from their watermarks up to end
    (ISO 8601 with a zone; empty: now); a failed job fails the step with the service's reason."""
    from collections import namedtuple

    from larder import pipeline_steps

    done = pipeline_steps.materialize_incremental(project, end, views, addresses)
    metrics.log_metric("rows_written", done["rows_written"])
    metrics.log_metric("views", len(done["watermarks"]))
    return namedtuple("MaterializeOutputs", ["job_id", "rows_written", "watermarks"])(done["job_id"], done["rows_written"], done["watermarks"])


def feature_statistics(
    feature_view: str,
    start: str,
    end: str,
    statistics: Output[Artifact],
    metrics: Output[Metrics],
    project: str = "",
    features: List[str] = [],
    min_rows: int = 0,
    max_missing_fraction: float = 1.0,
    addresses: Dict[str, str] = {},
    validate: bool = False,
    drift: bool = False,
    fail_on_anomalies: bool = False,
) -> str:
    """Computes and stores feature_view's statistics over event times [start, end] (ISO
    8601 with a zone), writes the DatasetFeatureStatisticsList (binary) to
    statistics, and fails when there are fewer than min_rows rows or a feature is missing
    in more than max_missing_fraction of them. With validate the service checks them
    against the view's TFDV schema (drift: also against the previous stored span of the
    view): the anomalies go into the artifact's metadata, and fail_on_anomalies fails the
    step naming them. Returns the stored record's id."""
    from larder import pipeline_steps
    from larder.errors import InvalidArgument

    if fail_on_anomalies and not validate:
        raise InvalidArgument("fail_on_anomalies needs validate: the anomalies come from the service's validation")
    record, missing, problems, report = pipeline_steps.feature_statistics(
        project, feature_view, start, end, features, addresses, min_rows, max_missing_fraction, validate, drift
    )
    with open(statistics.path, "wb") as out:
        out.write(record.statistics.SerializeToString())
    statistics.metadata.update({"record_id": record.id, "feature_view": feature_view, "rows": record.row_count})
    if report is not None:
        statistics.metadata.update({"anomalies": report.by_column(), "validation": report.summary(), "drift_baseline_id": report.drift_baseline_id})
        metrics.log_metric("anomalies", len(report.problems()))
    metrics.log_metric("rows", record.row_count)
    for name, share in missing.items():
        metrics.log_metric(f"missing_fraction.{name}", share)
    pipeline_steps.check_statistics(feature_view, record.id, problems, report if fail_on_anomalies else None)
    return str(record.id)


class Components(NamedTuple):
    training_set: Any
    materialize_incremental: Any
    feature_statistics: Any


# The plain functions, kept before their names are rebound to the default image's components.
_FUNCTIONS = (training_set, materialize_incremental, feature_statistics)


def components(image: str) -> Components:
    """The three components for a given image (one with this package installed)."""
    return Components(*(dsl.component(func, base_image=image) for func in _FUNCTIONS))


training_set, materialize_incremental, feature_statistics = components(os.environ.get("LARDER_KFP_IMAGE", DEFAULT_IMAGE))

__all__ = ["DEFAULT_IMAGE", "Components", "components", "feature_statistics", "materialize_incremental", "training_set"]
