"""A KServe transformer that adds Larder's online features to inference requests
(``pip install 'larder[kserve]'``).

A request carries entity keys; the transformer reads the features of all its rows from
online serving in one batched call (``larder.aio``) and forwards the feature tensor to
the predictor, in the protocol the request came in:

- v1: ``{"instances": [{"driver_id": 1001}, ...]}`` -> ``{"instances": [[f1, f2, ...], ...]}``
  sent to ``/v1/models/<name>:predict``;
- v2 / Open Inference Protocol: one input tensor per join key (``"driver_id"``, shape
  ``[n]`` or ``[n, 1]``) -> one FP64 tensor ``"features"`` of shape ``[n, len(features)]``
  sent to ``/v2/models/<name>/infer``.

Columns are the features in the order given. Errors come back as KServe answers them:
a malformed request, a batch over ``max_batch`` rows or an unknown entity -> 400 naming
it; online serving unreachable -> 503. Run it as KServe runs a transformer:

    python -m larder.kserve --model_name driver --predictor_host predictor:80 \\
        --feature driver_hourly_stats:conv_rate --feature driver_hourly_stats:acc_rate \\
        --entity_key driver_id --project driver_stats
"""

import argparse
import math
from typing import Any, Dict, List, Optional, Sequence, Union

import kserve
import numpy as np
from kserve.errors import InvalidInput, ServerNotReady
from kserve.inference_client import InferenceRESTClient, RESTConfig
from kserve.protocol.infer_type import InferInput, InferRequest

from . import aio
from .errors import DeadlineExceeded, InvalidArgument, LarderError, NotFound, Unavailable

DEFAULT_MAX_BATCH = 1000
_INT_TYPES = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")


class EntityNotFound(InvalidInput):
    """An entity of the request has none of the features stored online (HTTP 400)."""


class StoreUnavailable(ServerNotReady):
    """Online serving could not be reached or answered UNAVAILABLE (HTTP 503)."""

    def __init__(self, detail: str) -> None:
        super().__init__()
        self.error_msg = detail


class FeatureTransformer(kserve.Model):
    """Enriches v1 and v2 requests with online features, then calls the predictor.

    name: the model's name (the predictor is called with it too). features:
    ``["view:feature", ...]`` (or feature_service=). entity_keys: the join keys a request
    carries. store: a ``larder.aio.FeatureStore`` (made on first use from store_options
    otherwise, in the serving event loop). max_batch: rows allowed in one request.
    A value not stored for a row is an error naming the entity, unless allow_missing, when
    it goes to the predictor as NaN (v1: null).
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
    ) -> None:
        super().__init__(name)
        if bool(features) == bool(feature_service):
            raise ValueError("give features or feature_service, not both or neither")
        if not entity_keys:
            raise ValueError("entity_keys: name the join keys requests carry")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.features = list(features)
        self.feature_service = feature_service
        self.entity_keys = list(entity_keys)
        self.max_batch = max_batch
        self.allow_missing = allow_missing
        self.predictor_url = predictor_host if "://" in predictor_host else f"{predictor_scheme}://{predictor_host}"
        self._store = store
        self._store_options = dict(store_options or {})
        self._timeout = predictor_timeout
        self._clients: Dict[str, InferenceRESTClient] = {}
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
            columns[key] = [(_key_value(v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v, f"{key}[{i}]")) for i, v in enumerate(values)]
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
        # The protocol follows the request, so one transformer serves v1 and v2 clients.
        protocol = "v2" if isinstance(payload, InferRequest) else "v1"
        client = self._clients.get(protocol)
        if client is None:
            client = self._clients[protocol] = InferenceRESTClient(RESTConfig(protocol=protocol, timeout=self._timeout, retries=0))
        forwarded = {k: v for k, v in (headers or {}).items() if k.lower() in ("x-request-id", "x-b3-traceid", "traceparent", "authorization")}
        return await client.infer(self.predictor_url, model_name=self.name, data=payload, headers=forwarded)

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
        for client in self._clients.values():
            await client.close()


def _key_value(value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{where}: an entity key must be an integer or a string, got {type(value).__name__}")
    if isinstance(value, str) and len(value) > 1024:
        raise InvalidInput(f"{where}: an entity key of {len(value)} characters is too long (1024 at most)")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidInput(f"{where}: {value} does not fit in an int64")
    return value


def _tensor(name: str, matrix: np.ndarray) -> InferInput:
    tensor = InferInput(name=name, shape=list(matrix.shape), datatype="FP64")
    tensor.set_data_from_numpy(matrix, binary_data=False)
    return tensor


def main(argv: Optional[Sequence[str]] = None) -> None:
    from kserve import model_server

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
    )
    model.load()
    kserve.ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=False).start([model])


if __name__ == "__main__":
    main()
