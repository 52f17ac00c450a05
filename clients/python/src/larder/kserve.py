"""A KServe transformer that adds Larder's online features to inference requests
(``pip install 'larder[kserve]'``).

A request carries entity keys; the transformer reads the features of all its rows from
online serving in one batched call (``larder.aio``) and forwards the feature tensor to
the predictor. Requests come in over REST (v1 or v2) or gRPC (v2, KServe's
``GRPCInferenceService/ModelInfer``):

- v1: ``{"instances": [{"driver_id": 1001}, ...]}`` -> ``{"instances": [[f1, f2, ...], ...]}``
  sent to ``/v1/models/<name>:predict``;
- v2 / Open Inference Protocol (REST or gRPC): one input tensor per join key
  (``"driver_id"``, shape ``[n]`` or ``[n, 1]``) -> one FP64 tensor ``"features"`` of shape
  ``[n, len(features)]``.

How it reaches the predictor is KServe's ``--predictor_protocol`` (or the older
``--protocol`` alias; set it from the predictor's ``protocolVersion``):
``v1`` (KServe's default) follows the request (v1 to ``:predict``, v2 to ``/infer``, both
REST); ``v2`` sends every request as a v2 tensor over REST, ``grpc-v2`` over gRPC. A v1
request sent on as v2 gets the predictor's first output tensor back as ``predictions``.

Columns are the features in the order given. Errors come back as KServe answers them:
a malformed request, a batch over ``max_batch`` rows or an unknown entity -> HTTP 400 /
gRPC INVALID_ARGUMENT naming it; online serving or the predictor unreachable -> HTTP 503 /
gRPC UNAVAILABLE. Run it as KServe runs a transformer:

    python -m larder.kserve --model_name driver --predictor_host predictor:80 \\
        --predictor_protocol grpc-v2 \\
        --feature driver_hourly_stats:conv_rate --feature driver_hourly_stats:acc_rate \\
        --entity_key driver_id --project driver_stats
"""

import argparse
import math
from typing import Any, Dict, List, Optional, Sequence, Union

import grpc
import httpx
import kserve
import numpy as np
from kserve.errors import InferenceError, InvalidInput, ServerNotReady
from kserve.inference_client import InferenceGRPCClient, InferenceRESTClient, RESTConfig
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from . import aio
from .errors import DeadlineExceeded, InvalidArgument, LarderError, NotFound, Unavailable

DEFAULT_MAX_BATCH = 1000
_INT_TYPES = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
# KServe's PredictorProtocol values (kserve.constants.constants).
PREDICTOR_PROTOCOLS = ("v1", "v2", "grpc-v2")
_FORWARDED_HEADERS = ("x-request-id", "x-b3-traceid", "traceparent", "authorization")


class EntityNotFound(InvalidInput):
    """An entity of the request has none of the features stored online (HTTP 400)."""


class _Unavailable(ServerNotReady):
    # KServe's REST handler answers str() (error_msg), its gRPC interceptor aborts with
    # .reason, which ServerNotReady itself lacks: set both so neither reply is generic.
    def __init__(self, detail: str) -> None:
        super().__init__()
        self.error_msg = detail
        self.reason = detail


class StoreUnavailable(_Unavailable):
    """Online serving could not be reached or answered UNAVAILABLE (HTTP 503, gRPC UNAVAILABLE)."""


class PredictorUnavailable(_Unavailable):
    """The predictor could not be reached or timed out (HTTP 503, gRPC UNAVAILABLE)."""


