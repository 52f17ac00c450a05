"""Calls Larder's online serving through the gRPC stubs that ship inside Feast's PyPI
package (feast.protos.feast.serving.ServingService_pb2_grpc), for the compatibility
spec (apps/online-serving/src/feast-grpc.spec.ts).

Reads one JSON object on stdin and prints one JSON object on stdout:
  {"address": "host:port", "calls": [CALL...]}
  CALL = {"name": N, "method": "info"}
       | {"name": N, "method": "get", "request": {...}}   Feast's request in protobuf JSON
       | {"name": N, "method": "get", "big_string_entity": BYTES, "request": {...}}
                                                          adds a string entity of that size
       | {"name": N, "method": "raw", "bytes_b64": B}      undecodable bytes to GetOnlineFeatures
  -> {N: {"ok": true, "bytes_b64": B, "dict": {...}} | {"ok": false, "code": "INVALID_ARGUMENT", "details": "..."}}
The answer's bytes are Feast's message re-serialized after Feast's classes parsed it,
and dict is MessageToDict of it, so the spec sees what a Feast client sees.
"""
import base64
import json
import sys

import grpc
from google.protobuf import json_format

from feast.protos.feast.serving import ServingService_pb2 as pb
from feast.protos.feast.serving import ServingService_pb2_grpc as pb_grpc

LIMIT = 64 * 1024 * 1024


def answer(call):
    try:
        return {"ok": True, "message": call()}
    except grpc.RpcError as e:
        return {"ok": False, "code": e.code().name, "details": e.details()}


def main():
    spec = json.load(sys.stdin)
    options = [("grpc.max_send_message_length", LIMIT), ("grpc.max_receive_message_length", LIMIT)]
    out = {}
    with grpc.insecure_channel(spec["address"], options=options) as channel:
        stub = pb_grpc.ServingServiceStub(channel)
        raw = channel.unary_unary(
            "/feast.serving.ServingService/GetOnlineFeatures",
            request_serializer=lambda b: b,
            response_deserializer=pb.GetOnlineFeaturesResponse.FromString,
        )
        for call in spec["calls"]:
            method = call["method"]
            if method == "info":
                result = answer(lambda: stub.GetFeastServingInfo(pb.GetFeastServingInfoRequest(), timeout=30))
            elif method == "get":
                request = json_format.ParseDict(call["request"], pb.GetOnlineFeaturesRequest())
                if "big_string_entity" in call:
                    request.entities["customer_id"].val.add().string_val = "x" * call["big_string_entity"]
                result = answer(lambda: stub.GetOnlineFeatures(request, timeout=30))
            elif method == "raw":
                result = answer(lambda: raw(base64.b64decode(call["bytes_b64"]), timeout=30))
            else:
                raise ValueError(f"unknown method {method}")
            if result["ok"]:
                message = result.pop("message")
                result["bytes_b64"] = base64.b64encode(message.SerializeToString(deterministic=True)).decode()
                result["dict"] = json_format.MessageToDict(message)
            out[call["name"]] = result
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
