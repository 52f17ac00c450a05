// Command larder-e2e-go-client calls running Larder services through Go stubs
// generated from proto/.
//
//	larder-e2e-go-client SERVICE=HOST:PORT [SERVICE=HOST:PORT ...]
//
// For each target it checks health (the empty name and SERVICE), lists services and fetches
// the service's descriptor through reflection, and calls one rpc of SERVICE with
// a valid request. Every call prints one JSON line to stdout; the exit code is 0
// unless the client itself broke, whatever the server answered.
//
// Larder's stubs are imported by the go_package paths the contracts declare.
// Health and reflection come from grpc-go, generated from the same upstream
// files that proto/grpc keeps wire-identical.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	ingestionv1 "github.com/larder-dev/larder/gen/go/larder/ingestion/v1"
	materializationv1 "github.com/larder-dev/larder/gen/go/larder/materialization/v1"
	offlinev1 "github.com/larder-dev/larder/gen/go/larder/offline/v1"
	registryv1 "github.com/larder-dev/larder/gen/go/larder/registry/v1"
	servingv1 "github.com/larder-dev/larder/gen/go/larder/serving/v1"
	typesv1 "github.com/larder-dev/larder/gen/go/larder/types/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const deadline = 5 * time.Second

// larderCall calls one rpc with a valid request and returns its method name and answer.
type larderCall func(ctx context.Context, conn *grpc.ClientConn) (method string, response any, err error)

var features = &typesv1.FeatureList{Val: []string{"driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"}}

func drivers(ids ...int64) *typesv1.RepeatedValue {
	values := &typesv1.RepeatedValue{}
	for _, id := range ids {
		values.Val = append(values.Val, &typesv1.Value{Val: &typesv1.Value_Int64Val{Int64Val: id}})
	}
	return values
}

// unary turns a unary answer into JSON, as protojson spells it.
func unary(method string, response proto.Message, err error) (string, any, error) {
	if err != nil {
		return method, nil, err
	}
	encoded, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(response)
	if err != nil {
		return method, nil, err
	}
	return method, json.RawMessage(encoded), nil
}

// partName names the set case of a streamed message's `part` oneof, as Python's WhichOneof does.
func partName(reply proto.Message) any {
	message := reply.ProtoReflect()
	oneof := message.Descriptor().Oneofs().ByName("part")
	if oneof == nil {
		return nil
	}
	if field := message.WhichOneof(oneof); field != nil {
		return string(field.Name())
	}
	return nil
}

// calls holds one rpc per Larder service, made through the generated clients.
var calls = map[string]larderCall{
	"larder.registry.v1.RegistryService": func(ctx context.Context, conn *grpc.ClientConn) (string, any, error) {
		response, err := registryv1.NewRegistryServiceClient(conn).GetRegistryVersion(ctx, &registryv1.GetRegistryVersionRequest{})
		return unary("GetRegistryVersion", response, err)
	},
	"larder.serving.v1.OnlineServingService": func(ctx context.Context, conn *grpc.ClientConn) (string, any, error) {
		response, err := servingv1.NewOnlineServingServiceClient(conn).GetOnlineFeatures(ctx, &servingv1.GetOnlineFeaturesRequest{
			Kind:     &servingv1.GetOnlineFeaturesRequest_Features{Features: features},
			Entities: map[string]*typesv1.RepeatedValue{"driver_id": drivers(1001, 1002)},
		})
		return unary("GetOnlineFeatures", response, err)
	},
	"larder.offline.v1.OfflineRetrievalService": func(ctx context.Context, conn *grpc.ClientConn) (string, any, error) {
		const method = "GetHistoricalFeatures"
		stream, err := offlinev1.NewOfflineRetrievalServiceClient(conn).GetHistoricalFeatures(ctx)
		if err != nil {
			return method, nil, err
		}
		at := timestamppb.New(time.Unix(1_700_000_000, 0))
		requests := []*offlinev1.GetHistoricalFeaturesRequest{
			{Message: &offlinev1.GetHistoricalFeaturesRequest_Query{Query: &offlinev1.HistoricalQuery{
				Kind: &offlinev1.HistoricalQuery_Features{Features: features},
			}}},
			{Message: &offlinev1.GetHistoricalFeaturesRequest_EntityRows{EntityRows: &typesv1.RowBatch{
				Columns:         map[string]*typesv1.RepeatedValue{"driver_id": drivers(1001, 1002)},
				EventTimestamps: []*timestamppb.Timestamp{at, at},
			}}},
		}
		for _, request := range requests {
			// A server that already answered ends the stream; its status comes from Recv.
			if err := stream.Send(request); err != nil && !errors.Is(err, io.EOF) {
				return method, nil, err
			}
		}
		if err := stream.CloseSend(); err != nil {
			return method, nil, err
		}
		parts := []any{}
		for {
			reply, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return method, map[string]any{"messages": len(parts), "parts": parts}, nil
			}
			if err != nil {
				return method, nil, err
			}
			parts = append(parts, partName(reply))
		}
	},
	"larder.materialization.v1.MaterializationService": func(ctx context.Context, conn *grpc.ClientConn) (string, any, error) {
		response, err := materializationv1.NewMaterializationServiceClient(conn).ListJobs(ctx, &materializationv1.ListJobsRequest{PageSize: 10})
		return unary("ListJobs", response, err)
	},
	"larder.ingestion.v1.IngestionService": func(ctx context.Context, conn *grpc.ClientConn) (string, any, error) {
		response, err := ingestionv1.NewIngestionServiceClient(conn).GetConsumerStatus(ctx, &ingestionv1.GetConsumerStatusRequest{})
		return unary("GetConsumerStatus", response, err)
	},
}

