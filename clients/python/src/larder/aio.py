"""asyncio client for model servers (grpc.aio): online reads and push.

Same configuration and errors as larder.FeatureStore; create it inside the running event
loop (grpc.aio channels belong to the loop they were made in) and ``await store.close()``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import grpc
import grpc.aio
import pyarrow as pa

from ._proto.health.v1 import health_pb2, health_pb2_grpc
from ._proto.larder.ingestion.v1 import ingestion_service_pb2 as ingestion_pb2
from ._proto.larder.ingestion.v1 import ingestion_service_pb2_grpc as ingestion_grpc
from ._proto.larder.registry.v1 import registry_service_pb2 as reg_pb2
from ._proto.larder.registry.v1 import registry_service_pb2_grpc as reg_grpc
from ._proto.larder.serving.v1 import online_serving_service_pb2_grpc as serving_grpc
from .config import PathLike, StoreConfig, TlsConfig, channel_args, resolve_config
from .errors import InvalidArgument, RowsRejected, from_rpc_error
from .online import Columns, EntityRows, OnlineResponse, online_request
from .store import PUSH_BATCH_ROWS, PUSH_MODES, PushResult
from .values import fill_timestamps, timestamps_from_arrow, values_from_arrow


class FeatureStore:
    """The asyncio twin of larder.FeatureStore for online reads and pushes."""

    def __init__(
        self,
        repo_path: Optional[PathLike] = None,
        *,
        config: Optional[StoreConfig] = None,
        project: Optional[str] = None,
        registry: Optional[str] = None,
        online: Optional[str] = None,
        ingestion: Optional[str] = None,
        tls: Union[TlsConfig, bool, None] = None,
        token: Optional[str] = None,
        token_file: Optional[PathLike] = None,
        timeout: Optional[float] = 10.0,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        explicit = {"registry": registry, "online_serving": online, "ingestion": ingestion}
        self.config = resolve_config(repo_path, config, explicit, project, tls, token, token_file, os.environ if env is None else env)
        self.timeout = timeout
        self._channels: Dict[str, grpc.aio.Channel] = {}

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

    def _metadata(self) -> Optional[List[tuple]]:
        if self.config.token is None:
            return None
        return [("authorization", f"Bearer {self.config.token.token()}")]

    async def _call(self, method: Any, request: Any, timeout: Optional[float]) -> Any:
        try:
            return await method(request, timeout=timeout if timeout is not None else self.timeout, metadata=self._metadata())
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()

    async def __aenter__(self) -> "FeatureStore":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def health(self, service: str = "online_serving") -> str:
        stub = health_pb2_grpc.HealthStub(self._channel(service))
        answer = await self._call(stub.Check, health_pb2.HealthCheckRequest(service=""), None)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)

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
        stub = serving_grpc.OnlineServingServiceStub(self._channel("online_serving"))
        return OnlineResponse(await self._call(stub.GetOnlineFeatures, request, timeout))

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
        mode = PUSH_MODES.get(to)
        if mode is None:
            raise InvalidArgument(f"to must be 'online', 'offline' or 'both', not {to!r}")
        table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
        column = timestamp_column or await self._push_timestamp_column(source)
        if column not in table.column_names:
            raise InvalidArgument(f"the rows have no {column!r} column (each row's event time; name another with timestamp_column=)")
        stub = ingestion_grpc.IngestionServiceStub(self._channel("ingestion"))
        written = stale = 0
        failures: List[Dict[str, Any]] = []
        for start in range(0, max(table.num_rows, 1), PUSH_BATCH_ROWS):
            part = table.slice(start, PUSH_BATCH_ROWS)
            request = ingestion_pb2.PushRequest(project=self.project, push_source=source, mode=mode)
            for name in part.column_names:
                if name != column:
                    request.rows.columns[name].val.extend(values_from_arrow(part.column(name), name))
            fill_timestamps(request.rows.event_timestamps, timestamps_from_arrow(part.column(column), column))
            answer = await self._call(stub.Push, request, timeout)
            written += answer.rows_written
            stale = max(stale, answer.rows_skipped_stale)
            failures.extend({"row_index": f.row_index + start, "column": f.column, "reason": f.reason} for f in answer.failures)
        if failures and raise_on_failures:
            first = failures[0]
            raise RowsRejected(f"{len(failures)} row(s) refused (the others were written); row {first['row_index']}: {first['reason']}", failures, written)
        return PushResult(written, stale, failures)

    async def _push_timestamp_column(self, source: str) -> str:
        stub = reg_grpc.RegistryServiceStub(self._channel("registry"))
        try:
            found = (await self._call(stub.GetDataSource, reg_pb2.GetDataSourceRequest(project=self.project, name=source), None)).data_source
        except Exception:  # the registry is optional here: fall back to the default name
            return "event_timestamp"
        if found.timestamp_field:
            return str(found.timestamp_field)
        if found.WhichOneof("kind") == "push" and found.push.batch_source:
            try:
                batch = (await self._call(stub.GetDataSource, reg_pb2.GetDataSourceRequest(project=self.project, name=found.push.batch_source), None)).data_source
                if batch.timestamp_field:
                    return str(batch.timestamp_field)
            except Exception:
                pass
        return "event_timestamp"
