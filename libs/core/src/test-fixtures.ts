// A small, valid driver-stats project that tests mutate one rule at a time.
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { registryV1, typesV1 } from '@larder/proto';
import type { RegistrySet } from './registry-set';

const T = typesV1.ValueType;

export function field(name: string, valueType: typesV1.ValueType, extra: Partial<Pick<registryV1.Field, 'description' | 'tags'>> = {}): registryV1.Field {
  return create(registryV1.FieldSchema, { name, valueType, ...extra });
}

export function seconds(n: number): ReturnType<typeof create<typeof DurationSchema>> {
  return create(DurationSchema, { seconds: BigInt(n) });
}

export function driverStatsSet(): RegistrySet {
  return {
    project: create(registryV1.ProjectSchema, { name: 'driver_stats', owner: 'ml-team@example.com', tags: { env: 'dev' } }),
    entities: [
      create(registryV1.EntitySchema, { name: 'driver', joinKey: 'driver_id', valueType: T.INT64, description: 'A driver' }),
      create(registryV1.EntitySchema, { name: 'customer', joinKey: 'customer_id', valueType: T.STRING }),
    ],
    dataSources: [
      create(registryV1.DataSourceSchema, {
        name: 'driver_stats_source',
        timestampField: 'event_timestamp',
        createdTimestampColumn: 'created',
        kind: { case: 'file', value: { path: 'data/driver_stats.parquet', format: registryV1.FileFormat.PARQUET } },
      }),
      create(registryV1.DataSourceSchema, {
        name: 'customer_source',
        timestampField: 'ts',
        kind: { case: 'postgres', value: { location: { case: 'table', value: 'public.customers' } } },
      }),
      create(registryV1.DataSourceSchema, {
        name: 'driver_stats_push',
        kind: { case: 'push', value: { batchSource: 'driver_stats_source' } },
      }),
      create(registryV1.DataSourceSchema, {
        name: 'trips_stream',
        timestampField: 'ts',
        kind: {
          case: 'kafka',
          value: {
            bootstrapServers: ['localhost:9092'],
            topic: 'trips',
            messageFormat: { format: { case: 'json', value: {} } },
            batchSource: 'driver_stats_source',
          },
        },
      }),
      create(registryV1.DataSourceSchema, {
        name: 'transaction',
        kind: { case: 'request', value: { schema: [field('val_to_add', T.INT64), field('amount', T.DOUBLE), field('currency', T.STRING)] } },
      }),
    ],
    featureViews: [
      create(registryV1.FeatureViewSchema, {
        name: 'driver_hourly_stats',
        entities: ['driver'],
        schema: [
          field('conv_rate', T.FLOAT, { description: 'Conversion rate', tags: { quality: 'gold' } }),
          field('acc_rate', T.DOUBLE, { description: 'Acceptance rate' }),
          field('avg_daily_trips', T.INT64, { description: 'Trips per day' }),
        ],
        ttl: seconds(86400),
        batchSource: 'driver_stats_source',
        streamSource: 'driver_stats_push',
        owner: 'ml-team@example.com',
        tags: { team: 'drivers', quality: 'silver' },
        description: 'Hourly driver statistics',
      }),
      create(registryV1.FeatureViewSchema, {
        name: 'customer_profile',
        entities: ['customer'],
        schema: [field('lifetime_value', T.DOUBLE), field('segment', T.STRING, { description: 'Marketing segment' })],
        batchSource: 'customer_source',
        owner: 'growth@example.com',
        tags: { team: 'growth' },
      }),
    ],
    onDemandFeatureViews: [
      create(registryV1.OnDemandFeatureViewSchema, {
        name: 'transformed_conv_rate',
        sources: [
          { source: { case: 'requestSource', value: 'transaction' } },
          { source: { case: 'featureView', value: { featureView: 'driver_hourly_stats', features: ['conv_rate', 'avg_daily_trips'] } } },
        ],
        outputs: [
          { name: 'conv_rate_plus_val', valueType: T.DOUBLE, expression: 'driver_hourly_stats.conv_rate + double(transaction.val_to_add)' },
          { name: 'trips_plus_val', valueType: T.INT64, expression: 'driver_hourly_stats.avg_daily_trips + transaction.val_to_add' },
          { name: 'is_usd', valueType: T.BOOL, expression: "transaction.currency == 'USD'" },
        ],
        owner: 'ml-team@example.com',
      }),
    ],
    featureServices: [
      create(registryV1.FeatureServiceSchema, {
        name: 'driver_activity',
        projections: [
          { featureView: 'driver_hourly_stats', features: ['conv_rate', 'acc_rate'] },
          { featureView: 'transformed_conv_rate' },
          { featureView: 'customer_profile', joinKeyMap: { customer_id: 'rider_id' } },
        ],
      }),
    ],
    savedDatasets: [
      create(registryV1.SavedDatasetSchema, {
        name: 'training_2024',
        features: ['driver_hourly_stats:conv_rate', 'transformed_conv_rate:conv_rate_plus_val'],
        joinKeys: ['driver_id'],
        featureService: 'driver_activity',
        storage: { kind: { case: 'file', value: { path: 'data/training.parquet' } } },
      }),
    ],
    permissions: [
      create(registryV1.PermissionSchema, {
        name: 'driver-readers',
        types: [registryV1.ObjectKind.FEATURE_VIEW, registryV1.ObjectKind.FEATURE_SERVICE],
        namePatterns: ['driver_*'],
        requiredTags: { team: 'drivers' },
        actions: [registryV1.Action.DESCRIBE, registryV1.Action.READ_ONLINE],
        policy: { roles: ['driver-analysts'], serviceAccounts: ['serving/kserve-drivers'] },
      }),
    ],
  };
}
