// Test data for the service: a feature repo (entities, sources, views, an on-demand
// view, a feature service) and generated rows with the awkward cases on purpose:
// ties on event time broken by created time, exact duplicates, backfills, rows at
// the ttl boundary, null values, entities with no rows, repeated entity rows, a
// composite key, field mapping, a join-key map and a view without entities.
// The rules mirror libs/offline-store/src/testing (not exported from that lib).
import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import type { Cell } from '@larder/offline-store';
import { seededRandom } from '@larder/testing';

const T = typesV1.ValueType;
export const T0 = Date.UTC(2024, 0, 1);
export const MIN = 60_000;

export interface Table {
  name: string;
  columns: { name: string; type: typesV1.ValueType }[];
  rows: Record<string, Cell>[];
}

/** A view as the oracle reads it: stored column names, join keys as entity-row columns. */
export interface OracleView {
  table: Table;
  timestampField: string;
  createdColumn?: string;
  /** [stored key column, entity-row column]. */
  keys: [string, string][];
  /** [stored feature column, output name]. */
  features: [string, string][];
  ttlMs: number;
}

export interface TestData {
  tables: { driver: Table; customer: Table; pair: Table; global: Table; entities: Table };
}

export function makeData(seed = 11): TestData {
  const rnd = seededRandom(seed);
  const pick = <V>(items: readonly V[]): V => items[Math.floor(rnd() * items.length)] as V;
  const grid = (): Date => new Date(T0 + Math.floor(rnd() * 72) * 10 * MIN);
  const drivers = Array.from({ length: 12 }, (_, i) => BigInt(1001 + i)); // 1012 has no rows
  const customers = Array.from({ length: 6 }, (_, i) => `c${i}`); // c5 has no rows
  const seen = new Set<string>();

  const driver: Record<string, Cell>[] = [];
  for (let i = 0; i < 250; i++) {
    const id = pick(drivers.slice(0, 11));
    const ts = grid();
    const created = new Date(ts.getTime() + Math.floor(rnd() * 4) * MIN);
    const version = `${id}@${ts.getTime()}@${created.getTime()}`;
    if (seen.has(version)) continue;
    seen.add(version);
    const row = {
      driver_id: id,
      event_ts: ts,
      created_ts: created,
      conv_rate: rnd() < 0.15 ? null : Math.round(rnd() * 1000) / 1000,
      trips: BigInt(Math.floor(rnd() * 100)),
    };
    driver.push(row);
    if (rnd() < 0.1) driver.push({ ...row });
    if (rnd() < 0.15) driver.push({ ...row, created_ts: new Date(created.getTime() + 37 * MIN), conv_rate: 9 + i / 1000, trips: 9000n + BigInt(i) });
  }

  const customer: Record<string, Cell>[] = [];
  for (let i = 0; i < 80; i++) {
    const c = pick(customers.slice(0, 5));
    const ts = grid();
    if (seen.has(`${c}@${ts.getTime()}`)) continue;
    seen.add(`${c}@${ts.getTime()}`);
    customer.push({ cust: c, ts, seg: rnd() < 0.1 ? null : pick(['gold', 'silver', 'o\'brien "x"']), vip: rnd() < 0.5 });
  }

  const pair: Record<string, Cell>[] = [];
  for (let i = 0; i < 200; i++) {
    const ts = grid();
    const d = pick(drivers.slice(0, 8));
    const c = pick(customers);
    if (seen.has(`${d}/${c}@${ts.getTime()}`)) continue;
    seen.add(`${d}/${c}@${ts.getTime()}`);
    pair.push({ driver_id: d, customer_id: c, event_ts: ts, rides: rnd() < 0.1 ? null : BigInt(Math.floor(rnd() * 10)) });
  }

  const global: Record<string, Cell>[] = [];
  for (let i = 0; i < 30; i++) {
    const ts = grid();
    global.push({ event_ts: ts, created_ts: new Date(ts.getTime() + i * 1000), active: BigInt(Math.floor(rnd() * 500)) });
  }

  const entities: Record<string, Cell>[] = [];
  for (let i = 0; i < 260; i++) {
    const t = new Date(T0 + (Math.floor(rnd() * 84) - 6) * 10 * MIN);
    const row = {
      driver_id: rnd() < 0.05 ? 1099n : pick(drivers),
      customer_id: pick(customers),
      rider_id: pick(customers),
      event_timestamp: t,
      request_id: `r${i}`,
      amount: rnd() < 0.1 ? null : Math.round(rnd() * 100) / 4,
    };
    entities.push(row);
    if (rnd() < 0.08) entities.push({ ...row });
  }

  const ts = T.UNIX_TIMESTAMP;
  return {
    tables: {
      driver: {
        name: 'driver_src',
        columns: [
          { name: 'driver_id', type: T.INT64 },
          { name: 'event_ts', type: ts },
          { name: 'created_ts', type: ts },
          { name: 'conv_rate', type: T.DOUBLE },
          { name: 'trips', type: T.INT64 },
        ],
        rows: driver,
      },
      customer: {
        name: 'customer_src',
        columns: [
          { name: 'cust', type: T.STRING },
          { name: 'ts', type: ts },
          { name: 'seg', type: T.STRING },
          { name: 'vip', type: T.BOOL },
        ],
        rows: customer,
      },
      pair: {
        name: 'pair_src',
        columns: [
          { name: 'driver_id', type: T.INT64 },
          { name: 'customer_id', type: T.STRING },
          { name: 'event_ts', type: ts },
          { name: 'rides', type: T.INT64 },
        ],
        rows: pair,
      },
      global: {
        name: 'global_src',
        columns: [
          { name: 'event_ts', type: ts },
          { name: 'created_ts', type: ts },
          { name: 'active', type: T.INT64 },
        ],
        rows: global,
      },
      entities: {
        name: 'entities',
        columns: [
          { name: 'driver_id', type: T.INT64 },
          { name: 'customer_id', type: T.STRING },
          { name: 'rider_id', type: T.STRING },
          { name: 'event_timestamp', type: ts },
          { name: 'request_id', type: T.STRING },
          { name: 'amount', type: T.DOUBLE },
        ],
        rows: entities,
      },
    },
  };
}

