// The reference a materialized online store must match: the point-in-time
// (historical) values at the window's end, computed by the offline store.
import { valueToCell } from '@larder/offline-store';
import type { Cell, HistoricalView, OfflineStore } from '@larder/offline-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { typesV1 } from '@larder/proto';

/** A stored Value as the offline store's cell, to compare the two; undefined when nothing is stored. */
const cellOf = (value: typesV1.Value | undefined): Cell | undefined => (value === undefined ? undefined : valueToCell(value));

export interface Mismatch {
  entity: bigint;
  feature: string;
  online: unknown;
  historical: unknown;
}

/**
 * For every driver id, compares the online row with the historical row at
 * `at`: an entity without historical match must be absent online, and every
 * feature must be equal (nulls included). Returns the mismatches and how many
 * entities were present.
 */
export async function compareWithHistorical(
  offline: OfflineStore,
  online: OnlineStore,
  view: HistoricalView,
  descriptor: ViewDescriptor,
  driverIds: readonly bigint[],
  at: Date,
): Promise<{ mismatches: Mismatch[]; present: number }> {
  const result = await offline.getHistoricalFeatures({
    entities: {
      kind: 'rows',
      columns: [
        { name: 'driver_id', type: typesV1.ValueType.INT64 },
        { name: 'event_timestamp', type: typesV1.ValueType.UNIX_TIMESTAMP },
      ],
      timestampColumn: 'event_timestamp',
      batches: [{ driver_id: driverIds, event_timestamp: driverIds.map(() => at) }],
    },
    views: [view],
  });
  const names = result.schema.columns.map((c) => c.name);
  const historical: Cell[][] = [];
  for await (const chunk of result) {
    for (let r = 0; r < chunk.rowCount; r++) historical.push(chunk.columns.map((column) => column[r]!));
  }
  const [stored] = await online.read([
    {
      view: descriptor,
      entityKeys: driverIds.map((id) => ({
        joinKeys: ['driver_id'],
        entityValues: [{ $typeName: 'larder.types.v1.Value', val: { case: 'int64Val', value: id } } as typesV1.Value],
      })),
    },
  ]);
  const mismatches: Mismatch[] = [];
  let present = 0;
  driverIds.forEach((id, i) => {
    const row = historical[i]!;
    const onlineRow = stored![i];
    // Every row of the data has a non-null key feature, so "no match" is all-null.
    const matched = view.features.some((f) => row[names.indexOf(f.outputName ?? f.name)] !== null);
    if (!matched) {
      if (onlineRow !== undefined) mismatches.push({ entity: id, feature: '*', online: 'a row', historical: 'no row' });
      return;
    }
    present++;
    if (onlineRow === undefined) {
      mismatches.push({ entity: id, feature: '*', online: 'no row', historical: 'a row' });
      return;
    }
    view.features.forEach((f) => {
      const want = row[names.indexOf(f.outputName ?? f.name)];
      const got = cellOf(onlineRow.values[descriptor.features.findIndex((d) => d.name === f.name)]);
      if (!same(got, want)) mismatches.push({ entity: id, feature: f.name, online: got, historical: want });
    });
  });
  return { mismatches, present };
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return a === b;
}
