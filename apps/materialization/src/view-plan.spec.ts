import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { viewPlan } from './view-plan';
import type { RegistryView } from './view-plan';

const view = create(registryV1.FeatureViewSchema, {
  name: 'fresh',
  entities: ['driver'],
  schema: [{ name: 'x', valueType: typesV1.ValueType.DOUBLE }],
  streamSource: 'trips',
});
const registry: RegistryView = {
  featureView: (_project, name) => (name === view.name ? view : undefined),
  featureViews: () => [view],
  entity: () => create(registryV1.EntitySchema, { name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 }),
  dataSource: () => undefined,
};

describe('viewPlan', () => {
  it('refuses a stream-fed view without a batch_source with FAILED_PRECONDITION naming the view', () => {
    let error: unknown;
    try {
      viewPlan(registry, 'rides', 'fresh');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(Code.FAILED_PRECONDITION);
    expect((error as RpcError).message).toBe(
      "feature view 'fresh' has no batch_source to materialize from (it is stream-fed: stream source 'trips' writes it online)",
    );
  });
});