/** Where each table lives, as a DataSource kind for the engine under test. */
export type SourceKind = registryV1.DataSource['kind'];

/** The feature repo over the four tables. */
export function featureRepo(project: string, kinds: Record<'driver' | 'customer' | 'pair' | 'global', SourceKind>): registryV1.ApplyRegistryRequest {
  const hours = (h: number) => ({ seconds: BigInt(h * 3600) });
  return create(registryV1.ApplyRegistryRequestSchema, {
    project,
    entities: [
      { name: 'driver', joinKey: 'driver_id', valueType: T.INT64 },
      { name: 'customer', joinKey: 'customer_id', valueType: T.STRING },
    ],
    dataSources: [
      { name: 'driver_src', timestampField: 'event_ts', createdTimestampColumn: 'created_ts', kind: kinds.driver },
      { name: 'customer_src', timestampField: 'ts', fieldMapping: { cust: 'customer_id', seg: 'segment' }, kind: kinds.customer },
      { name: 'pair_src', timestampField: 'event_ts', kind: kinds.pair },
      { name: 'global_src', timestampField: 'event_ts', createdTimestampColumn: 'created_ts', kind: kinds.global },
      { name: 'txn', kind: { case: 'request', value: { schema: [{ name: 'amount', valueType: T.DOUBLE }] } } },
    ],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        batchSource: 'driver_src',
        ttl: hours(2),
        schema: [
          { name: 'conv_rate', valueType: T.DOUBLE },
          { name: 'trips', valueType: T.INT64 },
        ],
      },
      {
        name: 'customer_profile',
        entities: ['customer'],
        batchSource: 'customer_src',
        schema: [
          { name: 'segment', valueType: T.STRING },
          { name: 'vip', valueType: T.BOOL },
        ],
      },
      {
        name: 'pair_stats',
        entities: ['driver', 'customer'],
        batchSource: 'pair_src',
        ttl: { seconds: 1800n },
        schema: [{ name: 'rides', valueType: T.INT64 }],
      },
      { name: 'global_stats', entities: [], batchSource: 'global_src', ttl: hours(1), schema: [{ name: 'active', valueType: T.INT64 }] },
    ],
    onDemandFeatureViews: [
      {
        name: 'adjusted',
        sources: [
          { source: { case: 'requestSource', value: 'txn' } },
          { source: { case: 'featureView', value: { featureView: 'driver_stats', features: ['conv_rate', 'trips'] } } },
        ],
        outputs: [
          { name: 'scaled', valueType: T.DOUBLE, expression: 'driver_stats.conv_rate * txn.amount' },
          { name: 'busy', valueType: T.BOOL, expression: 'has(driver_stats.trips) && driver_stats.trips > 50' },
        ],
      },
    ],
    featureServices: [
      {
        name: 'model_v1',
        projections: [
          { featureView: 'driver_stats', alias: 'd', features: ['conv_rate'] },
          { featureView: 'customer_profile', features: ['segment'], joinKeyMap: { customer_id: 'rider_id' } },
          { featureView: 'adjusted', features: ['scaled'] },
        ],
      },
    ],
  });
}

/** The repo's views as the oracle reads them. */
export function oracleViews(data: TestData): Record<'driver_stats' | 'customer_profile' | 'pair_stats' | 'global_stats', OracleView> {
  const t = data.tables;
  return {
    driver_stats: {
      table: t.driver,
      timestampField: 'event_ts',
      createdColumn: 'created_ts',
      keys: [['driver_id', 'driver_id']],
      features: [
        ['conv_rate', 'conv_rate'],
        ['trips', 'trips'],
      ],
      ttlMs: 120 * MIN,
    },
    customer_profile: {
      table: t.customer,
      timestampField: 'ts',
      keys: [['cust', 'customer_id']],
      features: [
        ['seg', 'segment'],
        ['vip', 'vip'],
      ],
      ttlMs: 0,
    },
    pair_stats: {
      table: t.pair,
      timestampField: 'event_ts',
      keys: [
        ['driver_id', 'driver_id'],
        ['customer_id', 'customer_id'],
      ],
      features: [['rides', 'rides']],
      ttlMs: 30 * MIN,
    },
    global_stats: { table: t.global, timestampField: 'event_ts', createdColumn: 'created_ts', keys: [], features: [['active', 'active']], ttlMs: 60 * MIN },
  };
}
