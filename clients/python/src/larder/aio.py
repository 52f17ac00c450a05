"""asyncio client (grpc.aio) for model servers and async pipelines.

Same configuration, requests, results and errors as larder.FeatureStore: the requests are
built by the same code (larder._requests, larder.historical) and training sets are
decoded by the same reader; only the calls are awaited. Create the store inside the
running event loop (grpc.aio channels belong to the loop they were made in) and
``await store.close()`` (or ``async with``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any, AsyncIterator, Callable, Dict, List, Mapping, Optional, Sequence, Union

import grpc
import grpc.aio

from . import _requests as rq
from ._proto.larder.materialization.v1 import materialization_service_pb2_grpc as mat_grpc
from ._requests import PushResult, Rpc
from .config import PathLike, StoreConfig, TlsConfig, channel_args, resolve_config
from .errors import LarderError, from_rpc_error
from .historical import AsyncRetrievalJob, Destination, EntityDf, historical_call
from .jobs import TERMINAL, Following, Job, Progress, check
from .online import Columns, EntityRows, OnlineResponse, online_request


class FeatureStore:
    """The asyncio twin of larder.FeatureStore: the same methods, awaited."""

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
        timeout: Optional[float] = 10.0,
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
        self._channels: Dict[str, grpc.aio.Channel] = {}
        self._stubs: Dict[str, Any] = {}
        self._sync_channel: Optional[grpc.Channel] = None

    # --- plumbing -------------------------------------------------------------------

    @property
    def project(self) -> str:
        return self.config.project

    def _channel(self, service: str) -> grpc.aio.Channel:
        channel = self._channels.get(service)
        if channel is None:
            credentials, options = channel_args(self.config)
            address = self.config.address(service)
            channel = grpc.aio.secure_channel(address, credentials, options) if credentials is not None else grpc.aio.insecure_channel(address, options)
            self._channels[service] = channel
        return channel

    def _stub(self, service: str, factory: Callable[[Any], Any]) -> Any:
        key = f"{service}/{factory.__name__}"
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = factory(self._channel(service))
        return stub

    def _metadata(self) -> Optional[List[tuple]]:
        if self.config.token is None:
            return None
        return [("authorization", f"Bearer {self.config.token.token()}")]

    async def _call(self, method: Any, request: Any, timeout: Optional[float]) -> Any:
        try:
            return await method(request, timeout=timeout if timeout is not None else self.timeout, metadata=self._metadata())
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    async def _invoke(self, rpc: Rpc, timeout: Optional[float] = None) -> Any:
        """One unary call built by larder._requests, awaited."""
        return rpc.unwrap(await self._call(getattr(self._stub(rpc.service, rpc.stub), rpc.method), rpc.request, timeout))

    async def _stream(self, call: Any) -> AsyncIterator[Any]:
        try:
            async for message in call:
                yield message
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    async def _stream_in_thread(self, method: str, serializer: Callable[[Any], bytes], requests: Sequence[Any], timeout: Optional[float]) -> AsyncIterator[Any]:
        """The bidirectional training-set call, made on a blocking channel and read from a
        worker thread. grpc.aio loses a server's early status on such a call: a write
        that meets the closed stream replaces it with INTERNAL "Internal error from
        Core" (grpc/grpc#36066), so an unknown feature would not come back as
        InvalidArgument. The blocking stack keeps the status; the bytes it yields are
        decoded here, by the same reader as every other training set."""
        channel = self._sync_channel
        if channel is None:
            credentials, options = channel_args(self.config)
            address = self.config.address("offline_retrieval")
            channel = self._sync_channel = grpc.secure_channel(address, credentials, options) if credentials is not None else grpc.insecure_channel(address, options)
        rpc = channel.stream_stream(method, request_serializer=serializer, response_deserializer=None)
        responses = rpc(iter(requests), timeout=timeout, metadata=self._metadata())
        loop = asyncio.get_running_loop()
        end = object()
        try:
            while True:
                raw = await loop.run_in_executor(None, next, responses, end)
                if raw is end:
                    return
                yield raw
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            responses.cancel()

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        self._stubs.clear()
        if self._sync_channel is not None:
            self._sync_channel.close()
            self._sync_channel = None

    async def __aenter__(self) -> "FeatureStore":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def health(self, service: str = "online_serving") -> str:
        return str(await self._invoke(rq.health(service)))

    # --- online and push ------------------------------------------------------------

    async def get_online_features(
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
        """As larder.FeatureStore.get_online_features."""
        request = online_request(self.project, features, feature_service, entity_rows, columns, request_context, full_feature_names)
        return OnlineResponse(await self._invoke(rq.online(request), timeout))

    async def push(
        self,
        source: str,
        df: Any,
        to: str = "online",
        *,
        timestamp_column: Optional[str] = None,
        raise_on_failures: bool = True,
        timeout: Optional[float] = None,
    ) -> PushResult:
        """As larder.FeatureStore.push."""
        table = rq.push_table(df, to)
        push = rq.Push(self.project, source, table, to, timestamp_column or await self._push_timestamp_column(source))
        for start, rpc in push.rpcs():
            push.add(start, await self._invoke(rpc, timeout))
        return push.result(raise_on_failures)

    async def _push_timestamp_column(self, source: str) -> str:
        name: Optional[str] = source
        while name is not None:
            try:
                field, name = rq.push_timestamp_field(await self.get_data_source(name))
            except LarderError:  # the registry is optional here: fall back to the default name
                break
            if field is not None:
                return field
        return "event_timestamp"

    # --- training sets --------------------------------------------------------------

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
    ) -> AsyncRetrievalJob:
        """As larder.FeatureStore.get_historical_features; the job's methods are awaited
        (``await job.to_df()``, ``async for batch in job.iter_batches()``)."""
        call = historical_call(self.project, entity_df, features, feature_service, full_feature_names, timestamp_column, max_rows_per_chunk, validate, destination, result_format)

        def start() -> AsyncIterator[Any]:
            # Bytes in (no deserializer): larder._wire decodes the chunks, as in the sync store.
            if call.streaming:
                return self._stream_in_thread(call.method, call.serializer, call.request, timeout)
            unary = self._channel("offline_retrieval").unary_stream(call.method, request_serializer=call.serializer, response_deserializer=None)
            return self._stream(unary(call.request, timeout=timeout, metadata=self._metadata()))

        return AsyncRetrievalJob(start, call.rows_back, call.validate, call.destination)

    # --- materialization ------------------------------------------------------------

    async def materialize(
        self,
        start: dt.datetime,
        end: dt.datetime,
        views: Optional[Sequence[str]] = None,
        *,
        wait: bool = True,
        progress: Optional[bool] = None,
    ) -> Job:
        """As larder.FeatureStore.materialize: follows the job (WatchJob) unless wait=False."""
        return await self._finish(await self._invoke(rq.materialize(self.project, start, end, views)), wait, progress)

    async def materialize_incremental(
        self,
        end: dt.datetime,
        views: Optional[Sequence[str]] = None,
        *,
        wait: bool = True,
        progress: Optional[bool] = None,
    ) -> Job:
        """As larder.FeatureStore.materialize_incremental."""
        return await self._finish(await self._invoke(rq.materialize_incremental(self.project, end, views)), wait, progress)

    async def _finish(self, job: Job, wait: bool, progress: Optional[bool]) -> Job:
        if not wait:
            return job
        if job.state not in TERMINAL:
            stub = self._stub("materialization", mat_grpc.MaterializationServiceStub)
            following = Following(job, Progress(progress))
            try:
                async for message in self._stream(stub.WatchJob(rq.watch_job(job.id), metadata=self._metadata())):
                    if following.see(message):
                        break
            finally:
                following.close()
            job = following.job
            if job.state not in TERMINAL:
                job = await self.get_job(job.id)
        return check(job)

    async def get_job(self, job_id: str) -> Job:
        return await self._invoke(rq.get_job(job_id))  # type: ignore[no-any-return]

    async def list_jobs(self, feature_view: str = "", page_size: int = 100) -> List[Job]:
        return await self._invoke(rq.list_jobs(self.project, feature_view, page_size))  # type: ignore[no-any-return]

    # --- registry -------------------------------------------------------------------

    async def list_projects(self) -> List[Any]:
        return await self._invoke(rq.list_projects())  # type: ignore[no-any-return]

    async def list_entities(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return await self._invoke(rq.list_entities(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    async def get_entity(self, name: str) -> Any:
        return await self._invoke(rq.get_entity(self.project, name))

    async def list_feature_views(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None, entity: str = "") -> List[Any]:
        return await self._invoke(rq.list_feature_views(self.project, name_prefix, tags, entity))  # type: ignore[no-any-return]

    async def get_feature_view(self, name: str) -> Any:
        return await self._invoke(rq.get_feature_view(self.project, name))

    async def list_on_demand_feature_views(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return await self._invoke(rq.list_on_demand_feature_views(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    async def get_on_demand_feature_view(self, name: str) -> Any:
        return await self._invoke(rq.get_on_demand_feature_view(self.project, name))

    async def list_feature_services(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return await self._invoke(rq.list_feature_services(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    async def get_feature_service(self, name: str) -> Any:
        return await self._invoke(rq.get_feature_service(self.project, name))

    async def list_data_sources(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return await self._invoke(rq.list_data_sources(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    async def get_data_source(self, name: str) -> Any:
        return await self._invoke(rq.get_data_source(self.project, name))

    async def list_saved_datasets(self, name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return await self._invoke(rq.list_saved_datasets(self.project, name_prefix, tags))  # type: ignore[no-any-return]

    async def get_saved_dataset(self, name: str) -> Any:
        return await self._invoke(rq.get_saved_dataset(self.project, name))

    async def list_features(self, feature_view: str = "", entity: str = "", name_prefix: str = "", tags: Optional[Mapping[str, str]] = None) -> List[Any]:
        return await self._invoke(rq.list_features(self.project, feature_view, entity, name_prefix, tags))  # type: ignore[no-any-return]

    async def search(
        self,
        query: str = "",
        *,
        tags: Optional[Mapping[str, str]] = None,
        owner: str = "",
        entity: str = "",
        limit: int = 0,
        all_projects: bool = False,
    ) -> List[Any]:
        """As larder.FeatureStore.search."""
        return await self._invoke(rq.search(self.project, query, tags, owner, entity, limit, all_projects))  # type: ignore[no-any-return]

    # --- statistics -----------------------------------------------------------------

    async def compute_statistics(
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
        """As larder.FeatureStore.compute_statistics: a StatisticsRecord, or with validate a
        larder.ValidationReport (validate="fail" raises larder.ValidationFailed)."""
        rpc = rq.compute_statistics(self.project, feature_view, feature_service, saved_dataset, start, end, features, dry_run, validate, drift)
        return await self._invoke(rpc, timeout)

    async def list_statistics(self, object_name: str = "", page_size: int = 100) -> List[Any]:
        return await self._invoke(rq.list_statistics(self.project, object_name, page_size))  # type: ignore[no-any-return]

    async def get_statistics(self, record_id: str) -> Any:
        return await self._invoke(rq.get_statistics(self.project, record_id))


__all__ = ["AsyncRetrievalJob", "FeatureStore"]
