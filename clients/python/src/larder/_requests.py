"""The requests of the unary calls, built once for larder.FeatureStore and larder.aio.

Each function checks its arguments and returns an Rpc: which service and stub, which
method, the request, and how to read the answer. The two stores only differ in how they
make the call (blocking or awaited), so neither builds a request of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import pyarrow as pa

from ._proto.health.v1 import health_pb2, health_pb2_grpc
from ._proto.larder.ingestion.v1 import ingestion_service_pb2 as ingestion_pb2
from ._proto.larder.ingestion.v1 import ingestion_service_pb2_grpc as ingestion_grpc
from ._proto.larder.materialization.v1 import materialization_service_pb2 as mat_pb2
from ._proto.larder.materialization.v1 import materialization_service_pb2_grpc as mat_grpc
from ._proto.larder.registry.v1 import common_pb2
from ._proto.larder.registry.v1 import registry_service_pb2 as reg_pb2
from ._proto.larder.registry.v1 import registry_service_pb2_grpc as reg_grpc
from ._proto.larder.serving.v1 import online_serving_service_pb2_grpc as serving_grpc
from ._proto.larder.statistics.v1 import statistics_service_pb2 as stats_pb2
from ._proto.larder.statistics.v1 import statistics_service_pb2_grpc as stats_grpc
from .errors import InvalidArgument, RowsRejected, ValidationFailed
from .jobs import timestamp
from .validation import ValidationReport
from .values import fill_timestamps, timestamps_from_arrow, values_from_arrow


class Rpc(NamedTuple):
    """One unary call: ``unwrap(stub(channel of service).method(request))``."""

    service: str
    stub: Callable[[Any], Any]
    method: str
    request: Any
    unwrap: Callable[[Any], Any]


def _field(name: str) -> Callable[[Any], Any]:
    return lambda answer: getattr(answer, name)


def _listed(name: str) -> Callable[[Any], List[Any]]:
    return lambda answer: list(getattr(answer, name))


def _registry(method: str, request: Any, unwrap: Callable[[Any], Any]) -> Rpc:
    return Rpc("registry", reg_grpc.RegistryServiceStub, method, request, unwrap)


def _filter(name_prefix: str, tags: Optional[Mapping[str, str]]) -> common_pb2.ObjectFilter:
    return common_pb2.ObjectFilter(name_prefix=name_prefix, tags=dict(tags or {}))


# --- health and online --------------------------------------------------------------


def health(service: str) -> Rpc:
    unwrap: Callable[[Any], Any] = lambda answer: health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    return Rpc(service, health_pb2_grpc.HealthStub, "Check", health_pb2.HealthCheckRequest(service=""), unwrap)


def online(request: Any) -> Rpc:
    return Rpc("online_serving", serving_grpc.OnlineServingServiceStub, "GetOnlineFeatures", request, lambda answer: answer)


# --- registry -----------------------------------------------------------------------


def list_projects() -> Rpc:
    return _registry("ListProjects", reg_pb2.ListProjectsRequest(), _listed("projects"))


def list_entities(project: str, name_prefix: str, tags: Optional[Mapping[str, str]]) -> Rpc:
    return _registry("ListEntities", reg_pb2.ListEntitiesRequest(project=project, filter=_filter(name_prefix, tags)), _listed("entities"))


def get_entity(project: str, name: str) -> Rpc:
    return _registry("GetEntity", reg_pb2.GetEntityRequest(project=project, name=name), _field("entity"))


def list_feature_views(project: str, name_prefix: str, tags: Optional[Mapping[str, str]], entity: str) -> Rpc:
    request = reg_pb2.ListFeatureViewsRequest(project=project, filter=_filter(name_prefix, tags), entity=entity)
    return _registry("ListFeatureViews", request, _listed("feature_views"))


def get_feature_view(project: str, name: str) -> Rpc:
    return _registry("GetFeatureView", reg_pb2.GetFeatureViewRequest(project=project, name=name), _field("feature_view"))


def list_on_demand_feature_views(project: str, name_prefix: str, tags: Optional[Mapping[str, str]]) -> Rpc:
    request = reg_pb2.ListOnDemandFeatureViewsRequest(project=project, filter=_filter(name_prefix, tags))
    return _registry("ListOnDemandFeatureViews", request, _listed("on_demand_feature_views"))


def get_on_demand_feature_view(project: str, name: str) -> Rpc:
    request = reg_pb2.GetOnDemandFeatureViewRequest(project=project, name=name)
    return _registry("GetOnDemandFeatureView", request, _field("on_demand_feature_view"))


def list_feature_services(project: str, name_prefix: str, tags: Optional[Mapping[str, str]]) -> Rpc:
    request = reg_pb2.ListFeatureServicesRequest(project=project, filter=_filter(name_prefix, tags))
    return _registry("ListFeatureServices", request, _listed("feature_services"))


def get_feature_service(project: str, name: str) -> Rpc:
    return _registry("GetFeatureService", reg_pb2.GetFeatureServiceRequest(project=project, name=name), _field("feature_service"))


def list_data_sources(project: str, name_prefix: str, tags: Optional[Mapping[str, str]]) -> Rpc:
    request = reg_pb2.ListDataSourcesRequest(project=project, filter=_filter(name_prefix, tags))
    return _registry("ListDataSources", request, _listed("data_sources"))


def get_data_source(project: str, name: str) -> Rpc:
    return _registry("GetDataSource", reg_pb2.GetDataSourceRequest(project=project, name=name), _field("data_source"))


def list_saved_datasets(project: str, name_prefix: str, tags: Optional[Mapping[str, str]]) -> Rpc:
    request = reg_pb2.ListSavedDatasetsRequest(project=project, filter=_filter(name_prefix, tags))
    return _registry("ListSavedDatasets", request, _listed("saved_datasets"))


def get_saved_dataset(project: str, name: str) -> Rpc:
    return _registry("GetSavedDataset", reg_pb2.GetSavedDatasetRequest(project=project, name=name), _field("saved_dataset"))


def list_features(project: str, feature_view: str, entity: str, name_prefix: str, tags: Optional[Mapping[str, str]]) -> Rpc:
    request = reg_pb2.ListFeaturesRequest(project=project, filter=_filter(name_prefix, tags), feature_view=feature_view, entity=entity)
    return _registry("ListFeatures", request, _listed("features"))


def search(project: str, query: str, tags: Optional[Mapping[str, str]], owner: str, entity: str, limit: int, all_projects: bool) -> Rpc:
    request = reg_pb2.SearchFeaturesRequest(query=query, project="" if all_projects else project, tags=dict(tags or {}), owner=owner, entity=entity, limit=limit)
    return _registry("SearchFeatures", request, _listed("features"))


def push_timestamp_field(source: Any) -> Tuple[Optional[str], Optional[str]]:
    """(the push source's own timestamp field, else None; its batch source to ask next, else None)."""
    if source.timestamp_field:
        return str(source.timestamp_field), None
    batch = source.push.batch_source if source.WhichOneof("kind") == "push" else ""
    return None, (batch or None)


# --- materialization ----------------------------------------------------------------


def _materialization(method: str, request: Any, unwrap: Callable[[Any], Any]) -> Rpc:
    return Rpc("materialization", mat_grpc.MaterializationServiceStub, method, request, unwrap)


def materialize(project: str, start: dt.datetime, end: dt.datetime, views: Optional[Sequence[str]]) -> Rpc:
    request = mat_pb2.MaterializeRequest(project=project, feature_views=list(views or []))
    request.start_time.CopyFrom(timestamp(start, "start"))
    request.end_time.CopyFrom(timestamp(end, "end"))
    return _materialization("Materialize", request, _field("job"))


def materialize_incremental(project: str, end: dt.datetime, views: Optional[Sequence[str]]) -> Rpc:
    request = mat_pb2.MaterializeIncrementalRequest(project=project, feature_views=list(views or []))
    request.end_time.CopyFrom(timestamp(end, "end"))
    return _materialization("MaterializeIncremental", request, _field("job"))


def get_job(job_id: str) -> Rpc:
    return _materialization("GetJob", mat_pb2.GetJobRequest(job_id=job_id), _field("job"))


def list_jobs(project: str, feature_view: str, page_size: int) -> Rpc:
    return _materialization("ListJobs", mat_pb2.ListJobsRequest(project=project, feature_view=feature_view, page_size=page_size), _listed("jobs"))


def watch_job(job_id: str) -> Any:
    """WatchJob's request (a server stream, so not an Rpc)."""
    return mat_pb2.WatchJobRequest(job_id=job_id)


# --- statistics ---------------------------------------------------------------------


def _statistics(method: str, request: Any, unwrap: Callable[[Any], Any]) -> Rpc:
    return Rpc("offline_retrieval", stats_grpc.StatisticsServiceStub, method, request, unwrap)


def compute_statistics(
    project: str,
    feature_view: Optional[str],
    feature_service: Optional[str],
    saved_dataset: Optional[str],
    start: Optional[dt.datetime],
    end: Optional[dt.datetime],
    features: Optional[Sequence[str]],
    dry_run: bool,
    validate: Any = False,
    drift: bool = False,
) -> Rpc:
    mode = _VALIDATE_MODES.get(validate) if isinstance(validate, (bool, str)) else None
    if mode is None:
        raise InvalidArgument(f"validate must be False, True or 'fail', not {validate!r}")
    if drift and not mode:
        raise InvalidArgument("drift needs validate=True or 'fail': drift is measured by the schemas' drift comparators")
    scope = stats_pb2.StatisticsScope(project=project)
    given = [x for x in (feature_view, feature_service, saved_dataset) if x is not None]
    if len(given) != 1:
        raise InvalidArgument("give one of feature_view, feature_service, saved_dataset")
    time_range = stats_pb2.TimeRange()
    if start is not None:
        time_range.start.CopyFrom(timestamp(start, "start"))
    if end is not None:
        time_range.end.CopyFrom(timestamp(end, "end"))
    if feature_view is not None:
        scope.feature_view.CopyFrom(stats_pb2.FeatureViewScope(feature_view=feature_view, event_time=time_range, features=list(features or [])))
    elif feature_service is not None:
        scope.feature_service.CopyFrom(stats_pb2.FeatureServiceScope(feature_service=feature_service, event_time=time_range))
    else:
        scope.saved_dataset.CopyFrom(stats_pb2.SavedDatasetScope(saved_dataset=saved_dataset))
    request = stats_pb2.ComputeStatisticsRequest(scope=scope, dry_run=dry_run)
    if not mode:
        return _statistics("ComputeStatistics", request, _field("record"))
    request.validation.enabled = True
    request.validation.drift = drift
    return _statistics("ComputeStatistics", request, lambda answer: _validated(answer, mode == "fail"))


_VALIDATE_MODES: Dict[Any, Any] = {False: False, True: True, "fail": "fail"}


def _validated(answer: Any, fail: bool) -> ValidationReport:
    """ComputeStatistics' answer as a report; under "fail", anomalies raise (the record
    was stored first unless dry_run: what was measured stays measured)."""
    report = ValidationReport(answer.anomalies, answer.record.statistics, record=answer.record, drift_baseline_id=answer.drift_baseline_id)
    if fail and not report.ok:
        scope = answer.record.scope
        name = getattr(scope, scope.WhichOneof("kind") or "feature_view")
        what = next((getattr(name, f) for f in ("feature_view", "feature_service", "saved_dataset") if hasattr(name, f)), "")
        stored = f" (stored as {answer.record.id})" if answer.record.id else ""
        problems = "; ".join(f"{a.column}: {', '.join(a.types)} ({a.description})" for a in report.problems())
        raise ValidationFailed(f"statistics of {what!r}{stored} break its views' schemas: {problems}")
    return report


def list_statistics(project: str, object_name: str, page_size: int) -> Rpc:
    request = stats_pb2.ListStatisticsRequest(project=project, object_name=object_name, page_size=page_size)
    return _statistics("ListStatistics", request, _listed("records"))


def get_statistics(project: str, record_id: str) -> Rpc:
    return _statistics("GetStatistics", stats_pb2.GetStatisticsRequest(project=project, id=record_id), _field("record"))


# --- push ---------------------------------------------------------------------------

PUSH_MODES = {
    "online": ingestion_pb2.PUSH_MODE_ONLINE,
    "offline": ingestion_pb2.PUSH_MODE_OFFLINE,
    "both": ingestion_pb2.PUSH_MODE_ONLINE_AND_OFFLINE,
    "online_and_offline": ingestion_pb2.PUSH_MODE_ONLINE_AND_OFFLINE,
}
PUSH_BATCH_ROWS = 20_000
"""Rows per Push message: a few MiB, under ingestion's 8 MiB default message limit."""


class PushResult:
    """What a push wrote: rows written, rows skipped as older than what is stored, and
    each refused row (``{'row_index', 'column', 'reason'}``)."""

    def __init__(self, rows_written: int, rows_skipped_stale: int, failures: List[Dict[str, Any]]) -> None:
        self.rows_written = rows_written
        self.rows_skipped_stale = rows_skipped_stale
        self.failures = failures

    def __repr__(self) -> str:
        return f"PushResult(rows_written={self.rows_written}, rows_skipped_stale={self.rows_skipped_stale}, failures={len(self.failures)})"


def push_table(df: Any, to: str) -> pa.Table:
    """The rows to push as a Table, after checking ``to``."""
    if to not in PUSH_MODES:
        raise InvalidArgument(f"to must be 'online', 'offline' or 'both', not {to!r}")
    return df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)


