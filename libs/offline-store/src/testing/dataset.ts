// Generated data for the point-in-time tests, with every awkward case on
// purpose: ties on event time broken by created time, exact duplicate rows,
// created-time backfills, rows exactly at the ttl boundary and at t, null
// feature values, entities with no rows, repeated entity rows, several ttls,
// composite keys with a join-key map and field mapping, and a global view.
import { typesV1 } from '@larder/proto';
import type { Cell } from '../types';
import { seededRandom } from '@larder/testing';

const { ValueType } = typesV1;

export interface TableSpec {
  name: string;
  columns: { name: string; type: typesV1.ValueType }[];
  rows: Record<string, Cell>[];
}

export interface ViewSpec {
  name: string;
  table: TableSpec;
  timestampField: string;
  createdTimestampColumn?: string;
  fieldMapping?: Record<string, string>;
  /** View-level key names, their entity columns and types. */
  joinKeys: { name: string; entityColumn?: string; type: typesV1.ValueType }[];
  features: { name: string; outputName?: string; type: typesV1.ValueType }[];
  ttlMs: number;
}

export interface Dataset {
  views: ViewSpec[];
  entityColumns: { name: string; type: typesV1.ValueType }[];
  entityRows: Record<string, Cell>[];
}

export const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;

export function makeDataset(seed = 7): Dataset {
  const rnd = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  // Times on a 10-minute grid over 12 hours, so ties and ttl boundaries are common.
  const gridTime = (): Date => new Date(T0 + Math.floor(rnd() * 72) * 10 * MIN);
  const drivers = Array.from({ length: 20 }, (_, i) => BigInt(1001 + i)); // 1020 gets no rows
  const customers = Array.from({ length: 8 }, (_, i) => `c${i}`);

  // driver_stats: created-time tie-break, duplicates, backfills, nulls; ttl 2 h.
  const driverRows: Record<string, Cell>[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const driver = pick(drivers.slice(0, 19));
    const ts = gridTime();
    const created = new Date(ts.getTime() + Math.floor(rnd() * 5) * MIN);
    // (key, event, created) identifies a version; only exact duplicates may repeat it.
    const version = `${driver}@${ts.getTime()}@${created.getTime()}`;
    if (seen.has(version)) continue;
    seen.add(version);
    const row = {
      driver_id: driver,
      event_ts: ts,
      created_ts: created,
      conv_rate: rnd() < 0.15 ? null : Math.round(rnd() * 1000) / 1000,
      trips: BigInt(Math.floor(rnd() * 100)),
    };
    driverRows.push(row);
    if (rnd() < 0.1) driverRows.push({ ...row }); // exact duplicate
    if (rnd() < 0.15) driverRows.push({ ...row, created_ts: new Date(created.getTime() + 37 * MIN), conv_rate: 9 + i / 1000, trips: 9000n + BigInt(i) }); // backfill
  }

  // customer_profile: no created column (ties only as exact duplicates); no ttl.
  const customerRows: Record<string, Cell>[] = [];
  for (let i = 0; i < 120; i++) {
    const customer = pick(customers.slice(0, 7)); // c7 gets no rows
    const ts = gridTime();
    const key = `${customer}@${ts.getTime()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const row = {
      customer,
      ts,
      city: rnd() < 0.1 ? null : pick(['Lisbon', 'Porto', 'Faro', 'O\'Hare "x"']),
      vip: rnd() < 0.5,
      score: rnd() < 0.2 ? null : Math.floor(rnd() * 50),
    };
    customerRows.push(row);
    if (rnd() < 0.1) customerRows.push({ ...row });
  }

  // driver_customer: composite key, stored names differ (field mapping), join key
  // `driver` read from entity column driver_id (join-key map); ttl 30 min.
  const pairRows: Record<string, Cell>[] = [];
  for (let i = 0; i < 300; i++) {
    const ts = gridTime();
    const drv = pick(drivers.slice(0, 10));
    const cust = pick(customers);
    const writtenAt = rnd() < 0.1 ? null : new Date(ts.getTime() + Math.floor(rnd() * 3) * MIN);
    const version = `${drv}/${cust}@${ts.getTime()}@${writtenAt?.getTime() ?? 'null'}`;
    if (seen.has(version)) continue;
    seen.add(version);
    pairRows.push({
      drv,
      cust,
      event_time: ts,
      written_at: writtenAt,
      rides_together: rnd() < 0.1 ? null : BigInt(Math.floor(rnd() * 10)),
    });
  }

  // global_stats: no entities; ttl 1 h.
  const globalRows: Record<string, Cell>[] = [];
  for (let i = 0; i < 40; i++) {
    const ts = gridTime();
    globalRows.push({ event_ts: ts, created_ts: new Date(ts.getTime() + i * 1000), active_drivers: BigInt(Math.floor(rnd() * 500)) });
  }

  const entityRows: Record<string, Cell>[] = [];
  for (let i = 0; i < 300; i++) {
    // Some rows before any data, some after the data ends.
    const t = new Date(T0 + (Math.floor(rnd() * 84) - 6) * 10 * MIN);
    const row = {
      driver_id: rnd() < 0.05 ? 1021n : pick(drivers),
      customer: rnd() < 0.05 ? 'nobody' : pick(customers),
      event_timestamp: t,
      request_id: `r${i}`,
      weight: rnd() < 0.1 ? null : i / 10,
    };
    entityRows.push(row);
    if (rnd() < 0.08) entityRows.push({ ...row }); // repeated entity row
  }

  return {
    views: [
      {
        name: 'driver_stats',
        table: {
          name: 'driver_stats',
          columns: [
            { name: 'driver_id', type: ValueType.INT64 },
            { name: 'event_ts', type: ValueType.UNIX_TIMESTAMP },
            { name: 'created_ts', type: ValueType.UNIX_TIMESTAMP },
            { name: 'conv_rate', type: ValueType.DOUBLE },
            { name: 'trips', type: ValueType.INT64 },
          ],
          rows: driverRows,
        },
        timestampField: 'event_ts',
        createdTimestampColumn: 'created_ts',
        joinKeys: [{ name: 'driver_id', type: ValueType.INT64 }],
        features: [
          { name: 'conv_rate', type: ValueType.DOUBLE },
          { name: 'trips', type: ValueType.INT64 },
        ],
        ttlMs: 120 * MIN,
      },
      {
        name: 'customer_profile',
        table: {
          name: 'customer_profile',
          columns: [
            { name: 'customer', type: ValueType.STRING },
            { name: 'ts', type: ValueType.UNIX_TIMESTAMP },
            { name: 'city', type: ValueType.STRING },
            { name: 'vip', type: ValueType.BOOL },
            { name: 'score', type: ValueType.INT32 },
          ],
          rows: customerRows,
        },
        timestampField: 'ts',
        joinKeys: [{ name: 'customer', type: ValueType.STRING }],
        features: [
          { name: 'city', type: ValueType.STRING },
          { name: 'vip', type: ValueType.BOOL },
          { name: 'score', type: ValueType.INT32, outputName: 'customer_profile__score' },
        ],
        ttlMs: 0,
      },
      {
        name: 'driver_customer',
        table: {
          name: 'driver_customer',
          columns: [
            { name: 'drv', type: ValueType.INT64 },
            { name: 'cust', type: ValueType.STRING },
            { name: 'event_time', type: ValueType.UNIX_TIMESTAMP },
            { name: 'written_at', type: ValueType.UNIX_TIMESTAMP },
            { name: 'rides_together', type: ValueType.INT64 },
          ],
          rows: pairRows,
        },
        timestampField: 'event_time',
        createdTimestampColumn: 'written_at',
        fieldMapping: { drv: 'driver', cust: 'customer', rides_together: 'rides' },
        joinKeys: [
          { name: 'driver', entityColumn: 'driver_id', type: ValueType.INT64 },
          { name: 'customer', type: ValueType.STRING },
        ],
        features: [{ name: 'rides', outputName: 'driver_customer__rides', type: ValueType.INT64 }],
        ttlMs: 30 * MIN,
      },
      {
        name: 'global_stats',
        table: {
          name: 'global_stats',
          columns: [
            { name: 'event_ts', type: ValueType.UNIX_TIMESTAMP },
            { name: 'created_ts', type: ValueType.UNIX_TIMESTAMP },
            { name: 'active_drivers', type: ValueType.INT64 },
          ],
          rows: globalRows,
        },
        timestampField: 'event_ts',
        createdTimestampColumn: 'created_ts',
        joinKeys: [],
        features: [{ name: 'active_drivers', type: ValueType.INT64 }],
        ttlMs: 60 * MIN,
      },
    ],
    entityColumns: [
      { name: 'driver_id', type: ValueType.INT64 },
      { name: 'customer', type: ValueType.STRING },
      { name: 'event_timestamp', type: ValueType.UNIX_TIMESTAMP },
      { name: 'request_id', type: ValueType.STRING },
      { name: 'weight', type: ValueType.DOUBLE },
    ],
    entityRows,
  };
}
