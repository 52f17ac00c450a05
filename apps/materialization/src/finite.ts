import type { CellColumn } from '@larder/offline-store';
import { typesV1 } from '@larder/proto';

const T = typesV1.ValueType;
const FLOATING = new Set<typesV1.ValueType>([T.DOUBLE, T.FLOAT]);
const FLOATING_LIST = new Set<typesV1.ValueType>([T.DOUBLE_LIST, T.FLOAT_LIST]);

/**
 * A feature column with NaN and ±Infinity made null, and how many were. Ingestion refuses
 * such values (a model cannot use them, JSON cannot carry them); an offline source may
 * still hold them, and copying it must not fail the view for good over one cell, so
 * materialization serves them as missing, counts them and logs the count per view.
 * A list holding one becomes null as a whole, as a pushed one would be refused whole.
 */
export function nullNonFinite(column: CellColumn, type: typesV1.ValueType): { column: CellColumn; nulled: number } {
  if (FLOATING.has(type)) {
    let out: (number | null)[] | undefined;
    let nulled = 0;
    for (let i = 0; i < column.length; i++) {
      const cell = column[i];
      if (typeof cell !== 'number' || Number.isFinite(cell)) continue;
      out ??= Array.from(column as ArrayLike<number | null>);
      out[i] = null;
      nulled++;
    }
    return out === undefined ? { column, nulled: 0 } : { column: out as CellColumn, nulled };
  }
  if (FLOATING_LIST.has(type) && Array.isArray(column)) {
    let out: unknown[] | undefined;
    let nulled = 0;
    for (let i = 0; i < column.length; i++) {
      const cell: unknown = column[i];
      if (!Array.isArray(cell) || cell.every((n) => typeof n !== 'number' || Number.isFinite(n))) continue;
      out ??= [...(column as unknown[])];
      out[i] = null;
      nulled++;
    }
    return out === undefined ? { column, nulled: 0 } : { column: out as CellColumn, nulled };
  }
  return { column, nulled: 0 };
}