class FeatureTransformer(kserve.Model):
    """Enriches v1 and v2 requests with online features, then calls the predictor.

    name: the model's name (the predictor is called with it too). features:
    ``["view:feature", ...]`` (or feature_service=). entity_keys: the join keys a request
    carries. store: a ``larder.aio.FeatureStore`` (made on first use from store_options
    otherwise, in the serving event loop). max_batch: rows allowed in one request.
    A value not stored for a row is an error naming the entity, unless allow_missing, when
    it goes to the predictor as NaN (v1: null). predictor_protocol is KServe's: ``v1``
    follows the request, ``v2`` and ``grpc-v2`` send every request as a v2 tensor over REST
    or gRPC (predictor_host is then host:port; :80, or :443 with predictor_use_ssl, if
    none is given).
    """

    def __init__(
        self,
        name: str,
        predictor_host: str,
        features: Sequence[str] = (),
        entity_keys: Sequence[str] = (),
        *,
        feature_service: Optional[str] = None,
        store: Optional[aio.FeatureStore] = None,
        store_options: Optional[Dict[str, Any]] = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        allow_missing: bool = False,
        predictor_timeout: float = 60.0,
        predictor_scheme: str = "http",
        predictor_protocol: str = "v1",
        predictor_use_ssl: bool = False,
        predictor_retries: int = 0,
    ) -> None:
        super().__init__(name)
        if bool(features) == bool(feature_service):
            raise ValueError("give features or feature_service, not both or neither")
        if not entity_keys:
            raise ValueError("entity_keys: name the join keys requests carry")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if predictor_protocol not in PREDICTOR_PROTOCOLS:
            raise ValueError(f"predictor_protocol {predictor_protocol!r}: one of {', '.join(PREDICTOR_PROTOCOLS)}")
        if predictor_protocol == "grpc-v2" and "://" in predictor_host:
            raise ValueError(f"predictor_host {predictor_host!r}: a gRPC predictor is host[:port], without a scheme")
        self.features = list(features)
        self.feature_service = feature_service
        self.entity_keys = list(entity_keys)
        self.max_batch = max_batch
        self.allow_missing = allow_missing
        self.predictor_protocol = predictor_protocol
        self.predictor_host = predictor_host
        scheme = "https" if predictor_use_ssl else predictor_scheme
        self.predictor_url = predictor_host if "://" in predictor_host else f"{scheme}://{predictor_host}"
        self._store = store
        self._store_options = dict(store_options or {})
        self._timeout = predictor_timeout
        self._use_ssl = predictor_use_ssl
        self._retries = predictor_retries
        self._clients: Dict[str, InferenceRESTClient] = {}
        self._grpc: Optional[InferenceGRPCClient] = None
        self.ready = False

    def load(self) -> bool:
        self.ready = True
        return self.ready

    # --- requests in ----------------------------------------------------------------

    async def preprocess(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None) -> Union[Dict, InferRequest]:
        if isinstance(payload, InferRequest):
            columns = self._v2_columns(payload)
            matrix = await self._features(columns)
            request = InferRequest(model_name=self.name, infer_inputs=[_tensor("features", matrix)], request_id=payload.id)
            return request
        if not isinstance(payload, dict):
            raise InvalidInput("the request body must be a JSON object with 'instances' (v1) or 'inputs' (v2)")
        columns = self._v1_columns(payload)
        matrix = await self._features(columns)
        return {"instances": [[None if math.isnan(x) else x for x in row] for row in matrix.tolist()]}

    def _v1_columns(self, payload: Dict) -> Dict[str, List[Any]]:
        instances = payload.get("instances")
        if not isinstance(instances, list):
            raise InvalidInput("v1 request: 'instances' must be a list of objects holding " + ", ".join(repr(k) for k in self.entity_keys))
        self._check_size(len(instances))
        columns: Dict[str, List[Any]] = {key: [] for key in self.entity_keys}
        for i, instance in enumerate(instances):
            if not isinstance(instance, dict):
                raise InvalidInput(f"instances[{i}] must be an object holding " + ", ".join(repr(k) for k in self.entity_keys))
            for key in self.entity_keys:
                if key not in instance:
                    raise InvalidInput(f"instances[{i}] has no {key!r}")
                columns[key].append(_key_value(instance[key], f"instances[{i}].{key}"))
        return columns

    def _v2_columns(self, request: InferRequest) -> Dict[str, List[Any]]:
        by_name = {tensor.name: tensor for tensor in request.inputs}
        columns: Dict[str, List[Any]] = {}
        rows = None
        for key in self.entity_keys:
            tensor = by_name.get(key)
            if tensor is None:
                raise InvalidInput(f"v2 request: no input tensor {key!r} (inputs: {', '.join(sorted(by_name)) or 'none'})")
            if tensor.datatype not in _INT_TYPES and tensor.datatype != "BYTES":
                raise InvalidInput(f"input {key!r}: datatype {tensor.datatype} is not an integer type or BYTES")
            shape = list(tensor.shape)
            if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
                raise InvalidInput(f"input {key!r}: shape {shape} must be [n] or [n, 1]")
            self._check_size(int(shape[0]))
            try:
                values = tensor.as_numpy().reshape(-1)
            except Exception as error:  # a data length that disagrees with the shape
                raise InvalidInput(f"input {key!r}: its data does not match shape {shape} and datatype {tensor.datatype}: {error}") from None
            if values.shape[0] != shape[0]:
                raise InvalidInput(f"input {key!r}: {values.shape[0]} values for shape {shape}")
            if rows is not None and rows != shape[0]:
                raise InvalidInput(f"input {key!r} has {shape[0]} rows, the other keys {rows}")
            rows = int(shape[0])
            columns[key] = [_tensor_key(v, f"{key}[{i}]") for i, v in enumerate(values)]
        return columns

    def _check_size(self, rows: int) -> None:
        if rows < 1:
            raise InvalidInput("the request holds no rows")
        if rows > self.max_batch:
            raise InvalidInput(f"the request holds {rows} rows, more than max_batch {self.max_batch}")

    # --- the store ------------------------------------------------------------------

    async def _features(self, columns: Dict[str, List[Any]]) -> np.ndarray:
        """One online read for every row; a matrix rows x features of float64."""
        store = self._store
        if store is None:
            store = self._store = aio.FeatureStore(**self._store_options)
        try:
            response = await store.get_online_features(
                self.features or None, feature_service=self.feature_service, columns=columns
            )
        except (Unavailable, DeadlineExceeded) as error:
            raise StoreUnavailable(f"feature store unavailable: online serving answered {error.code.name}: {error.message}") from None
        except (InvalidArgument, NotFound) as error:
            raise InvalidInput(f"feature store refused the request ({error.code.name}): {error.message}") from None
        except LarderError as error:
            raise StoreUnavailable(f"feature store failed ({error.code.name}): {error.message}") from None
        values = response.to_dict()
        statuses = response.statuses()
        names = [n for n in response.feature_names if n not in columns]
        rows = len(next(iter(columns.values())))
        matrix = np.full((rows, len(names)), np.nan, dtype=np.float64)
        for c, name in enumerate(names):
            for r, (value, status) in enumerate(zip(values[name], statuses[name])):
                if status == "NOT_FOUND" and not self.allow_missing:
                    entity = ", ".join(f"{k}={columns[k][r]!r}" for k in columns)
                    raise EntityNotFound(f"no value of feature {name!r} is stored for entity {entity} (row {r}); nothing was sent to the predictor")
                if value is None:
                    continue
                if isinstance(value, bool) or isinstance(value, (int, float)):
                    matrix[r, c] = float(value)
                else:
                    raise InvalidInput(f"feature {name!r} is {type(value).__name__}, not a number: it cannot go into the feature tensor")
        return matrix

    # --- the predictor --------------------------------------------------------------

    async def predict(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None, response_headers: Optional[Dict[str, str]] = None) -> Any:
        forwarded = {k.lower(): v for k, v in (headers or {}).items() if k.lower() in _FORWARDED_HEADERS}
        if isinstance(payload, dict) and self.predictor_protocol == "v1":
            # v1 predictor protocol (KServe's default): the protocol follows the request, so
            # one transformer serves v1 and v2 clients of a predictor that speaks both.
            return await self._rest_infer("v1", payload, forwarded)
        request = payload if isinstance(payload, InferRequest) else self._v2_from_v1(payload)
        if self.predictor_protocol == "grpc-v2":
            response = await self._grpc_infer(request, forwarded)
        else:
            response = await self._rest_infer("v2", request, forwarded)
        return response if isinstance(payload, InferRequest) else _v1_answer(response)

    def _v2_from_v1(self, payload: Dict) -> InferRequest:
        matrix = np.array([[math.nan if x is None else x for x in row] for row in payload["instances"]], dtype=np.float64)
        return InferRequest(model_name=self.name, infer_inputs=[_tensor("features", matrix)])

    async def _rest_infer(self, protocol: str, data: Union[Dict, InferRequest], headers: Dict[str, str]) -> Any:
        client = self._clients.get(protocol)
        if client is None:
            client = self._clients[protocol] = InferenceRESTClient(RESTConfig(protocol=protocol, timeout=self._timeout, retries=self._retries))
        try:
            return await client.infer(self.predictor_url, model_name=self.name, data=data, headers=headers)
        except (httpx.ConnectError, httpx.TimeoutException) as error:
            raise PredictorUnavailable(f"predictor unavailable: {self.predictor_url}: {type(error).__name__}: {error}") from None

    async def _grpc_infer(self, request: InferRequest, headers: Dict[str, str]) -> InferResponse:
        if self._grpc is None:
            # Made in the serving event loop: a grpc.aio channel belongs to the loop it was made in.
            self._grpc = InferenceGRPCClient(self.predictor_host, use_ssl=self._use_ssl, timeout=self._timeout, retries=self._retries)
        try:
            return await self._grpc.infer(request, headers=tuple(headers.items()))
        except grpc.aio.AioRpcError as error:
            code, details = error.code(), error.details()
            where = f"the gRPC predictor at {self.predictor_host} answered {code.name}: {details}"
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise PredictorUnavailable(f"predictor unavailable: {where}") from None
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidInput(where) from None
            raise InferenceError(where) from None

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
        for client in self._clients.values():
            await client.close()
        if self._grpc is not None:
            await self._grpc.close()
            self._grpc = None


