// larder.types.v1, which spans several proto files.
export * from './gen/larder/types/v1/value_pb';
export * from './gen/larder/types/v1/entity_key_pb';
export * from './gen/larder/types/v1/feature_pb';
export * from './gen/larder/types/v1/row_batch_pb';
