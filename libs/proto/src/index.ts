// The generated contracts, one namespace per proto package.
export * as healthV1 from './gen/grpc/health/v1/health_pb';
export * as reflectionV1 from './gen/grpc/reflection/v1/reflection_pb';
export * as reflectionV1alpha from './gen/grpc/reflection/v1alpha/reflection_pb';

export * as typesV1 from './types-v1';
export * as registryV1 from './registry-v1';
export * as servingV1 from './gen/larder/serving/v1/online_serving_service_pb';
export * as offlineV1 from './gen/larder/offline/v1/offline_retrieval_service_pb';
export * as materializationV1 from './gen/larder/materialization/v1/materialization_service_pb';
export * as ingestionV1 from './gen/larder/ingestion/v1/ingestion_service_pb';
export * as statisticsV1 from './gen/larder/statistics/v1/statistics_service_pb';

// TFDV's contracts (tensorflow/metadata v0), declared wire-compatible.
export * as tfmdV0 from './tensorflow-metadata-v0';

// Feast's serving contract and value types, declared for wire compatibility (Feast's clients call online serving).
export * as feastServing from './gen/feast/serving/ServingService_pb';
export * as feastCore from './gen/feast/core/Registry_pb';
export * as feastTypes from './gen/feast/types/Value_pb';

// Hand-written wire format for hot messages (serving responses, streamed training sets).
export * as wire from './wire';

// Feast's JSON shape of an online response (the HTTP gateway and the CLI's --output json).
export * as feastJson from './feast-json';
