"""larder.kserve: the transformer's model server (python -m larder.kserve) started on free
ports with a recording predictor, real v1 and v2 requests over HTTP, the feature values
the predictor received compared with online serving's, and errors and attacks."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import pytest

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_transformer(predictor: int, online: str, log: pathlib.Path) -> Tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, "-m", "larder.kserve", "--model_name", "driver", "--http_port", str(port), "--grpc_port", str(free_port()),
            "--predictor_host", f"127.0.0.1:{predictor}", "--entity_key", "driver_id", "--project", "driver_stats",
            "--online", online, "--max_batch", str(MAX_BATCH), "--configure_logging", "false"]
    for feature in FEATURES:
        args += ["--feature", feature]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LARDER_CLIENT") and k != "LARDER_TOKEN"}
    # Its log goes to a file: a pipe nobody reads would fill and stall the server.
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the transformer exited ({proc.returncode}): {proc.log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/v1/models/driver", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the transformer was not ready within 90 s")


@pytest.fixture(scope="module")
def servers(config, tmp_path_factory) -> Iterator[Dict[str, str]]:
    logs = tmp_path_factory.mktemp("kserve")
    predictor = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=predictor.serve_forever, daemon=True).start()
    # A second transformer whose online serving is down: nothing listens on its port.
    live, live_url = start_transformer(predictor.server_address[1], config.address("online_serving"), logs / "live.log")
    down, down_url = start_transformer(predictor.server_address[1], f"127.0.0.1:{free_port()}", logs / "down.log")
    try:
        wait_ready(live, live_url)
        wait_ready(down, down_url)
        yield {"live": live_url, "down": down_url}
    finally:
        # Nothing to drain: a graceful stop would only add seconds to the suite.
        for proc in (live, down):
            proc.kill()
            proc.wait(10)
        predictor.shutdown()


@pytest.fixture()
def received() -> List[Tuple[str, Any]]:
    Recorder.received.clear()
    return Recorder.received


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
