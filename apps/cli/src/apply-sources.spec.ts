// `larder plan` / `larder apply` check the repo's batch sources before touching the
// registry: files with DuckDB, BigQuery tables on the emulator larder.yaml names. Each
// problem is shown at the definition's file, line and key; --skip-source-check skips it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { runLarderCli as larder, testServices } from '@larder/testing';

jest.setTimeout(180_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-sources-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('file sources: a missing file, a missing column and a timestamp that is not one, each at its line and key', async () => {
  const repo = path.join(work, 'files');
  expect((await larder(['init', 'files', '-q'], work)).code).toBe(0);
  // The example repo reads as declared.
  const clean = await larder(['plan', '-q'], repo);
  expect(clean.stderr).toBe('');
  expect(clean.code).toBe(0);
  writeFileSync(
    path.join(repo, 'extra.yaml'),
    [
      'kind: FeatureView',
      'name: conv_boost',
      'entities: [driver]',
      'schema:',
      '  - name: conv_rate',
      '    value_type: float',
      '  - name: boost',
      '    value_type: double',
      'batch_source: driver_stats_source',
      '---',
      'kind: FileSource',
      'name: gone_source',
      'path: data/gone.parquet',
      'timestamp_field: event_timestamp',
      '---',
      'kind: FeatureView',
      'name: gone_view',
      'entities: [driver]',
      'schema:',
      '  - name: conv_rate',
      '    value_type: float',
      'batch_source: gone_source',
      '---',
      'kind: FileSource',
      'name: wrong_time_source',
      'path: data/driver_stats.parquet',
      'timestamp_field: avg_daily_trips',
      '---',
      'kind: FeatureView',
      'name: wrong_time_view',
      'entities: [driver]',
      'schema:',
      '  - name: conv_rate',
      '    value_type: float',
      'batch_source: wrong_time_source',
      '',
    ].join('\n'),
  );
  const run = await larder(['apply', '-q'], repo);
  expect(run.code).toBe(1);
  const lines = run.stderr.split('\n');
  expect(lines[0]).toBe(`error: the feature repo ${repo} has 3 problems:`);
  expect(lines).toContain(
    `  extra.yaml:7:5: schema[1].name: source 'driver_stats_source' has no column "boost" (feature 'boost'); its ` +
      `columns are: "event_timestamp", "created", "driver_id", "conv_rate", "acc_rate", "avg_daily_trips"`,
  );
  expect(lines).toContain(`  extra.yaml:13:1: path: source 'gone_source': no file matches '${path.join(repo, 'data/gone.parquet')}'`);
  expect(lines).toContain(
    `  extra.yaml:27:1: timestamp_field: source 'wrong_time_source' column "avg_daily_trips" (timestamp_field) has type BIGINT; expected a timestamp`,
  );
  expect(run.stderr).toContain('--skip-source-check');

  // Nothing was applied before: skipping the check, the three views are still to create.
  const skipped = await larder(['apply', '-q', '--skip-source-check'], repo);
  expect(skipped.stderr).toBe('');
  expect(skipped.code).toBe(0);
  for (const view of ['conv_boost', 'gone_view', 'wrong_time_view']) expect(skipped.stdout).toMatch(new RegExp(`^\\+\\s+feature-view\\s+${view}\\s`, 'm'));
});

test('BigQuery sources: a table that does not exist and a column it lacks, checked on the offline store larder.yaml names', async () => {
  const { endpoint, projectId } = testServices().bigquery;
  const dataset = `larder_cli_sources_${Date.now().toString(36)}`;
  const bigquery = new BigQuery({ apiEndpoint: endpoint, projectId });
  await bigquery.createDataset(dataset);
  try {
    await bigquery.dataset(dataset).createTable('drivers', {
      schema: {
        fields: [
          { name: 'driver_id', type: 'INT64' },
          { name: 'ts', type: 'TIMESTAMP' },
          { name: 'trips', type: 'INT64' },
        ],
      },
    });
    const repo = path.join(work, 'bq');
    expect((await larder(['init', 'bq', '-q'], work)).code).toBe(0);
    writeFileSync(
      path.join(repo, 'larder.yaml'),
      [
        'project: bq',
        'registry:',
        '  path: data/registry.db',
        'offline_store:',
        '  type: bigquery',
        `  project_id: ${projectId}`,
        `  dataset: ${dataset}`,
        `  api_endpoint: ${endpoint}`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(repo, 'bq.yaml'),
      [
        'kind: BigQuerySource',
        'name: drivers_bq',
        `table: ${projectId}.${dataset}.drivers`,
        'timestamp_field: ts',
        '---',
        'kind: FeatureView',
        'name: drivers_bq_view',
        'entities: [driver]',
        'schema:',
        '  - name: trips',
        '    value_type: int64',
        '  - name: rating',
        '    value_type: double',
        'batch_source: drivers_bq',
        '---',
        'kind: BigQuerySource',
        'name: missing_bq',
        `table: ${projectId}.${dataset}.missing`,
        'timestamp_field: ts',
        '---',
        'kind: FeatureView',
        'name: missing_bq_view',
        'entities: [driver]',
        'schema:',
        '  - name: trips',
        '    value_type: int64',
        'batch_source: missing_bq',
        '',
      ].join('\n'),
    );
    // As a user's shell: nothing tells Google's auth library to skip the metadata server.
    const run = await larder(['plan', '-q'], repo, { METADATA_SERVER_DETECTION: '' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: the feature repo ${repo} has 2 problems:\n`);
    expect(run.stderr).toContain(
      `\n  bq.yaml:12:5: schema[1].name: source 'drivers_bq' has no column "rating" (feature 'rating'); its columns are: "driver_id", "ts", "trips"\n`,
    );
    expect(run.stderr).toMatch(
      new RegExp(
        `\\n {2}bq\\.yaml:18:1: table: source 'missing_bq' \\(table ${projectId}\\.${dataset}\\.missing\\): Not found: Table ${projectId}\\.${dataset}\\.missing was not found`,
      ),
    );
    expect(run.stderr).not.toContain('MetadataLookupWarning');
  } finally {
    await bigquery
      .dataset(dataset)
      .delete({ force: true })
      .catch(() => undefined);
  }
});
