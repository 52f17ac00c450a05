// larder.registry.v1, which spans several proto files.
export * from './gen/larder/registry/v1/common_pb';
export * from './gen/larder/registry/v1/project_pb';
export * from './gen/larder/registry/v1/entity_pb';
export * from './gen/larder/registry/v1/data_source_pb';
export * from './gen/larder/registry/v1/projection_pb';
export * from './gen/larder/registry/v1/feature_view_pb';
export * from './gen/larder/registry/v1/on_demand_feature_view_pb';
export * from './gen/larder/registry/v1/feature_service_pb';
export * from './gen/larder/registry/v1/saved_dataset_pb';
export * from './gen/larder/registry/v1/permission_pb';
export * from './gen/larder/registry/v1/discovery_pb';
export * from './gen/larder/registry/v1/materialization_state_pb';
export * from './gen/larder/registry/v1/registry_service_pb';
