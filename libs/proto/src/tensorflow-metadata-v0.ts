// tensorflow.metadata.v0 (TFDV's statistics, schema and anomalies), which
// spans several proto files; see proto/tensorflow/metadata/v0.
export * from './gen/tensorflow/metadata/v0/path_pb';
export * from './gen/tensorflow/metadata/v0/statistics_pb';
export * from './gen/tensorflow/metadata/v0/schema_pb';
export * from './gen/tensorflow/metadata/v0/anomalies_pb';