def _key_value(value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{where}: an entity key must be an integer or a string, got {type(value).__name__}")
    if isinstance(value, str) and len(value) > 1024:
        raise InvalidInput(f"{where}: an entity key of {len(value)} characters is too long (1024 at most)")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidInput(f"{where}: {value} does not fit in an int64")
    return value


def _tensor_key(value: Any, where: str) -> Any:
    """An entity key from a v2 tensor: numpy scalars to int, BYTES (REST or gRPC) to str."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{where}: a BYTES entity key must be UTF-8") from None
    elif hasattr(value, "item"):
        value = value.item()
    return _key_value(value, where)


def _v1_answer(response: InferResponse) -> Dict[str, Any]:
    """A v2 predictor's answer to a v1 request: its first output tensor as predictions."""
    if not response.outputs:
        raise InferenceError("the predictor answered no output tensor")
    values = response.outputs[0].as_numpy().tolist()
    return {"predictions": _jsonable(values)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _tensor(name: str, matrix: np.ndarray) -> InferInput:
    tensor = InferInput(name=name, shape=list(matrix.shape), datatype="FP64")
    tensor.set_data_from_numpy(matrix, binary_data=False)
    return tensor


def main(argv: Optional[Sequence[str]] = None) -> None:
    from kserve import model_server
    from kserve.predictor_config import PredictorConfig

    parser = argparse.ArgumentParser(parents=[model_server.parser], description="Larder's feature transformer for KServe")
    parser.add_argument("--feature", action="append", default=[], help="view:feature, repeated, in the predictor's column order")
    parser.add_argument("--feature_service", default=None)
    parser.add_argument("--entity_key", action="append", default=[], help="a join key requests carry, repeated")
    parser.add_argument("--project", default=None, help="the Larder project (else LARDER_PROJECT)")
    parser.add_argument("--online", default=None, help="online serving's host:port (else LARDER_ONLINE_SERVING)")
    parser.add_argument("--max_batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument("--allow_missing", action="store_true")
    args, _ = parser.parse_known_args(argv)
    if not args.predictor_host:
        parser.error("--predictor_host is required")
    # --protocol is KServe's older name for --predictor_protocol; both default to v1.
    protocol = args.predictor_protocol if args.predictor_protocol != "v1" else args.protocol
    options = {k: v for k, v in {"project": args.project, "online": args.online}.items() if v}
    model = FeatureTransformer(
        args.model_name,
        args.predictor_host,
        args.feature,
        args.entity_key,
        feature_service=args.feature_service,
        store_options=options,
        max_batch=args.max_batch,
        allow_missing=args.allow_missing,
        predictor_timeout=float(args.predictor_request_timeout_seconds),
        predictor_protocol=protocol,
        predictor_use_ssl=args.predictor_use_ssl,
        predictor_retries=args.predictor_request_retries,
    )
    model.load()
    # The same predictor settings for KServe's own use of them (its readiness check of the
    # predictor under --enable_predictor_health_check).
    predictor = PredictorConfig(
        args.predictor_host,
        predictor_protocol=protocol,
        predictor_use_ssl=args.predictor_use_ssl,
        predictor_request_timeout_seconds=args.predictor_request_timeout_seconds,
        predictor_request_retries=args.predictor_request_retries,
        predictor_health_check=args.enable_predictor_health_check,
    )
    server = kserve.ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=args.enable_grpc, predictor_config=predictor)
    server.start([model])


if __name__ == "__main__":
    main()
