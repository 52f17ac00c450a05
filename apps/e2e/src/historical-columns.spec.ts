// The column order a Python client reconstructs from a training set, with stubs generated
// from proto/: RowBatch.columns is a protobuf map, whose order Python's protobuf does not
// promise to keep (it can change with PYTHONHASHSEED, run to run). The order must come from
// the ordered field the client sets (HistoricalQuery.entity_columns), or from the server's
// stated rule (by name) when it sets none, under every hash seed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { LARDER_APPS, startApp } from './apps';
import type { RunningApp } from './apps';
import { generateStubs } from './generate';
import { E2E_DIR } from './paths';
import { run } from './run';
import { setupToolchain } from './toolchain';
import type { Toolchain } from './toolchain';

const SCRIPT = path.join(E2E_DIR, 'clients/python/historical_columns.py');
const SEEDS = ['0', '1', '2', '3'];

interface Table {
  columns: string[];
  rows: Record<string, unknown>[];
}

describe('a Python client reading a training set', () => {
  let workDir = '';
  let toolchain: Toolchain;
  let pythonDir = '';
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'larder-e2e-columns-'));
    const data = path.join(workDir, 'trips.csv');
    await writeFile(
      data,
      ['driver_id,customer_id,event_ts,trips', '1001,c1,2024-01-01 10:00:00,5', '1002,c2,2024-01-01 11:00:00,7', '1001,c2,2024-01-01 11:30:00,9', ''].join(
        '\n',
      ),
    );
    toolchain = await setupToolchain();
    pythonDir = (await generateStubs(toolchain, path.join(workDir, 'stubs'))).pythonDir;
    const registry = await startApp(
      LARDER_APPS.find((a) => a.name === 'registry')!,
      { env: { LARDER_REGISTRY_LOCATION: path.join(workDir, 'registry.json') } },
    );
    apps.push(registry);
    const client = createClient(registryV1.RegistryService, registry.address);
    try {
      await client.applyRegistry({
        project: 'columns',
        entities: [
          { name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 },
          { name: 'customer', joinKey: 'customer_id', valueType: typesV1.ValueType.STRING },
        ],
        dataSources: [{ name: 'trips_src', timestampField: 'event_ts', kind: { case: 'file', value: { path: data, format: registryV1.FileFormat.CSV } } }],
        featureViews: [
          { name: 'trips', entities: ['driver', 'customer'], batchSource: 'trips_src', schema: [{ name: 'trips', valueType: typesV1.ValueType.INT64 }] },
        ],
      });
    } finally {
      client.close();
    }
    apps.push(
      await startApp(
        LARDER_APPS.find((a) => a.name === 'offline-retrieval')!,
        { env: { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_OFFLINE_READ_ROOTS: workDir, LARDER_OFFLINE_WRITE_ROOT: workDir } },
      ),
    );
  }, 600_000);

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop(5_000)));
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  });

  async function read(order: string, seed: string): Promise<Table> {
    const address = apps[1]!.address;
    const { stdout } = await run(toolchain.python, [SCRIPT, '--stubs', pythonDir, '--address', address, '--order', order], {
      env: { ...process.env, PYTHONHASHSEED: seed },
      timeoutMs: 60_000,
    });
    return JSON.parse(stdout) as Table;
  }

  const expectedRows = (order: string[]): Record<string, unknown>[] =>
    [
      { driver_id: 1001, customer_id: 'c1', zone: 'north', trips: 5 },
      { driver_id: 1002, customer_id: 'c2', zone: 'south', trips: 7 },
      { driver_id: 1001, customer_id: 'c2', zone: 'east', trips: 9 },
    ].map((row) => Object.fromEntries([...order, 'trips'].map((name) => [name, row[name as keyof typeof row]])));

  it('gets the columns in the order it states in entity_columns (not name order, not the map it built), under every hash seed', async () => {
    const order = ['driver_id', 'zone', 'customer_id'];
    for (const seed of SEEDS) {
      const table = await read(order.join(','), seed);
      expect({ seed, columns: table.columns }).toEqual({ seed, columns: [...order, 'trips'] });
      expect(table.rows).toEqual(expectedRows(order));
    }
  }, 240_000);

  it("without entity_columns gets them by name, the contract's rule, under every hash seed", async () => {
    for (const seed of SEEDS) {
      const table = await read('', seed);
      expect({ seed, columns: table.columns }).toEqual({ seed, columns: ['customer_id', 'driver_id', 'zone', 'trips'] });
      expect(table.rows).toEqual(expectedRows(['customer_id', 'driver_id', 'zone']));
    }
  }, 240_000);
});
