// The same repo as examples/driver-stats, written with the sdk's builders.
import {
  defineEntity,
  defineFeatureService,
  defineFeatureView,
  defineFileSource,
  defineOnDemandFeatureView,
  defineProject,
  definePushSource,
  defineRequestSource,
} from '@larder/sdk';

export const project = defineProject({
  name: 'driver_stats',
  description: 'Hourly statistics of ride-hailing drivers.',
  owner: 'ml-platform@example.com',
});

export const driver = defineEntity({
  name: 'driver',
  joinKey: 'driver_id',
  valueType: 'int64',
  description: 'A driver, by id.',
});

export const driverStatsSource = defineFileSource({
  name: 'driver_stats_source',
  path: 'data/driver_stats.parquet',
  format: 'parquet',
  timestampField: 'event_timestamp',
  createdTimestampColumn: 'created',
  description: 'Hourly driver statistics.',
});

const driverStatsSchema = [
  { name: 'conv_rate', valueType: 'float32', description: 'Share of offers the driver converted in the hour.' },
  { name: 'acc_rate', valueType: 'float32', description: 'Share of offers the driver accepted in the hour.' },
  { name: 'avg_daily_trips', valueType: 'int64', description: 'Average trips per day.' },
] as const;

export const driverHourlyStats = defineFeatureView({
  name: 'driver_hourly_stats',
  entities: [driver],
  ttl: '1d',
  schema: driverStatsSchema,
  batchSource: driverStatsSource,
  owner: 'ml-platform@example.com',
  tags: { team: 'driver_performance' },
});

export const driverStatsPushSource = definePushSource({
  name: 'driver_stats_push_source',
  batchSource: driverStatsSource,
  timestampField: 'event_timestamp',
  createdTimestampColumn: 'created',
});

export const driverHourlyStatsFresh = defineFeatureView({
  name: 'driver_hourly_stats_fresh',
  entities: [driver],
  ttl: 86400,
  schema: driverStatsSchema.map(({ name, valueType }) => ({ name, valueType })),
  batchSource: driverStatsSource,
  streamSource: driverStatsPushSource,
  description: 'driver_hourly_stats kept fresh by pushes.',
  tags: { team: 'driver_performance' },
});

export const valsToAdd = defineRequestSource({
  name: 'vals_to_add',
  schema: [
    { name: 'val_to_add', valueType: 'int64' },
    { name: 'val_to_add_2', valueType: 'int64' },
  ],
});

export const transformedConvRate = defineOnDemandFeatureView({
  name: 'transformed_conv_rate',
  sources: [driverHourlyStats, valsToAdd],
  outputs: [
    {
      name: 'conv_rate_plus_val1',
      valueType: 'float64',
      expression: 'double(driver_hourly_stats.conv_rate) + double(vals_to_add.val_to_add)',
    },
    {
      name: 'conv_rate_plus_val2',
      valueType: 'float64',
      expression: 'double(driver_hourly_stats.conv_rate) + double(vals_to_add.val_to_add_2)',
    },
  ],
});

export const driverActivity = defineFeatureService({
  name: 'driver_activity',
  description: 'Features of the driver-ranking model.',
  projections: [{ featureView: driverHourlyStats, features: ['conv_rate', 'acc_rate'] }, transformedConvRate],
});
