"""The work of larder.kfp's components, as plain functions (no kfp import).

KFP ships a lightweight component's function to the pod as source text, so anything it
calls must be importable there; the components' bodies are one call into this module,
which the image has with the rest of the package. Usable from Airflow or a script too.
"""

import datetime as dt
from typing import Any, Dict, List, Mapping, Optional, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .errors import FailedPrecondition, InvalidArgument, ValidationFailed
from .historical import Destination
from .store import FeatureStore
from .validation import ValidationReport

# larder.yaml's `services:` keys -> FeatureStore's arguments.
_SERVICES = {"registry": "registry", "online_serving": "online", "offline_retrieval": "offline", "materialization": "materialization", "ingestion": "ingestion"}


def open_store(project: str, addresses: Mapping[str, str]) -> FeatureStore:
    """A store for a pipeline step: explicit addresses by service name, else the
    environment (LARDER_OFFLINE_RETRIEVAL, LARDER_CLIENT_TLS_*, a token file...)."""
    unknown = sorted(set(addresses) - set(_SERVICES))
    if unknown:
        raise InvalidArgument(f"addresses: unknown service {unknown[0]!r} (known: {', '.join(sorted(_SERVICES))})")
    return FeatureStore(project=project or None, **{_SERVICES[k]: v for k, v in addresses.items() if v})


def parse_time(text: str, name: str) -> Optional[dt.datetime]:
    """ISO 8601 with a zone, or None for ''; a zone-less time is refused, never guessed."""
    if not text:
        return None
    try:
        # Python before 3.11 reads only isoformat()'s own shape: no "Z" for UTC.
        value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        raise InvalidArgument(f"{name} {text!r} is not an ISO 8601 time (2024-05-01T00:00:00Z)") from None
    if value.tzinfo is None:
        raise InvalidArgument(f"{name} {text!r} has no time zone: give one (2024-05-01T00:00:00Z)")
    return value


def read_entity_rows(path: str, timestamp_column: str) -> pa.Table:
    """Entity rows from a Parquet or CSV file (KFP artifact paths have no suffix, so the
    format is told by Parquet's magic bytes). CSV times without a zone are UTC."""
    with open(path, "rb") as head:
        parquet = head.read(4) == b"PAR1"
    if parquet:
        rows = pq.read_table(path)
    else:
        rows = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(timestamp_parsers=[pacsv.ISO8601]))
    if timestamp_column not in rows.column_names:
        raise InvalidArgument(f"entity data has no column {timestamp_column!r} (its columns: {', '.join(rows.column_names)})")
    if not pa.types.is_timestamp(rows.schema.field(timestamp_column).type):
        raise InvalidArgument(f"entity data's {timestamp_column!r} is {rows.schema.field(timestamp_column).type}, not a timestamp")
    return rows


def build_training_set(
    entity_path: str,
    output_path: str,
    project: str,
    features: Sequence[str],
    feature_service: str,
    addresses: Mapping[str, str],
    full_feature_names: bool = False,
    timestamp_column: str = "event_timestamp",
    validation_destination: str = "",
    fail_on_anomalies: bool = False,
) -> Dict[str, Any]:
    """Streams the training set of the entity rows at entity_path into Parquet at
    output_path; returns what the artifact's metadata records.

    With validation_destination (a .parquet/.csv path inside offline retrieval's write
    root), the service first writes the set there and checks its statistics against the
    views' TFDV schemas: the anomalies go into the metadata, and with fail_on_anomalies a
    broken schema raises ValidationFailed before anything is streamed. Entity rows sent
    from the pod are joined once per call, so validating costs a second join."""
    if fail_on_anomalies and not validation_destination:
        raise InvalidArgument("fail_on_anomalies needs validation_destination: where offline retrieval writes the set to compute its statistics")
    rows = read_entity_rows(entity_path, timestamp_column)
    query = dict(
        features=list(features) or None, feature_service=feature_service or None, full_feature_names=full_feature_names, timestamp_column=timestamp_column
    )
    checked: Dict[str, Any] = {}
    with open_store(project, addresses) as store:
        if validation_destination:
            destination = Destination(file=validation_destination, overwrite=True)
            job = store.get_historical_features(rows, destination=destination, validate="fail" if fail_on_anomalies else True, **query)  # type: ignore[arg-type]
            job.run()
            assert job.validation is not None
            checked = {"anomalies": job.validation.by_column(), "validation": job.validation.summary(), "validation_destination": validation_destination}
        store.get_historical_features(rows, **query).to_parquet(output_path)  # type: ignore[arg-type]
        project = store.project
    written = pq.read_metadata(output_path)
    return {
        "rows": written.num_rows,
        "columns": list(written.schema.names),
        "project": project,
        "features": list(features) if features else [],
        "feature_service": feature_service,
        **checked,
    }


