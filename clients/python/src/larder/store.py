"""FeatureStore: the synchronous client over the five services."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar, Union

import grpc

from . import _requests as rq
from ._proto.larder.materialization.v1 import materialization_service_pb2_grpc as mat_grpc
from ._proto.larder.registry.v1 import discovery_pb2
from ._requests import PUSH_BATCH_ROWS, PUSH_MODES, PushResult, Rpc
from .config import PathLike, StoreConfig, TlsConfig, channel_args, resolve_config
from .errors import LarderError, from_rpc_error
from .historical import Destination, EntityDf, RetrievalJob, historical_call
from .jobs import TERMINAL, Job, Progress, check, follow
from .online import Columns, EntityRows, OnlineResponse, online_request

T = TypeVar("T")


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

    def _invoke(self, rpc: Rpc, timeout: Optional[float] = None) -> Any:
        """One unary call built by larder._requests."""
        return rpc.unwrap(self._call(getattr(self._stub(rpc.service, rpc.stub), rpc.method), rpc.request, timeout))

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
        return str(self._invoke(rq.health(service)))

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
        return OnlineResponse(self._invoke(rq.online(request), timeout))

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
        result_format: str = "parquet",
        destination: Optional[Destination] = None,
        validate: Union[bool, str] = False,
        timeout: Optional[float] = None,
    ) -> RetrievalJob:
        """A training set: for each entity row, each feature as it was at the row's time.

        entity_df: a pandas DataFrame, a pyarrow Table or a local .parquet/.csv file (its
        rows are sent to the service), or a ServerSource (rows the engine reads itself).
        It holds the join keys, a ``timestamp_column`` (timezone-aware, or zone-less
        read as UTC) and any other columns, passed through. Returns a RetrievalJob; the
        query runs when its rows are asked for (to_df, to_arrow, to_parquet, run).

        destination (a larder.Destination) has the engine write the set itself (and
        register a saved dataset). validate=True checks the written set's statistics
        against its views' TFDV schemas (job.validation, after it ran); validate="fail"
        makes a broken schema raise larder.ValidationFailed. Both need a destination.

        result_format="parquet" (the default) has the engine send its rows as Parquet
        files, read straight into Arrow; "values" asks for value chunks (the service
        answers with those anyway where it cannot write Parquet)."""
        call = historical_call(self.project, entity_df, features, feature_service, full_feature_names, timestamp_column, max_rows_per_chunk, validate, destination, result_format)
        # Responses arrive as bytes (no deserializer): larder._wire decodes each chunk
        # straight into Arrow, much faster than protobuf's per-value Python objects.
        channel = self._channel("offline_retrieval")
        metadata = self._metadata()
        if call.streaming:
            rpc = channel.stream_stream(call.method, request_serializer=call.serializer, response_deserializer=None)
            start: Callable[[], Iterator[Any]] = lambda: self._stream(rpc(iter(call.request), timeout=timeout, metadata=metadata))
        else:
            unary = channel.unary_stream(call.method, request_serializer=call.serializer, response_deserializer=None)
            start = lambda: self._stream(unary(call.request, timeout=timeout, metadata=metadata))
        return RetrievalJob(start, call.rows_back, call.validate, call.destination)

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
        table = rq.push_table(df, to)
        push = rq.Push(self.project, source, table, to, timestamp_column or self._push_timestamp_column(source))
        for start, rpc in push.rpcs():
            push.add(start, self._invoke(rpc, timeout))
        return push.result(raise_on_failures)

    def _push_timestamp_column(self, source: str) -> str:
        name: Optional[str] = source
        while name is not None:
            try:
                field, name = rq.push_timestamp_field(self.get_data_source(name))
            except LarderError:  # the registry is optional here: fall back to the default name
                break
            if field is not None:
                return field
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
        return self._finish(self._invoke(rq.materialize(self.project, start, end, views)), wait, progress)

    def materialize_incremental(
        self,
        end: dt.datetime,
        views: Optional[Sequence[str]] = None,
        *,
        wait: bool = True,
        progress: Optional[bool] = None,
    ) -> Job:
        """Materializes each view from its watermark (or end - ttl the first time) to end."""
        return self._finish(self._invoke(rq.materialize_incremental(self.project, end, views)), wait, progress)

    def _finish(self, job: Job, wait: bool, progress: Optional[bool]) -> Job:
        if not wait:
            return job
        if job.state not in TERMINAL:
            stub = self._stub("materialization", mat_grpc.MaterializationServiceStub)
            updates = self._stream(stub.WatchJob(rq.watch_job(job.id), metadata=self._metadata()))
            job = follow(job, updates, Progress(progress))
            if job.state not in TERMINAL:
                job = self.get_job(job.id)
        return check(job)

    def get_job(self, job_id: str) -> Job:
        return self._invoke(rq.get_job(job_id))  # type: ignore[no-any-return]

    def list_jobs(self, feature_view: str = "", page_size: int = 100) -> List[Job]:
        return self._invoke(rq.list_jobs(self.project, feature_view, page_size))  # type: ignore[no-any-return]

    # --- registry -------------------------------------------------------------------

    def list_projects(self) -> List[Any]:
        return self._invoke(rq.list_projects())  # type: ignore[no-any-return]

    def list_entities(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return self._invoke(rq.list_entities(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    def get_entity(self, name: str) -> Any:
        return self._invoke(rq.get_entity(self.project, name))

    def list_feature_views(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None, entity: str = "") -> List[Any]:
        return self._invoke(rq.list_feature_views(self.project, name_prefix, tags, entity))  # type: ignore[no-any-return]

    def get_feature_view(self, name: str) -> Any:
        return self._invoke(rq.get_feature_view(self.project, name))

    def list_on_demand_feature_views(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return self._invoke(rq.list_on_demand_feature_views(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    def get_on_demand_feature_view(self, name: str) -> Any:
        return self._invoke(rq.get_on_demand_feature_view(self.project, name))

    def list_feature_services(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return self._invoke(rq.list_feature_services(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    def get_feature_service(self, name: str) -> Any:
        return self._invoke(rq.get_feature_service(self.project, name))

    def list_data_sources(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return self._invoke(rq.list_data_sources(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    def get_data_source(self, name: str) -> Any:
        return self._invoke(rq.get_data_source(self.project, name))

    def list_saved_datasets(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return self._invoke(rq.list_saved_datasets(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    def get_saved_dataset(self, name: str) -> Any:
        return self._invoke(rq.get_saved_dataset(self.project, name))

    def list_features(self, feature_view: str = "", entity: str = "", name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        """Every feature (``FeatureInfo``: project, view, name, type, tags, entities...)."""
        return self._invoke(rq.list_features(self.project, feature_view, entity, name_prefix, tags))  # type: ignore[no-any-return]

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
        return self._invoke(rq.search(self.project, query, tags, owner, entity, limit, all_projects))  # type: ignore[no-any-return]

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
        validate: Union[bool, str] = False,
        drift: bool = False,
        timeout: Optional[float] = None,
    ) -> Any:
        """TFDV-compatible statistics computed in the offline engine, stored (unless
        dry_run) and returned as a StatisticsRecord; ``.statistics`` is TFDV's
        DatasetFeatureStatisticsList. One scope: a feature view (optionally some
        features) or a feature service over an event-time range, or a saved dataset.

        validate=True checks them against the TFDV schema of each view the scope covers
        (a feature service's features named ``view__feature``) and returns a
        larder.ValidationReport instead: ``.anomalies`` (TFDV's Anomalies),
        ``.record``, ``.ok``, ``.by_column()``. validate="fail" raises
        larder.ValidationFailed on an anomaly. drift=True also compares with the previous
        stored span of the same scope (the schemas' drift comparators). A view without a
        schema raises FailedPrecondition; a saved dataset cannot be validated here."""
        rpc = rq.compute_statistics(self.project, feature_view, feature_service, saved_dataset, start, end, features, dry_run, validate, drift)
        return self._invoke(rpc, timeout)

    def list_statistics(self, object_name: str = "", page_size: int = 100) -> List[Any]:
        return self._invoke(rq.list_statistics(self.project, object_name, page_size))  # type: ignore[no-any-return]

    def get_statistics(self, record_id: str) -> Any:
        return self._invoke(rq.get_statistics(self.project, record_id))


__all__ = ["FeatureStore", "PushResult", "PUSH_BATCH_ROWS", "PUSH_MODES", "discovery_pb2"]
