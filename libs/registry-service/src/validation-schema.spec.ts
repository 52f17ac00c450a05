import { create, equals } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, tfmdV0, typesV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { rpcRejection as failure, runInProcess } from '@larder/testing';
import { schemaFromText } from '@larder/validation';
import { registryService } from './service';

// A view's TFDV schema that cannot apply to the view (a feature it does not have, a
// domain that does not fit the value type) is refused at apply and at plan, naming the
// view, the schema feature and why; nothing stored changes.
const T = typesV1.ValueType;
let dir = '';
let handle: ServerHandle;
let client: RpcClient<typeof registryV1.RegistryService>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-registry-schema-'));
  handle = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'), LARDER_LOG_LEVEL: 'error' });
  client = createClient(registryV1.RegistryService, handle.address);
});
afterAll(async () => {
  client.close();
  await handle.shutdown('test over');
  await rm(dir, { recursive: true, force: true });
});

function apply(schemaText: string, planOnly = false): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: 'rides',
    planOnly,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [{ name: 'trips', timestampField: 'ts', kind: { case: 'file', value: { path: 'trips.parquet', format: registryV1.FileFormat.PARQUET } } }],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        batchSource: 'trips',
        schema: [
          { name: 'conv_rate', valueType: T.DOUBLE },
          { name: 'payment', valueType: T.STRING },
        ],
        validation: { schema: schemaFromText(schemaText) },
      },
    ],
  });
}

const GOOD =
  'feature { name: "conv_rate" type: FLOAT float_domain { min: 0 max: 1 } }\nfeature { name: "payment" type: BYTES string_domain { value: "Cash" } }\n';

it('refuses a schema naming a feature the view lacks or with a domain that does not fit, at plan and apply; the stored view stays', async () => {
  const { version } = await client.applyRegistry(apply(GOOD));
  const stored = (await client.getFeatureView({ project: 'rides', name: 'driver_stats' })).featureView as registryV1.FeatureView;
  expect(equals(tfmdV0.SchemaSchema, stored.validation?.schema as tfmdV0.Schema, schemaFromText(GOOD))).toBe(true);

  const unknown = 'feature { name: "conv_rate" float_domain { min: 0 max: 2 } }\nfeature { name: "tips" type: FLOAT }\n';
  const misfit = 'feature { name: "conv_rate" string_domain { value: "high" } }\n';
  for (const planOnly of [true, false]) {
    const refused = await failure(client.applyRegistry(apply(unknown, planOnly)));
    expect([refused.code, refused.message]).toEqual([
      Code.INVALID_ARGUMENT,
      "feature view 'driver_stats': validation.schema.feature[1].name: has a validation schema naming feature 'tips', which the view does not have; its features are conv_rate, payment",
    ]);
    const wrong = await failure(client.applyRegistry(apply(misfit, planOnly)));
    expect([wrong.code, wrong.message]).toEqual([
      Code.INVALID_ARGUMENT,
      "feature view 'driver_stats': validation.schema.feature[0].string_domain: has a validation schema giving " +
        "feature 'conv_rate' a string_domain, which does not fit its value type double: string_domain describes string " +
        'and bytes features',
    ]);
  }

  expect((await client.getRegistryVersion({})).version).toBe(version);
  const after = (await client.getFeatureView({ project: 'rides', name: 'driver_stats' })).featureView as registryV1.FeatureView;
  expect(equals(registryV1.FeatureViewSchema, after, stored)).toBe(true);
});
