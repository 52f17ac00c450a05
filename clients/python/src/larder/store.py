"""FeatureStore: the synchronous client over the five services."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar, Union

import grpc
import pyarrow as pa

from ._proto.health.v1 import health_pb2, health_pb2_grpc
from ._proto.larder.ingestion.v1 import ingestion_service_pb2 as ingestion_pb2
from ._proto.larder.ingestion.v1 import ingestion_service_pb2_grpc as ingestion_grpc
from ._proto.larder.materialization.v1 import materialization_service_pb2 as mat_pb2
from ._proto.larder.materialization.v1 import materialization_service_pb2_grpc as mat_grpc
from ._proto.larder.offline.v1 import offline_retrieval_service_pb2 as offline_pb2
from ._proto.larder.registry.v1 import common_pb2, discovery_pb2
from ._proto.larder.registry.v1 import registry_service_pb2 as reg_pb2
from ._proto.larder.registry.v1 import registry_service_pb2_grpc as reg_grpc
from ._proto.larder.serving.v1 import online_serving_service_pb2_grpc as serving_grpc
from ._proto.larder.statistics.v1 import statistics_service_pb2 as stats_pb2
from ._proto.larder.statistics.v1 import statistics_service_pb2_grpc as stats_grpc
from .config import PathLike, StoreConfig, TlsConfig, channel_args, resolve_config
from .errors import InvalidArgument, LarderError, RowsRejected, from_rpc_error
from .historical import EntityDf, RetrievalJob, ServerSource, entity_table, historical_query, inline_requests
from .jobs import Job, Progress, check, follow, timestamp
from .online import Columns, EntityRows, OnlineResponse, online_request
from .values import fill_timestamps, timestamps_from_arrow, values_from_arrow

T = TypeVar("T")

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


class FeatureStore:
    """A client of a running Larder store.

    Configured from a feature repo (``FeatureStore(repo_path=".")`` reads larder.yaml's
    ``project`` and ``services``), a StoreConfig, or explicit ``host:port`` addresses;
    anything not given comes from the environment (LARDER_ONLINE_SERVING, ...) and then
    from ``npm start``'s default ports. TLS: ``tls=True`` (system CAs), or a TlsConfig
    with a CA bundle, a client certificate and key, and a server name. A bearer token:
    ``token=`` or ``token_file=`` (read again when it changes), else
    LARDER_CLIENT_TOKEN_FILE or LARDER_TOKEN.
    """

    def __init__(
        self,
        repo_path: Optional[PathLike] = None,
        *,
        config: Optional[StoreConfig] = None,
        project: Optional[str] = None,
        registry: Optional[str] = None,
        online: Optional[str] = None,
        offline: Optional[str] = None,
        materialization: Optional[str] = None,
        ingestion: Optional[str] = None,
        tls: Union[TlsConfig, bool, None] = None,
        token: Optional[str] = None,
        token_file: Optional[PathLike] = None,
        timeout: Optional[float] = 60.0,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        explicit = {
            "registry": registry,
            "online_serving": online,
            "offline_retrieval": offline,
            "materialization": materialization,
            "ingestion": ingestion,
        }
        self.config = resolve_config(repo_path, config, explicit, project, tls, token, token_file, os.environ if env is None else env)
        self.timeout = timeout
        self._channels: Dict[str, grpc.Channel] = {}
        self._stubs: Dict[str, Any] = {}

    # --- plumbing -------------------------------------------------------------------

    @property
    def project(self) -> str:
        return self.config.project

    def _channel(self, service: str) -> grpc.Channel:
        channel = self._channels.get(service)
        if channel is None:
            address = self.config.address(service)
            credentials, options = channel_args(self.config)
            channel = grpc.secure_channel(address, credentials, options) if credentials is not None else grpc.insecure_channel(address, options)
            self._channels[service] = channel
        return channel

    def _stub(self, service: str, factory: Callable[[grpc.Channel], T]) -> T:
        key = f"{service}/{factory.__name__}"
        stub = self._stubs.get(key)
        if stub is None:
            stub = factory(self._channel(service))
            self._stubs[key] = stub
        return stub  # type: ignore[no-any-return]

    def _metadata(self) -> Optional[List[tuple]]:
        if self.config.token is None:
            return None
        return [("authorization", f"Bearer {self.config.token.token()}")]

    def _call(self, method: Callable[..., T], request: Any, timeout: Optional[float] = None) -> T:
        try:
            return method(request, timeout=timeout if timeout is not None else self.timeout, metadata=self._metadata())
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _stream(self, responses: Iterator[T]) -> Iterator[T]:
        try:
            yield from responses
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            cancel = getattr(responses, "cancel", None)
            if callable(cancel):
                cancel()

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        self._stubs.clear()

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self, service: str = "online_serving") -> str:
        """grpc.health.v1 status of a service's server: SERVING, NOT_SERVING, ..."""
        stub = self._stub(service, health_pb2_grpc.HealthStub)
        answer = self._call(stub.Check, health_pb2.HealthCheckRequest(service=""))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)

    # --- online ---------------------------------------------------------------------

    def get_online_features(
        self,
        features: Optional[Sequence[str]] = None,
        entity_rows: Optional[EntityRows] = None,
        *,
        feature_service: Optional[str] = None,
        columns: Optional[Columns] = None,
        request_context: Optional[Columns] = None,
        full_feature_names: bool = False,
        timeout: Optional[float] = None,
    ) -> OnlineResponse:
        """The latest values of features (``["view:feature", ...]``) or of a feature
        service, for entity rows given as ``[{"driver_id": 1001}, ...]`` (entity_rows) or
        ``{"driver_id": [1001, ...]}`` (columns). request_context holds on-demand views'
        request fields, one value per row. Output names are ``feature``, or
        ``view__feature`` with full_feature_names."""
        request = online_request(self.project, features, feature_service, entity_rows, columns, request_context, full_feature_names)
        stub = self._stub("online_serving", serving_grpc.OnlineServingServiceStub)
        return OnlineResponse(self._call(stub.GetOnlineFeatures, request, timeout))

    # --- historical -----------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: EntityDf,
        features: Optional[Sequence[str]] = None,
        *,
        feature_service: Optional[str] = None,
        full_feature_names: bool = False,
        timestamp_column: str = "event_timestamp",
        max_rows_per_chunk: int = 0,
        timeout: Optional[float] = None,
    ) -> RetrievalJob:
        """A training set: for each entity row, each feature as it was at the row's time.

        entity_df: a pandas DataFrame, a pyarrow Table or a local .parquet/.csv file (its
        rows are sent to the service), or a ServerSource (rows the engine reads itself).
        It holds the join keys, a ``timestamp_column`` (timezone-aware, or zone-less
        read as UTC) and any other columns, passed through. Returns a RetrievalJob; the
        query runs when its rows are asked for (to_df, to_arrow, to_parquet)."""
        query = historical_query(self.project, features, feature_service, full_feature_names)
        query.max_rows_per_chunk = max_rows_per_chunk
        # Responses arrive as bytes (no deserializer): larder._wire decodes each chunk
        # straight into Arrow, much faster than protobuf's per-value Python objects.
        channel = self._channel("offline_retrieval")
        metadata = self._metadata()
        if isinstance(entity_df, ServerSource):
            request = offline_pb2.GetHistoricalFeaturesFromSourceRequest(query=query, entity_source=entity_df.to_proto())
            from_source = channel.unary_stream(
                "/larder.offline.v1.OfflineRetrievalService/GetHistoricalFeaturesFromSource",
                request_serializer=offline_pb2.GetHistoricalFeaturesFromSourceRequest.SerializeToString,
                response_deserializer=None,
            )
            return RetrievalJob(lambda: self._stream(from_source(request, timeout=timeout, metadata=metadata)))
        messages = inline_requests(query, entity_table(entity_df), timestamp_column)
        inline = channel.stream_stream(
            "/larder.offline.v1.OfflineRetrievalService/GetHistoricalFeatures",
            request_serializer=offline_pb2.GetHistoricalFeaturesRequest.SerializeToString,
            response_deserializer=None,
        )
        return RetrievalJob(lambda: self._stream(inline(iter(messages), timeout=timeout, metadata=metadata)))

    # --- push -----------------------------------------------------------------------

    def push(
        self,
        source: str,
        df: Any,
        to: str = "online",
        *,
        timestamp_column: Optional[str] = None,
        raise_on_failures: bool = True,
        timeout: Optional[float] = None,
    ) -> PushResult:
        """Pushes rows (a pandas DataFrame or pyarrow Table) through a push source to the
        views that use it: ``to`` is "online", "offline" or "both". Each row's event time
        is the column named timestamp_column, by default the source's timestamp field
        (else its batch source's, else ``event_timestamp``). Rows the service refuses
        (a wrong type, a time too far ahead) raise RowsRejected naming each, after the
        other rows were written; raise_on_failures=False returns them in the result."""
        mode = PUSH_MODES.get(to)
        if mode is None:
            raise InvalidArgument(f"to must be 'online', 'offline' or 'both', not {to!r}")
        table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
        column = timestamp_column or self._push_timestamp_column(source, table)
        if column not in table.column_names:
            raise InvalidArgument(f"the rows have no {column!r} column (each row's event time; name another with timestamp_column=)")
        stub = self._stub("ingestion", ingestion_grpc.IngestionServiceStub)
        written = stale = 0
        failures: List[Dict[str, Any]] = []
        for start in range(0, max(table.num_rows, 1), PUSH_BATCH_ROWS):
            part = table.slice(start, PUSH_BATCH_ROWS)
            request = ingestion_pb2.PushRequest(project=self.project, push_source=source, mode=mode)
            for name in part.column_names:
                if name != column:
                    request.rows.columns[name].val.extend(values_from_arrow(part.column(name), name))
            fill_timestamps(request.rows.event_timestamps, timestamps_from_arrow(part.column(column), column))
            answer = self._call(stub.Push, request, timeout)
            written += answer.rows_written
            stale = max(stale, answer.rows_skipped_stale)
            failures.extend({"row_index": f.row_index + start, "column": f.column, "reason": f.reason} for f in answer.failures)
        if failures and raise_on_failures:
            first = failures[0]
            raise RowsRejected(
                f"{len(failures)} row(s) refused (the others were written); row {first['row_index']}: {first['reason']}",
                failures,
                written,
            )
        return PushResult(written, stale, failures)

    def _push_timestamp_column(self, source: str, table: pa.Table) -> str:
        try:
            found = self.get_data_source(source)
        except LarderError:
            found = None
        if found is not None:
            if found.timestamp_field:
                return found.timestamp_field
            batch = found.push.batch_source if found.WhichOneof("kind") == "push" else ""
            if batch:
                try:
                    batch_source = self.get_data_source(batch)
                    if batch_source.timestamp_field:
                        return batch_source.timestamp_field
                except LarderError:
                    pass
        return "event_timestamp"

    # --- materialization ------------------------------------------------------------

    def materialize(
        self,
        start: dt.datetime,
        end: dt.datetime,
        views: Optional[Sequence[str]] = None,
        *,
        wait: bool = True,
        progress: Optional[bool] = None,
    ) -> Job:
        """Writes the latest row per entity key in [start, end] of each view (all online
        views when views is None) to the online store. start and end must be
        timezone-aware. With wait (the default) follows the job to its end, with a tqdm
        bar when tqdm is installed (progress=False hides it), and raises JobFailed if it
        fails; returns the job (``larder.Job``: state, views with rows read/written)."""
        request = mat_pb2.MaterializeRequest(project=self.project, feature_views=list(views or []))
        request.start_time.CopyFrom(timestamp(start, "start"))
        request.end_time.CopyFrom(timestamp(end, "end"))
        stub = self._stub("materialization", mat_grpc.MaterializationServiceStub)
        job = self._call(stub.Materialize, request).job
        return self._finish(job, wait, progress)

    def materialize_incremental(
        self,
        end: dt.datetime,
        views: Optional[Sequence[str]] = None,
        *,
        wait: bool = True,
        progress: Optional[bool] = None,
    ) -> Job:
        """Materializes each view from its watermark (or end - ttl the first time) to end."""
        request = mat_pb2.MaterializeIncrementalRequest(project=self.project, feature_views=list(views or []))
        request.end_time.CopyFrom(timestamp(end, "end"))
        stub = self._stub("materialization", mat_grpc.MaterializationServiceStub)
        job = self._call(stub.MaterializeIncremental, request).job
        return self._finish(job, wait, progress)

    def _finish(self, job: Job, wait: bool, progress: Optional[bool]) -> Job:
        if not wait:
            return job
        stub = self._stub("materialization", mat_grpc.MaterializationServiceStub)
        from .jobs import TERMINAL

        if job.state not in TERMINAL:
            updates = self._stream(stub.WatchJob(mat_pb2.WatchJobRequest(job_id=job.id), metadata=self._metadata()))
            job = follow(job, updates, Progress(progress))
            if job.state not in TERMINAL:
                job = self.get_job(job.id)
        return check(job)

    def get_job(self, job_id: str) -> Job:
        stub = self._stub("materialization", mat_grpc.MaterializationServiceStub)
        return self._call(stub.GetJob, mat_pb2.GetJobRequest(job_id=job_id)).job

    def list_jobs(self, feature_view: str = "", page_size: int = 100) -> List[Job]:
        stub = self._stub("materialization", mat_grpc.MaterializationServiceStub)
        request = mat_pb2.ListJobsRequest(project=self.project, feature_view=feature_view, page_size=page_size)
        return list(self._call(stub.ListJobs, request).jobs)

    # --- registry -------------------------------------------------------------------

    def _registry(self) -> reg_grpc.RegistryServiceStub:
        return self._stub("registry", reg_grpc.RegistryServiceStub)

    def _filter(self, name_prefix: str, tags: Optional[Mapping[str, str]]) -> common_pb2.ObjectFilter:
        return common_pb2.ObjectFilter(name_prefix=name_prefix, tags=dict(tags or {}))

    def list_projects(self) -> List[Any]:
        return list(self._call(self._registry().ListProjects, reg_pb2.ListProjectsRequest()).projects)

    def list_entities(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        request = reg_pb2.ListEntitiesRequest(project=self.project, filter=self._filter(name_prefix, tags))
        return list(self._call(self._registry().ListEntities, request).entities)

    def get_entity(self, name: str) -> Any:
        return self._call(self._registry().GetEntity, reg_pb2.GetEntityRequest(project=self.project, name=name)).entity

    def list_feature_views(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None, entity: str = "") -> List[Any]:
        request = reg_pb2.ListFeatureViewsRequest(project=self.project, filter=self._filter(name_prefix, tags), entity=entity)
        return list(self._call(self._registry().ListFeatureViews, request).feature_views)

    def get_feature_view(self, name: str) -> Any:
        return self._call(self._registry().GetFeatureView, reg_pb2.GetFeatureViewRequest(project=self.project, name=name)).feature_view

    def list_on_demand_feature_views(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        request = reg_pb2.ListOnDemandFeatureViewsRequest(project=self.project, filter=self._filter(name_prefix, tags))
        return list(self._call(self._registry().ListOnDemandFeatureViews, request).on_demand_feature_views)

    def get_on_demand_feature_view(self, name: str) -> Any:
        request = reg_pb2.GetOnDemandFeatureViewRequest(project=self.project, name=name)
        return self._call(self._registry().GetOnDemandFeatureView, request).on_demand_feature_view

    def list_feature_services(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        request = reg_pb2.ListFeatureServicesRequest(project=self.project, filter=self._filter(name_prefix, tags))
        return list(self._call(self._registry().ListFeatureServices, request).feature_services)

    def get_feature_service(self, name: str) -> Any:
        request = reg_pb2.GetFeatureServiceRequest(project=self.project, name=name)
        return self._call(self._registry().GetFeatureService, request).feature_service

    def list_data_sources(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        request = reg_pb2.ListDataSourcesRequest(project=self.project, filter=self._filter(name_prefix, tags))
        return list(self._call(self._registry().ListDataSources, request).data_sources)

    def get_data_source(self, name: str) -> Any:
        return self._call(self._registry().GetDataSource, reg_pb2.GetDataSourceRequest(project=self.project, name=name)).data_source

    def list_saved_datasets(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        request = reg_pb2.ListSavedDatasetsRequest(project=self.project, filter=self._filter(name_prefix, tags))
        return list(self._call(self._registry().ListSavedDatasets, request).saved_datasets)

    def get_saved_dataset(self, name: str) -> Any:
        request = reg_pb2.GetSavedDatasetRequest(project=self.project, name=name)
        return self._call(self._registry().GetSavedDataset, request).saved_dataset

    def list_features(self, feature_view: str = "", entity: str = "", name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        """Every feature (``FeatureInfo``: project, view, name, type, tags, entities...)."""
        request = reg_pb2.ListFeaturesRequest(project=self.project, filter=self._filter(name_prefix, tags), feature_view=feature_view, entity=entity)
        return list(self._call(self._registry().ListFeatures, request).features)

    def search(
        self,
        query: str = "",
        *,
        tags: Optional[Mapping[str, str]] = None,
        owner: str = "",
        entity: str = "",
        limit: int = 0,
        all_projects: bool = False,
    ) -> List[Any]:
        """Features matching free text (every word must match a name, description or
        tag), best first; narrowed by tags, owner and entity. This project only, unless
        all_projects."""
        request = reg_pb2.SearchFeaturesRequest(
            query=query, project="" if all_projects else self.project, tags=dict(tags or {}), owner=owner, entity=entity, limit=limit
        )
        return list(self._call(self._registry().SearchFeatures, request).features)

    # --- statistics -----------------------------------------------------------------

    def compute_statistics(
        self,
        *,
        feature_view: Optional[str] = None,
        feature_service: Optional[str] = None,
        saved_dataset: Optional[str] = None,
        start: Optional[dt.datetime] = None,
        end: Optional[dt.datetime] = None,
        features: Optional[Sequence[str]] = None,
        dry_run: bool = False,
        timeout: Optional[float] = None,
    ) -> Any:
        """TFDV-compatible statistics computed in the offline engine, stored (unless
        dry_run) and returned as a StatisticsRecord; ``.statistics`` is TFDV's
        DatasetFeatureStatisticsList. One scope: a feature view (optionally some
        features) or a feature service over an event-time range, or a saved dataset."""
        scope = stats_pb2.StatisticsScope(project=self.project)
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
        stub = self._stub("offline_retrieval", stats_grpc.StatisticsServiceStub)
        return self._call(stub.ComputeStatistics, stats_pb2.ComputeStatisticsRequest(scope=scope, dry_run=dry_run), timeout).record

    def list_statistics(self, object_name: str = "", page_size: int = 100) -> List[Any]:
        stub = self._stub("offline_retrieval", stats_grpc.StatisticsServiceStub)
        request = stats_pb2.ListStatisticsRequest(project=self.project, object_name=object_name, page_size=page_size)
        return list(self._call(stub.ListStatistics, request).records)

    def get_statistics(self, record_id: str) -> Any:
        stub = self._stub("offline_retrieval", stats_grpc.StatisticsServiceStub)
        return self._call(stub.GetStatistics, stats_pb2.GetStatisticsRequest(project=self.project, id=record_id)).record


__all__ = ["FeatureStore", "PushResult", "discovery_pb2"]
