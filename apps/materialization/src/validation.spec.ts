// A batch whose statistics break the view's TFDV schema: the job fails before anything
// is written (materialization: fail), or writes and logs the anomalies (warn). Real
// registry and materialization services, DuckDB over Parquet, SQLite online.
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { schemaFromText } from '@larder/validation';
import { repo, startHarness, statsDescriptor, ts, watchToEnd, writeParquet, WINDOW } from './testing';
import type { Harness } from './testing';

jest.setTimeout(90_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ online: { type: 'sqlite' }, offline: { type: 'duckdb' } });
  await writeParquet(path.join(harness.dir, 'driver.parquet'), 2000, 50);
}, 60_000);
afterAll(() => harness?.close());

/** conv_rate is i * 0.5 for row i (up to ~1000 here), null every 11th row: a max of 10 is broken, 10000 is kept. */
async function applySchema(max: number, policy: registryV1.MaterializationValidationPolicy): Promise<void> {
  const request = repo(harness.project, {
    case: 'file',
    value: { path: path.join(harness.dir, 'driver.parquet'), format: registryV1.FileFormat.PARQUET },
  } as registryV1.DataSource['kind']);
  const schema = schemaFromText(`feature { name: "conv_rate" type: FLOAT float_domain { min: 0 max: ${max} } }
feature { name: "trips" type: INT }
feature { name: "label" type: BYTES presence { min_fraction: 1.0 } }`);
  const stats = request.featureViews.find((v) => v.name === 'driver_stats') as registryV1.FeatureView;
  stats.validation = create(registryV1.FeatureViewValidationSchema, { schema, materialization: policy });
  await harness.registry.applyRegistry(request);
}

const keys = [1, 2, 3].map((id) => ({
  joinKeys: ['driver_id'],
  entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })],
}));
async function storedRows(): Promise<number> {
  const [rows] = await harness.store.read([{ view: statsDescriptor(harness.project), entityKeys: keys }]);
  return (rows ?? []).filter((r) => r !== undefined).length;
}

async function materialize() {
  const started = await harness.jobs.materialize({
    project: harness.project,
    featureViews: ['driver_stats'],
    startTime: ts(WINDOW.start),
    endTime: ts(WINDOW.end),
  });
  return watchToEnd(harness.jobs, started.job!.id);
}

test('materialization: fail refuses a batch outside the schema before writing; warn writes it and logs the anomalies; a kept schema passes', async () => {
  await applySchema(10, registryV1.MaterializationValidationPolicy.UNSPECIFIED);
  const failed = await materialize();
  expect(failed.views[0]?.error).toMatch(
    /^the batch breaks the view's schema, nothing was written \(materialization: fail\): conv_rate: FLOAT_TYPE_BIG_FLOAT \(The largest value, \d+(\.5)?, is above the domain's maximum 10\.\)$/,
  );
  expect(failed.error).toContain('driver_stats: ');
  expect(await storedRows()).toBe(0);

  await applySchema(10, registryV1.MaterializationValidationPolicy.WARN);
  const warned = await materialize();
  expect(warned.error).toBe('');
  expect(await storedRows()).toBe(3);
  expect(harness.logs.join('\n')).toMatch(
    /the batch breaks the view schema; written anyway \(materialization: warn\).*"view":"driver_stats".*conv_rate: FLOAT_TYPE_BIG_FLOAT/,
  );

  await applySchema(10000, registryV1.MaterializationValidationPolicy.FAIL);
  const passed = await materialize();
  expect(passed.error).toBe('');
});
