import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { materializationV1, registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';

const T = typesV1.ValueType;

/**
 * The definitions the Python and Go clients' requests name (driver_hourly_stats:conv_rate
 * and :acc_rate for int64 driver_id rows), applied to the e2e registry before the other
 * apps start, so their rpcs answer OK over an empty store rather than NOT_FOUND.
 */
export async function applyClientRepo(registryAddress: string): Promise<void> {
  const client = createClient(registryV1.RegistryService, registryAddress);
  try {
    await client.applyRegistry(
      create(registryV1.ApplyRegistryRequestSchema, {
        project: 'e2e',
        entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
        dataSources: [
          {
            name: 'driver_stats_source',
            timestampField: 'event_timestamp',
            kind: { case: 'file', value: { path: 'driver_stats.parquet', format: registryV1.FileFormat.PARQUET } },
          },
        ],
        featureViews: [
          {
            name: 'driver_hourly_stats',
            entities: ['driver'],
            batchSource: 'driver_stats_source',
            schema: [
              { name: 'conv_rate', valueType: T.DOUBLE },
              { name: 'acc_rate', valueType: T.DOUBLE },
            ],
          },
        ],
      }),
      { timeoutMs: 10_000 },
    );
  } finally {
    client.close();
  }
}

/**
 * Starts one materialization job of the e2e view, so the clients' ListJobs has a
 * job to list. Its source file is never written, so the job ends FAILED; a failed
 * job is listed like any other.
 */
export async function startClientJob(materializationAddress: string): Promise<void> {
  const client = createClient(materializationV1.MaterializationService, materializationAddress);
  try {
    const end = new Date(Date.UTC(2026, 0, 2));
    const start = new Date(Date.UTC(2026, 0, 1));
    await client.materialize(
      { project: 'e2e', featureViews: ['driver_hourly_stats'], startTime: timestampFromDate(start), endTime: timestampFromDate(end) },
      { timeoutMs: 10_000 },
    );
  } finally {
    client.close();
  }
}