def materialize_incremental(project: str, end: str, views: Sequence[str], addresses: Mapping[str, str]) -> Dict[str, Any]:
    """Materializes views (all online views when empty) from their watermarks up to end
    (now when ''), waits for the job and returns its id, rows written and the watermarks
    after it. A failed job raises JobFailed with the service's reason."""
    until = parse_time(end, "end") or dt.datetime.now(dt.timezone.utc)
    with open_store(project, addresses) as store:
        job = store.materialize_incremental(until, views=list(views) or None, progress=False)
        return {
            "job_id": job.id,
            "rows_written": int(sum(v.rows_written for v in job.views)),
            "watermarks": watermarks(store, [v.feature_view for v in job.views]),
        }


def watermarks(store: FeatureStore, views: List[str]) -> Dict[str, str]:
    """Each view's watermark as ISO 8601 UTC ('' when never materialized)."""
    from ._proto.larder.registry.v1 import registry_service_pb2 as reg
    from ._proto.larder.registry.v1 import registry_service_pb2_grpc as reg_grpc

    stub = store._stub("registry", reg_grpc.RegistryServiceStub)
    request = reg.GetMaterializationStateRequest(project=store.project, feature_views=views)
    states = store._call(stub.GetMaterializationState, request).states
    return {s.feature_view: s.watermark.ToDatetime(tzinfo=dt.timezone.utc).isoformat() if s.HasField("watermark") else "" for s in states}


def feature_statistics(
    project: str,
    feature_view: str,
    start: str,
    end: str,
    features: Sequence[str],
    addresses: Mapping[str, str],
    min_rows: int = 0,
    max_missing_fraction: float = 1.0,
    validate: bool = False,
    drift: bool = False,
) -> Any:
    """Computes and stores a view's statistics over [start, end]; returns the record,
    per feature the missing share, every broken limit (fewer rows than min_rows, a
    feature missing in more than max_missing_fraction of rows) for check_statistics, and
    with validate the ValidationReport of the statistics against the view's TFDV schema
    (drift: also against the previous stored span), else None."""
    if drift and not validate:
        raise InvalidArgument("drift needs validate: drift is measured by the view's schema's drift comparators")
    if not 0.0 <= max_missing_fraction <= 1.0:
        raise InvalidArgument(f"max_missing_fraction must be within [0, 1], got {max_missing_fraction}")
    if min_rows < 0:
        raise InvalidArgument(f"min_rows must not be negative, got {min_rows}")
    report: Optional[ValidationReport] = None
    with open_store(project, addresses) as store:
        computed = store.compute_statistics(
            feature_view=feature_view,
            start=parse_time(start, "start"),
            end=parse_time(end, "end"),
            features=list(features) or None,
            validate=validate,
            drift=drift,
        )
    if validate:
        report = computed
        record = computed.record
    else:
        record = computed
    missing = missing_fractions(record.statistics)
    problems = []
    if record.row_count < min_rows:
        problems.append(f"{record.row_count} rows, fewer than min_rows {min_rows}")
    for name, share in missing.items():
        if share > max_missing_fraction:
            problems.append(f"feature {name!r} is missing in {share:.1%} of rows, above max_missing_fraction {max_missing_fraction:.1%}")
    return record, missing, problems, report


def missing_fractions(statistics: Any) -> Dict[str, float]:
    """Per feature of a DatasetFeatureStatisticsList, the share of rows without a value."""
    shares: Dict[str, float] = {}
    for dataset in statistics.datasets:
        for feature in dataset.features:
            kind = feature.WhichOneof("stats")
            if kind is None:
                continue
            common = getattr(feature, kind).common_stats
            total = common.num_non_missing + common.num_missing
            name = feature.path.step[-1] if feature.path.step else feature.name
            shares[name] = common.num_missing / total if total else 0.0
    return shares


def check_statistics(feature_view: str, record_id: str, problems: List[str], report: Optional[ValidationReport] = None) -> None:
    """Raises when the step must fail: ValidationFailed naming each anomaly when a report
    that is not ok is given (fail_on_anomalies), else FailedPrecondition naming every
    broken limit."""
    if report is not None and not report.ok:
        anomalies = "; ".join(f"{a.column}: {', '.join(a.types)} ({a.description})" for a in report.problems())
        limits = f"; limits: {'; '.join(problems)}" if problems else ""
        raise ValidationFailed(f"statistics of {feature_view!r} ({record_id}) break the view's TFDV schema: {anomalies}{limits}")
    if problems:
        raise FailedPrecondition(f"statistics of {feature_view!r} ({record_id}) break the limits: " + "; ".join(problems))