class Push:
    """A push in PUSH_BATCH_ROWS messages: ``rpcs()`` gives each call; ``add`` each answer
    (in order); ``result`` sums them, raising RowsRejected for refused rows."""

    def __init__(self, project: str, source: str, table: pa.Table, to: str, column: str) -> None:
        if column not in table.column_names:
            raise InvalidArgument(f"the rows have no {column!r} column (each row's event time; name another with timestamp_column=)")
        self._project, self._source, self._table, self._mode, self._column = project, source, table, PUSH_MODES[to], column
        self._written = self._stale = 0
        self._failures: List[Dict[str, Any]] = []

    def rpcs(self) -> Iterator[Tuple[int, Rpc]]:
        """(first row, the call) of each message; built one at a time, as it is sent."""
        for start in range(0, max(self._table.num_rows, 1), PUSH_BATCH_ROWS):
            part = self._table.slice(start, PUSH_BATCH_ROWS)
            request = ingestion_pb2.PushRequest(project=self._project, push_source=self._source, mode=self._mode)
            for name in part.column_names:
                if name != self._column:
                    request.rows.columns[name].val.extend(values_from_arrow(part.column(name), name))
            fill_timestamps(request.rows.event_timestamps, timestamps_from_arrow(part.column(self._column), self._column))
            yield start, Rpc("ingestion", ingestion_grpc.IngestionServiceStub, "Push", request, lambda answer: answer)

    def add(self, start: int, answer: Any) -> None:
        self._written += answer.rows_written
        self._stale = max(self._stale, answer.rows_skipped_stale)
        self._failures.extend({"row_index": f.row_index + start, "column": f.column, "reason": f.reason} for f in answer.failures)

    def result(self, raise_on_failures: bool) -> PushResult:
        if self._failures and raise_on_failures:
            first = self._failures[0]
            raise RowsRejected(
                f"{len(self._failures)} row(s) refused (the others were written); row {first['row_index']}: {first['reason']}",
                self._failures,
                self._written,
            )
        return PushResult(self._written, self._stale, self._failures)
