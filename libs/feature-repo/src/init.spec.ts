import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { initRepo, loadFeatureRepo } from './index';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'larder-init-'));
  dirs.push(dir);
  return dir;
}

async function query(sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    return (await connection.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('initRepo', () => {
  it('writes a loadable driver-stats repo with Parquet sample data DuckDB can read', async () => {
    const dir = path.join(tempDir(), 'quickstart');
    const end = new Date('2026-03-01T12:34:56Z');
    const result = await initRepo(dir, { data: { end, hours: 48 } });
    expect(result.files).toEqual(['README.md', 'data/driver_stats.parquet', 'driver_stats.yaml', 'larder.yaml']);
    expect(result.sampleRows).toBe(5 * 48);

    const { config, set } = await loadFeatureRepo(dir);
    expect(config.project).toBe('driver_stats');
    const source = set.dataSources.find((s) => s.name === 'driver_stats_source');
    expect(source?.kind.case).toBe('file');
    const parquet = source?.kind.case === 'file' ? source.kind.value.path : '';
    expect(parquet).toBe(path.join(dir, 'data/driver_stats.parquet'));

    const columns = await query(`DESCRIBE SELECT * FROM read_parquet('${parquet}')`);
    expect(columns.map((c) => [c['column_name'], c['column_type']])).toEqual([
      ['event_timestamp', 'TIMESTAMP WITH TIME ZONE'],
      ['created', 'TIMESTAMP WITH TIME ZONE'],
      ['driver_id', 'BIGINT'],
      ['conv_rate', 'FLOAT'],
      ['acc_rate', 'FLOAT'],
      ['avg_daily_trips', 'BIGINT'],
    ]);
    const [stats] = await query(`
      SELECT count(*)::INTEGER AS n, count(DISTINCT driver_id)::INTEGER AS drivers, min(driver_id)::INTEGER AS first,
             max(event_timestamp)::VARCHAR AS newest, min(event_timestamp)::VARCHAR AS oldest,
             min(conv_rate) >= 0 AND max(conv_rate) < 1 AS rates_ok, bool_and(created > event_timestamp) AS created_after,
             count(DISTINCT conv_rate)::INTEGER AS distinct_rates
      FROM read_parquet('${parquet}')`);
    expect(stats).toEqual({
      n: 240,
      drivers: 5,
      first: 1001,
      newest: '2026-03-01 12:00:00+00',
      oldest: '2026-02-27 13:00:00+00',
      rates_ok: true,
      created_after: true,
      distinct_rates: expect.any(Number),
    });
    expect(stats?.['distinct_rates']).toBeGreaterThan(100);
  });

  it('gives the same data for the same options', async () => {
    const end = new Date('2026-01-01T00:00:00Z');
    const a = await initRepo(path.join(tempDir(), 'a'), { data: { end, hours: 10 } });
    const b = await initRepo(path.join(tempDir(), 'b'), { data: { end, hours: 10 } });
    const [diff] = await query(`
      SELECT count(*)::INTEGER AS n FROM (
        (SELECT * FROM read_parquet('${a.repoPath}/data/driver_stats.parquet') EXCEPT SELECT * FROM read_parquet('${b.repoPath}/data/driver_stats.parquet'))
      )`);
    expect(diff).toEqual({ n: 0 });
  });

  it('refuses to overwrite an existing repo', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'larder.yaml'), 'project: mine\n');
    await expect(initRepo(dir)).rejects.toThrow(/already exists/);
    expect(readdirSync(dir)).toEqual(['larder.yaml']);
  });
});
