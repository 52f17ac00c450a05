#!/usr/bin/env python3
"""Calls running Larder services through Python stubs generated from proto/.

    python larder_e2e_client.py --stubs DIR [--ca FILE [--cert FILE --key FILE]] SERVICE=HOST:PORT [...]

DIR holds the output of grpc_tools.protoc: Larder's modules (larder/registry/v1/...)
generated with proto/ as the include root, gRPC's health and reflection modules
(health/v1/..., reflection/v1/...) with proto/grpc as the root. SERVICE is a full
service name such as larder.registry.v1.RegistryService.

For each target it checks health ('' and SERVICE), lists services and fetches the
service's descriptor through reflection, and calls one rpc of SERVICE with a valid
request. Every call prints one JSON line to stdout; the exit code is 0 unless the
client itself broke, whatever the server answered.

With --ca the channel speaks TLS, trusting that PEM CA bundle (and sending the client
certificate of --cert/--key, for mTLS), as a Python user of a TLS deployment would.
"""

import argparse
import importlib
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, json_format

DEADLINE_S = 5.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stubs", required=True, help="root of the generated Python stubs")
    parser.add_argument("--ca", help="PEM CA bundle: speak TLS, trusting it")
    parser.add_argument("--cert", help="PEM client certificate (with --key), for mTLS")
    parser.add_argument("--key", help="PEM private key of --cert")
    parser.add_argument("--token", help="bearer token sent as `authorization` metadata with every call")
    parser.add_argument("targets", nargs="+", metavar="SERVICE=HOST:PORT")
    args = parser.parse_args()
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    if args.cert is not None and args.ca is None:
        parser.error("--cert needs --ca")
    targets = []
    for target in args.targets:
        service, sep, address = target.partition("=")
        if not sep or not service or not address:
            parser.error(f"expected SERVICE=HOST:PORT, got {target!r}")
        targets.append((service, address))
    return args, targets


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                  grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call, as a Larder client with a token does."""

    def __init__(self, token):
        self._metadata = (("authorization", f"Bearer {token}"),)

    def _details(self, details):
        return details._replace(metadata=tuple(details.metadata or ()) + self._metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


def open_channel(args, address):
    """Plaintext, or TLS with the CA bundle (and client certificate) given."""
    if args.ca is None:
        return grpc.insecure_channel(address)

    def read(path):
        with open(path, "rb") as file:
            return file.read()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key) if args.key else None,
        certificate_chain=read(args.cert) if args.cert else None,
    )
    return grpc.secure_channel(address, credentials)


def emit(record):
    print(json.dumps({"client": "python", **record}, sort_keys=True), flush=True)


def status_fields(error):
    return {"code": error.code().name, "message": error.details() or ""}


def load_stubs(stubs):
    """The generated modules, importable once their root is on sys.path."""
    sys.path.insert(0, stubs)
    names = ["health.v1.health_pb2", "health.v1.health_pb2_grpc",
             "reflection.v1.reflection_pb2", "reflection.v1.reflection_pb2_grpc"]
    return {name.rsplit(".", 1)[1]: importlib.import_module(name) for name in names}


def check_health(gen, channel, address, service):
    health_pb2 = gen["health_pb2"]
    stub = gen["health_pb2_grpc"].HealthStub(channel)
    record = {"check": "health", "address": address, "service": service}
    try:
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=DEADLINE_S)
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        emit({**record, "code": "OK", "message": "", "status": status})
    except grpc.RpcError as error:
        emit({**record, **status_fields(error)})


def reflect(gen, channel, address, service):
    """One ServerReflectionInfo stream: list the services, then the file declaring ours."""
    reflection_pb2 = gen["reflection_pb2"]
    stub = gen["reflection_pb2_grpc"].ServerReflectionStub(channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=service),
    ]
    record = {"check": "reflection", "address": address, "service": service}
    try:
        replies = list(stub.ServerReflectionInfo(iter(requests), timeout=DEADLINE_S))
    except grpc.RpcError as error:
        emit({**record, **status_fields(error)})
        return
    listed, methods, errors = [], None, []
    for reply in replies:
        kind = reply.WhichOneof("message_response")
        if kind == "list_services_response":
            listed = sorted(s.name for s in reply.list_services_response.service)
        elif kind == "file_descriptor_response":
            for raw in reply.file_descriptor_response.file_descriptor_proto:
                file = descriptor_pb2.FileDescriptorProto.FromString(raw)
                for declared in file.service:
                    if f"{file.package}.{declared.name}" == service:
                        methods = [m.name for m in declared.method]
        elif kind == "error_response":
            errors.append(reply.error_response.error_message)
    emit({**record, "code": "OK", "message": "; ".join(errors), "services": listed, "methods": methods})


def larder_calls():
    """One rpc per Larder service with a valid request, made through the generated stubs.

    Each entry: (method name, a function of the channel that makes the call and returns
    the answer as JSON). Streaming answers are summed up as their message count and parts.
    """
    from google.protobuf import timestamp_pb2
    from larder.ingestion.v1 import ingestion_service_pb2 as ingestion
    from larder.ingestion.v1 import ingestion_service_pb2_grpc as ingestion_grpc
    from larder.materialization.v1 import materialization_service_pb2 as materialization
    from larder.materialization.v1 import materialization_service_pb2_grpc as materialization_grpc
    from larder.offline.v1 import offline_retrieval_service_pb2 as offline
    from larder.offline.v1 import offline_retrieval_service_pb2_grpc as offline_grpc
    from larder.registry.v1 import registry_service_pb2 as registry
    from larder.registry.v1 import registry_service_pb2_grpc as registry_grpc
    from larder.serving.v1 import online_serving_service_pb2 as serving
    from larder.serving.v1 import online_serving_service_pb2_grpc as serving_grpc
    from larder.types.v1 import feature_pb2, row_batch_pb2, value_pb2

    def as_json(message):
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    def drivers(*ids):
        return value_pb2.RepeatedValue(val=[value_pb2.Value(int64_val=i) for i in ids])

    features = feature_pb2.FeatureList(val=["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"])

    def registry_version(channel):
        stub = registry_grpc.RegistryServiceStub(channel)
        return as_json(stub.GetRegistryVersion(registry.GetRegistryVersionRequest(), timeout=DEADLINE_S))

    def online_features(channel):
        stub = serving_grpc.OnlineServingServiceStub(channel)
        request = serving.GetOnlineFeaturesRequest(features=features, entities={"driver_id": drivers(1001, 1002)})
        return as_json(stub.GetOnlineFeatures(request, timeout=DEADLINE_S))

    def historical_features(channel):
        stub = offline_grpc.OfflineRetrievalServiceStub(channel)
        at = timestamp_pb2.Timestamp(seconds=1_700_000_000)
        requests = [
            offline.GetHistoricalFeaturesRequest(query=offline.HistoricalQuery(features=features)),
            offline.GetHistoricalFeaturesRequest(entity_rows=row_batch_pb2.RowBatch(
                columns={"driver_id": drivers(1001, 1002)}, event_timestamps=[at, at])),
        ]
        replies = list(stub.GetHistoricalFeatures(iter(requests), timeout=DEADLINE_S))
        return {"messages": len(replies), "parts": [reply.WhichOneof("part") for reply in replies]}

    def list_jobs(channel):
        stub = materialization_grpc.MaterializationServiceStub(channel)
        return as_json(stub.ListJobs(materialization.ListJobsRequest(page_size=10), timeout=DEADLINE_S))

    def consumer_status(channel):
        stub = ingestion_grpc.IngestionServiceStub(channel)
        return as_json(stub.GetConsumerStatus(ingestion.GetConsumerStatusRequest(), timeout=DEADLINE_S))

    return {
        "larder.registry.v1.RegistryService": ("GetRegistryVersion", registry_version),
        "larder.serving.v1.OnlineServingService": ("GetOnlineFeatures", online_features),
        "larder.offline.v1.OfflineRetrievalService": ("GetHistoricalFeatures", historical_features),
        "larder.materialization.v1.MaterializationService": ("ListJobs", list_jobs),
        "larder.ingestion.v1.IngestionService": ("GetConsumerStatus", consumer_status),
    }


def call_rpc(calls, channel, address, service):
    if service not in calls:
        emit({"check": "rpc", "address": address, "service": service, "method": None,
              "code": "CLIENT_HAS_NO_CALL", "message": f"no call defined for {service}"})
        return
    name, call = calls[service]
    record = {"check": "rpc", "address": address, "service": service, "method": f"{service}/{name}"}
    try:
        emit({**record, "code": "OK", "message": "", "response": call(channel)})
    except grpc.RpcError as error:
        emit({**record, **status_fields(error), "response": None})


def main():
    args, targets = parse_args()
    gen = load_stubs(args.stubs)
    calls = larder_calls()
    for service, address in targets:
        with open_channel(args, address) as raw:
            channel = raw if args.token is None else grpc.intercept_channel(raw, BearerToken(args.token))
            for name in ("", service):
                check_health(gen, channel, address, name)
            reflect(gen, channel, address, service)
            call_rpc(calls, channel, address, service)


if __name__ == "__main__":
    main()
