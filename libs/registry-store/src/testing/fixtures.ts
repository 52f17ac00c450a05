import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { RegistryStoreError } from '../errors';

const T = typesV1.ValueType;

type ApplyInit = MessageInitShape<typeof registryV1.ApplyRegistryRequestSchema>;

export function applyRequest(init: ApplyInit): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, init);
}

export function driverEntity(): registryV1.Entity {
  return create(registryV1.EntitySchema, { name: 'driver', joinKey: 'driver_id', valueType: T.INT64, description: 'a driver', tags: { team: 'rides' } });
}

export function fileSource(name = 'driver_hourly'): registryV1.DataSource {
  return create(registryV1.DataSourceSchema, {
    name,
    timestampField: 'event_timestamp',
    kind: { case: 'file', value: { path: `data/${name}.parquet`, format: registryV1.FileFormat.PARQUET } },
  });
}

export function featureView(
  name: string,
  options: { source?: string; ttlSeconds?: number; tags?: Record<string, string>; features?: number } = {},
): registryV1.FeatureView {
  const count = options.features ?? 3;
  return create(registryV1.FeatureViewSchema, {
    name,
    entities: ['driver'],
    schema: Array.from({ length: count }, (_, i) => ({ name: `f${i}`, valueType: i % 2 === 0 ? T.DOUBLE : T.INT64, description: `feature ${i}` })),
    ttl: { seconds: BigInt(options.ttlSeconds ?? 86_400) },
    batchSource: options.source ?? 'driver_hourly',
    owner: 'ml@example.com',
    tags: options.tags ?? { team: 'rides' },
  });
}

export function featureService(name: string, views: string[]): registryV1.FeatureService {
  return create(registryV1.FeatureServiceSchema, { name, projections: views.map((featureView) => ({ featureView })) });
}

/** A valid project: one entity, one source, `views` views, one service over the first view. */
export function driverRequest(project: string, views = 2, init: Omit<ApplyInit, 'project'> = {}): registryV1.ApplyRegistryRequest {
  const names = Array.from({ length: views }, (_, i) => `driver_stats_${i}`);
  return applyRequest({
    project,
    entities: [driverEntity()],
    dataSources: [fileSource()],
    featureViews: names.map((n) => featureView(n)),
    featureServices: names.length > 0 ? [featureService('driver_service', [names[0] as string])] : [],
    ...init,
  } as ApplyInit);
}

/** A permission granting describe and read_online on the driver views to a role and a service account. */
export function permission(name = 'driver-readers', init: MessageInitShape<typeof registryV1.PermissionSchema> = {}): registryV1.Permission {
  const defaults: MessageInitShape<typeof registryV1.PermissionSchema> = {
    name,
    types: [registryV1.ObjectKind.FEATURE_VIEW],
    namePatterns: ['driver_*'],
    requiredTags: { team: 'rides' },
    actions: [registryV1.Action.DESCRIBE, registryV1.Action.READ_ONLINE],
    policy: { roles: ['rides-analysts'], serviceAccounts: ['serving/kserve-rides'] },
  };
  return create(registryV1.PermissionSchema, { ...defaults, ...init } as MessageInitShape<typeof registryV1.PermissionSchema>);
}

/** The RegistryStoreError a store call fails with; fails the test when it succeeds or fails otherwise. */
export async function storeRejection(call: Promise<unknown>): Promise<RegistryStoreError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RegistryStoreError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}