type record map[string]any

func emit(r record) {
	r["client"] = "go"
	line, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot encode %v: %v\n", r, err)
		os.Exit(2)
	}
	fmt.Println(string(line))
}

func statusFields(r record, err error) record {
	s := status.Convert(err)
	r["code"] = codeNames[s.Code()]
	r["message"] = s.Message()
	return r
}

// codeNames spells codes as the gRPC spec and the Python client do (DEADLINE_EXCEEDED, not DeadlineExceeded).
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

func checkHealth(conn *grpc.ClientConn, address, service string) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	r := record{"check": "health", "address": address, "service": service}
	reply, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		emit(statusFields(r, err))
		return
	}
	r["code"], r["message"], r["status"] = "OK", "", reply.GetStatus().String()
	emit(r)
}

// reflect lists the services, then fetches the file declaring ours, on one stream.
func reflect(conn *grpc.ClientConn, address, service string) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	r := record{"check": "reflection", "address": address, "service": service}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		emit(statusFields(r, err))
		return
	}
	requests := []*reflectionpb.ServerReflectionRequest{
		{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""}},
		{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: service}},
	}
	for _, request := range requests {
		if err := stream.Send(request); err != nil {
			emit(statusFields(r, err))
			return
		}
	}
	if err := stream.CloseSend(); err != nil {
		emit(statusFields(r, err))
		return
	}
	listed := []string{}
	var methods []string
	var problems []string
	for {
		reply, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			emit(statusFields(r, err))
			return
		}
		switch answer := reply.GetMessageResponse().(type) {
		case *reflectionpb.ServerReflectionResponse_ListServicesResponse:
			for _, s := range answer.ListServicesResponse.GetService() {
				listed = append(listed, s.GetName())
			}
		case *reflectionpb.ServerReflectionResponse_FileDescriptorResponse:
			for _, raw := range answer.FileDescriptorResponse.GetFileDescriptorProto() {
				file := &descriptorpb.FileDescriptorProto{}
				if err := proto.Unmarshal(raw, file); err != nil {
					problems = append(problems, fmt.Sprintf("undecodable descriptor: %v", err))
					continue
				}
				for _, declared := range file.GetService() {
					if file.GetPackage()+"."+declared.GetName() == service {
						methods = []string{}
						for _, m := range declared.GetMethod() {
							methods = append(methods, m.GetName())
						}
					}
				}
			}
		case *reflectionpb.ServerReflectionResponse_ErrorResponse:
			problems = append(problems, answer.ErrorResponse.GetErrorMessage())
		}
	}
	sort.Strings(listed)
	r["code"], r["message"], r["services"], r["methods"] = "OK", strings.Join(problems, "; "), listed, methods
	emit(r)
}

func callRPC(conn *grpc.ClientConn, address, service string) {
	call, ok := calls[service]
	if !ok {
		emit(record{"check": "rpc", "address": address, "service": service, "method": nil,
			"code": "CLIENT_HAS_NO_CALL", "message": "no call defined for " + service})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	method, response, err := call(ctx, conn)
	r := record{"check": "rpc", "address": address, "service": service, "method": service + "/" + method, "response": nil}
	if err != nil {
		emit(statusFields(r, err))
		return
	}
	r["code"], r["message"], r["response"] = "OK", "", response
	emit(r)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: larder-e2e-go-client SERVICE=HOST:PORT [SERVICE=HOST:PORT ...]")
		os.Exit(2)
	}
	for _, target := range os.Args[1:] {
		service, address, ok := strings.Cut(target, "=")
		if !ok || service == "" || address == "" {
			fmt.Fprintf(os.Stderr, "expected SERVICE=HOST:PORT, got %q\n", target)
			os.Exit(2)
		}
		conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintf(os.Stderr, "cannot dial %s: %v\n", address, err)
			os.Exit(2)
		}
		checkHealth(conn, address, "")
		checkHealth(conn, address, service)
		reflect(conn, address, service)
		callRPC(conn, address, service)
		if err := conn.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "closing %s: %v\n", address, err)
		}
	}
}
