"""larder.kserve: the transformer's model server (python -m larder.kserve) started on free
ports with recording predictors (REST, and gRPC v2 for --predictor_protocol grpc-v2), real
v1 and v2 requests over HTTP and v2 ModelInfer requests over gRPC, the feature values the
predictors received compared with online serving's, and errors and attacks."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Tuple

import grpc
import httpx
import numpy as np
import pytest
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from kserve.protocol.infer_type import InferRequest, InferResponse

import larder

from conftest import FEATURES

IDS = [1001, 1002, 1003, 1004, 1005]
MAX_BATCH = 50


class Recorder(BaseHTTPRequestHandler):
    """A predictor that keeps every body it is sent and answers each row with its sum."""

    received: List[Tuple[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        Recorder.received.append((self.path, body))
        if self.path.startswith("/v1/"):
            answer: Dict[str, Any] = {"predictions": [sum(x for x in row if x is not None) for row in body["instances"]]}
        else:
            tensor = body["inputs"][0]
            width = tensor["shape"][1]
            data = tensor["data"]
            sums = [sum(data[i : i + width]) for i in range(0, len(data), width)]
            answer = {"model_name": "driver", "id": body.get("id") or "x", "outputs": [{"name": "score", "shape": [len(sums)], "datatype": "FP64", "data": sums}]}
        raw = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


class GrpcRecorder(pb_grpc.GRPCInferenceServiceServicer):
    """A gRPC v2 predictor that keeps every ModelInfer request (as KServe decodes it, with
    its metadata) and answers each row with its sum."""

    received: List[Tuple[InferRequest, Dict[str, str]]] = []

    def ModelInfer(self, request: pb.ModelInferRequest, context: grpc.ServicerContext) -> pb.ModelInferResponse:  # noqa: N802 - the service's name
        decoded = InferRequest.from_grpc(request)
        GrpcRecorder.received.append((decoded, dict(context.invocation_metadata())))
        sums = decoded.inputs[0].as_numpy().sum(axis=1).tolist()
        return pb.ModelInferResponse(
            model_name=request.model_name, id=request.id,
            outputs=[pb.ModelInferResponse.InferOutputTensor(name="score", datatype="FP64", shape=[len(sums)], contents=pb.InferTensorContents(fp64_contents=sums))],
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_transformer(predictor: int, online: str, log: pathlib.Path, *extra: str) -> Tuple[subprocess.Popen, str, str]:
    port, grpc_port = free_port(), free_port()
    args = [sys.executable, "-m", "larder.kserve", "--model_name", "driver", "--http_port", str(port), "--grpc_port", str(grpc_port),
            "--predictor_host", f"127.0.0.1:{predictor}", "--entity_key", "driver_id", "--project", "driver_stats",
            "--online", online, "--max_batch", str(MAX_BATCH), "--configure_logging", "false", *extra]
    for feature in FEATURES:
        args += ["--feature", feature]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LARDER_CLIENT") and k != "LARDER_TOKEN"}
    # Its log goes to a file: a pipe nobody reads would fill and stall the server.
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    return proc, f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}"


def wait_ready(proc: subprocess.Popen, url: str, target: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the transformer exited ({proc.returncode}): {proc.log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/v1/models/driver", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        raise RuntimeError("the transformer was not ready within 90 s")
    # Its gRPC server starts beside the HTTP one: wait for it the same way.
    with grpc.insecure_channel(target) as channel:
        ready = pb_grpc.GRPCInferenceServiceStub(channel).ModelReady(pb.ModelReadyRequest(name="driver"), wait_for_ready=True, timeout=max(1.0, deadline - time.monotonic()))
        assert ready.ready


@pytest.fixture(scope="module")
def servers(config, tmp_path_factory) -> Iterator[Dict[str, str]]:
    logs = tmp_path_factory.mktemp("kserve")
    predictor = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=predictor.serve_forever, daemon=True).start()
    grpc_predictor = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(GrpcRecorder(), grpc_predictor)
    grpc_predictor_port = grpc_predictor.add_insecure_port("127.0.0.1:0")
    grpc_predictor.start()
    online = config.address("online_serving")
    # All three start at once. "down": its online serving is down (nothing listens on its
    # port). "grpc": its predictor is the gRPC one, called with KServe's own flag.
    started = {
        "live": start_transformer(predictor.server_address[1], online, logs / "live.log"),
        "down": start_transformer(predictor.server_address[1], f"127.0.0.1:{free_port()}", logs / "down.log"),
        "grpc": start_transformer(grpc_predictor_port, online, logs / "grpc.log", "--predictor_protocol", "grpc-v2"),
    }
    try:
        for proc, url, target in started.values():
            wait_ready(proc, url, target)
        yield {
            **{name: url for name, (_, url, _) in started.items()},
            **{f"{name}_grpc": target for name, (_, _, target) in started.items()},
            "rest_predictor": f"127.0.0.1:{predictor.server_address[1]}",
        }
    finally:
        # Nothing to drain: a graceful stop would only add seconds to the suite.
        for proc, _, _ in started.values():
            proc.kill()
            proc.wait(10)
        predictor.shutdown()
        grpc_predictor.stop(None)


@pytest.fixture()
def received() -> List[Tuple[str, Any]]:
    Recorder.received.clear()
    GrpcRecorder.received.clear()
    return Recorder.received


@pytest.fixture()
def grpc_received(received) -> List[Tuple[InferRequest, Dict[str, str]]]:
    return GrpcRecorder.received


def model_infer(target: str, request: pb.ModelInferRequest, metadata: Tuple[Tuple[str, str], ...] = ()) -> pb.ModelInferResponse:
    with grpc.insecure_channel(target) as channel:
        return pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=metadata, timeout=60)


def infer_error(target: str, request: pb.ModelInferRequest) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        model_infer(target, request)
    return caught.value


def driver_ids(ids: List[int], model: str = "driver", shape: Any = None) -> pb.ModelInferRequest:
    tensor = pb.ModelInferRequest.InferInputTensor(name="driver_id", datatype="INT64", shape=shape or [len(ids)], contents=pb.InferTensorContents(int64_contents=ids))
    return pb.ModelInferRequest(model_name=model, id="g-1", inputs=[tensor])


def online_matrix(store: larder.FeatureStore, ids: List[int]) -> List[List[float]]:
    values = store.get_online_features(FEATURES, columns={"driver_id": ids}).to_dict()
    names = [f.split(":")[1] for f in FEATURES]
    return [[float(values[n][i]) for n in names] for i in range(len(ids))]


def test_v1_request_forwards_online_features_in_one_row_per_instance(servers, received, store):
    reply = httpx.post(f"{servers['live']}/v1/models/driver:predict", json={"instances": [{"driver_id": i} for i in IDS]}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert len(received) == 1
    path, body = received[0]
    assert path == "/v1/models/driver:predict"
    expected = online_matrix(store, IDS)
    assert body == {"instances": expected}
    assert reply.json() == {"predictions": [pytest.approx(sum(row)) for row in expected]}


def test_v2_request_forwards_an_fp64_feature_tensor(servers, received, store):
    request = {"id": "r-1", "inputs": [{"name": "driver_id", "shape": [3, 1], "datatype": "INT64", "data": [1003, 1001, 1005]}]}
    reply = httpx.post(f"{servers['live']}/v2/models/driver/infer", json=request, timeout=30)
    assert reply.status_code == 200, reply.text
    assert len(received) == 1
    path, body = received[0]
    assert path == "/v2/models/driver/infer"
    (tensor,) = body["inputs"]
    expected = online_matrix(store, [1003, 1001, 1005])
    assert (tensor["name"], tensor["datatype"], tensor["shape"]) == ("features", "FP64", [3, 3])
    assert tensor["data"] == [x for row in expected for x in row]
    (output,) = reply.json()["outputs"]
    assert output["data"] == pytest.approx([sum(row) for row in expected])


def test_missing_entity_is_a_400_naming_it_and_reaches_no_predictor(servers, received):
    for reply in (
        httpx.post(f"{servers['live']}/v1/models/driver:predict", json={"instances": [{"driver_id": 1001}, {"driver_id": 999999}]}, timeout=30),
        httpx.post(f"{servers['live']}/v2/models/driver/infer", json={"inputs": [{"name": "driver_id", "shape": [1], "datatype": "INT64", "data": [999999]}]}, timeout=30),
    ):
        assert reply.status_code == 400, reply.text
        assert "is stored for entity driver_id=999999" in reply.json()["error"]
    assert received == []


def test_store_outage_is_a_503_saying_online_serving_is_unavailable(servers, received):
    reply = httpx.post(f"{servers['down']}/v1/models/driver:predict", json={"instances": [{"driver_id": 1001}]}, timeout=60)
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"].startswith("feature store unavailable: online serving answered UNAVAILABLE")
    reply = httpx.post(f"{servers['down']}/v2/models/driver/infer", json={"inputs": [{"name": "driver_id", "shape": [1], "datatype": "INT64", "data": [1001]}]}, timeout=60)
    assert reply.status_code == 503, reply.text
    assert received == []


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("v1", {"instances": [{"driver_id": i} for i in range(MAX_BATCH + 1)]}, f"more than max_batch {MAX_BATCH}"),
        ("v1", {"instances": []}, "holds no rows"),
        ("v1", {"instances": "1001"}, "'instances' must be a list"),
        ("v1", {"rows": [1001]}, "'instances' must be a list"),
        ("v1", {"instances": [1001]}, "instances[0] must be an object"),
        ("v1", {"instances": [{"id": 1001}]}, "instances[0] has no 'driver_id'"),
        ("v1", {"instances": [{"driver_id": {"$gt": 1}}]}, "must be an integer or a string"),
        ("v1", {"instances": [{"driver_id": 1.5}]}, "must be an integer or a string"),
        ("v1", {"instances": [{"driver_id": 2**63}]}, "does not fit in an int64"),
        ("v1", {"instances": [{"driver_id": "x" * 5000}]}, "too long"),
        ("v2", {"inputs": [{"name": "driver_id", "shape": [10**9], "datatype": "INT64", "data": [1]}]}, f"more than max_batch {MAX_BATCH}"),
        ("v2", {"inputs": [{"name": "driver_id", "shape": [3], "datatype": "INT64", "data": [1001]}]}, "does not match"),
        ("v2", {"inputs": [{"name": "driver_id", "shape": [1], "datatype": "FP32", "data": [1.0]}]}, "is not an integer type"),
        ("v2", {"inputs": [{"name": "driver_id", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}, "must be [n] or [n, 1]"),
        ("v2", {"inputs": [{"name": "rider", "shape": [1], "datatype": "INT64", "data": [1]}]}, "no input tensor 'driver_id'"),
    ],
)
def test_bad_requests_are_400s_naming_the_problem(servers, received, path, body, message):
    url = f"{servers['live']}/v1/models/driver:predict" if path == "v1" else f"{servers['live']}/v2/models/driver/infer"
    reply = httpx.post(url, json=body, timeout=30)
    assert reply.status_code == 400, reply.text
    assert message in reply.text
    assert received == []


def test_garbage_bodies_are_4xx_not_500(servers, received):
    for url in (f"{servers['live']}/v1/models/driver:predict", f"{servers['live']}/v2/models/driver/infer"):
        for content in (b"{not json", b"[1, 2, 3]", b"\x00\xff" * 100, b"null"):
            reply = httpx.post(url, content=content, headers={"content-type": "application/json"}, timeout=30)
            assert 400 <= reply.status_code < 500, (url, content[:10], reply.status_code, reply.text)
    assert httpx.post(f"{servers['live']}/v1/models/other:predict", json={"instances": [{"driver_id": 1001}]}, timeout=30).status_code == 404
    assert received == []


def test_allow_missing_sends_nan_for_an_unknown_entity_in_process(config, store):
    """FeatureTransformer used in-process (no server): with allow_missing, an unknown
    entity's features go on as null (v1) beside the known one's online values."""
    import asyncio

    from larder.kserve import FeatureTransformer

    async def run() -> Any:
        model = FeatureTransformer("driver", "127.0.0.1:9", FEATURES, ["driver_id"], allow_missing=True,
                                   store_options={"project": "driver_stats", "online": config.address("online_serving"), "env": {}})
        try:
            return await model.preprocess({"instances": [{"driver_id": 999999}, {"driver_id": 1001}]})
        finally:
            await model.close()

    assert asyncio.run(run()) == {"instances": [[None, None, None], online_matrix(store, [1001])[0]]}


# --- v2 over gRPC ---------------------------------------------------------------------


def scores(reply: pb.ModelInferResponse) -> List[float]:
    (output,) = InferResponse.from_grpc(reply).outputs
    assert output.name == "score"
    return output.as_numpy().tolist()


def test_grpc_model_infer_is_enriched_and_forwarded_to_a_rest_v2_predictor(servers, received, store):
    reply = model_infer(servers["live_grpc"], driver_ids([1002, 1004]))
    expected = online_matrix(store, [1002, 1004])
    ((path, body),) = received
    assert path == "/v2/models/driver/infer"
    (tensor,) = body["inputs"]
    assert (tensor["name"], tensor["datatype"], tensor["shape"]) == ("features", "FP64", [2, 3])
    assert tensor["data"] == [x for row in expected for x in row]
    assert reply.id == "g-1"
    assert scores(reply) == pytest.approx([sum(row) for row in expected])


def test_grpc_v2_predictor_receives_the_feature_tensor_of_grpc_and_rest_requests(servers, grpc_received, received, store):
    ids = [1005, 1001, 1003]
    expected = online_matrix(store, ids)
    # gRPC in (keys as raw little-endian INT64 [n, 1], with a request id to pass on), REST
    # v2 in, REST v1 in: each reaches the gRPC predictor as one FP64 [3, 3] tensor of the
    # online values.
    keys = pb.ModelInferRequest.InferInputTensor(name="driver_id", datatype="INT64", shape=[3, 1])
    raw = np.array(ids, dtype="<i8").tobytes()
    request = pb.ModelInferRequest(model_name="driver", id="g-2", inputs=[keys], raw_input_contents=[raw])
    reply = model_infer(servers["grpc_grpc"], request, metadata=(("x-request-id", "req-7"),))
    assert reply.id == "g-2"
    assert scores(reply) == pytest.approx([sum(row) for row in expected])
    v2 = httpx.post(f"{servers['grpc']}/v2/models/driver/infer", json={"inputs": [{"name": "driver_id", "shape": [3], "datatype": "INT64", "data": ids}]}, timeout=30)
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == pytest.approx([sum(row) for row in expected])
    v1 = httpx.post(f"{servers['grpc']}/v1/models/driver:predict", json={"instances": [{"driver_id": i} for i in ids]}, timeout=30)
    assert v1.status_code == 200, v1.text
    assert v1.json() == {"predictions": pytest.approx([sum(row) for row in expected])}
    assert len(grpc_received) == 3 and received == []
    for request, _ in grpc_received:
        assert request.model_name == "driver"
        (tensor,) = request.inputs
        assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("features", "FP64", [3, 3])
        assert tensor.as_numpy().tolist() == expected
    assert grpc_received[0][1].get("x-request-id") == "req-7"


def test_grpc_missing_entity_is_invalid_argument_naming_it_and_reaches_no_predictor(servers, grpc_received, received):
    for target in (servers["live_grpc"], servers["grpc_grpc"]):
        error = infer_error(target, driver_ids([1001, 999999]))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
        assert "is stored for entity driver_id=999999" in error.details()
    assert received == [] and grpc_received == []


def test_grpc_store_outage_is_unavailable_saying_online_serving_is_down(servers, received):
    error = infer_error(servers["down_grpc"], driver_ids([1001]))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error
    assert error.details().startswith("feature store unavailable: online serving answered UNAVAILABLE")
    assert received == []


def _tensor(datatype: str, shape: List[int], **contents: Any) -> pb.ModelInferRequest.InferInputTensor:
    tensor = pb.ModelInferRequest.InferInputTensor(name="driver_id", datatype=datatype, shape=shape)
    if contents:  # else the data is in raw_input_contents, where contents must be unset
        tensor.contents.CopyFrom(pb.InferTensorContents(**contents))
    return tensor


@pytest.mark.parametrize(
    "request_, message",
    [
        (driver_ids([1], shape=[10**9]), f"more than max_batch {MAX_BATCH}"),
        (driver_ids([1], shape=[-1]), "holds no rows"),
        (driver_ids([1001], shape=[3]), "does not match"),
        (driver_ids([1, 2], shape=[1, 2]), "must be [n] or [n, 1]"),
        (pb.ModelInferRequest(model_name="driver", inputs=[_tensor("FP32", [1], fp32_contents=[1.0])]), "is not an integer type"),
        (pb.ModelInferRequest(model_name="driver", inputs=[_tensor("BYTES", [1], bytes_contents=[b"\xff\xfe"])]), "must be UTF-8"),
        (pb.ModelInferRequest(model_name="driver", inputs=[_tensor("BYTES", [1], bytes_contents=[b"x" * 5000])]), "too long"),
        (pb.ModelInferRequest(model_name="driver", inputs=[_tensor("UINT64", [1], uint64_contents=[2**64 - 1])]), "does not fit in an int64"),
        # raw_input_contents: 8 bytes claimed to be 5 INT64s, a malformed BYTES length prefix.
        (pb.ModelInferRequest(model_name="driver", inputs=[_tensor("INT64", [5])], raw_input_contents=[b"\x01" * 8]), "does not match"),
        (pb.ModelInferRequest(model_name="driver", inputs=[_tensor("BYTES", [1])], raw_input_contents=[b"\xff\xff\xff\x7f" + b"a"]), "does not match"),
        (pb.ModelInferRequest(model_name="driver", inputs=[_tensor("INT64", [1])], raw_input_contents=[b"\x01" * 8, b"\x02" * 8]), "does not match the expected number"),
        (pb.ModelInferRequest(model_name="driver", inputs=[]), "no input tensor 'driver_id'"),
    ],
)
def test_grpc_bad_requests_are_invalid_argument_naming_the_problem(servers, grpc_received, received, request_, message):
    error = infer_error(servers["grpc_grpc"], request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    assert message in error.details()
    assert received == [] and grpc_received == []


def test_grpc_message_over_the_receive_limit_is_refused_before_any_work(servers, grpc_received):
    # KServe's --grpc_max_receive_message_length, 8 MiB by default: 9 MiB of raw keys.
    request = pb.ModelInferRequest(model_name="driver", inputs=[_tensor("INT64", [MAX_BATCH])], raw_input_contents=[b"\x01" * (9 << 20)])
    error = infer_error(servers["grpc_grpc"], request)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (error.code(), error.details())
    assert grpc_received == []


def test_grpc_unknown_model_is_not_found(servers, grpc_received):
    error = infer_error(servers["grpc_grpc"], driver_ids([1001], model="../other"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert grpc_received == []


def test_unreachable_predictor_is_unavailable_naming_it_in_process():
    """FeatureTransformer.predict in-process against a port nothing listens on: an error
    KServe answers 503 / UNAVAILABLE, naming the predictor, not an internal error."""
    import asyncio

    from larder.kserve import FeatureTransformer, PredictorUnavailable

    host = f"127.0.0.1:{free_port()}"

    async def run(protocol: str) -> Any:
        model = FeatureTransformer("driver", host, FEATURES, ["driver_id"], predictor_protocol=protocol, store_options={"env": {}})
        try:
            return await model.predict({"instances": [[0.5, 1.0, 3.0]]})
        finally:
            await model.close()

    with pytest.raises(PredictorUnavailable, match=f"predictor unavailable: the gRPC predictor at {host} answered UNAVAILABLE"):
        asyncio.run(run("grpc-v2"))
    with pytest.raises(PredictorUnavailable, match=f"predictor unavailable: http://{host}: ConnectError"):
        asyncio.run(run("v2"))
    with pytest.raises(ValueError, match="predictor_protocol 'grpc'"):
        FeatureTransformer("driver", host, FEATURES, ["driver_id"], predictor_protocol="grpc")
    with pytest.raises(ValueError, match="without a scheme"):
        FeatureTransformer("driver", f"http://{host}", FEATURES, ["driver_id"], predictor_protocol="grpc-v2")


def test_rest_v2_predictor_protocol_sends_a_v1_request_as_a_tensor_in_process(servers, received):
    """predictor_protocol v2 (a REST predictor that speaks only v2): a v1 request's
    feature rows go to /infer as one FP64 tensor, and its first output comes back as
    predictions."""
    import asyncio

    from larder.kserve import FeatureTransformer

    async def run() -> Any:
        model = FeatureTransformer("driver", servers["rest_predictor"], FEATURES, ["driver_id"], predictor_protocol="v2", store_options={"env": {}})
        try:
            return await model.predict({"instances": [[0.5, 1.0, 3.0], [1.5, 2.0, 4.0]]})
        finally:
            await model.close()

    answer = asyncio.run(run())
    ((path, body),) = received
    assert path == "/v2/models/driver/infer"
    (tensor,) = body["inputs"]
    assert (tensor["name"], tensor["datatype"], tensor["shape"]) == ("features", "FP64", [2, 3])
    assert tensor["data"] == [0.5, 1.0, 3.0, 1.5, 2.0, 4.0]
    assert answer == {"predictions": pytest.approx([4.5, 7.5])}
