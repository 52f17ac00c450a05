// ValueType <-> DuckDB column types.
import { typesV1 } from '@larder/proto';
import { elementType, isList } from './cells';
import type { EngineColumnType } from './cells';

const { ValueType } = typesV1;

const SCALAR: Partial<Record<typesV1.ValueType, string>> = {
  [ValueType.BYTES]: 'BLOB',
  [ValueType.STRING]: 'VARCHAR',
  [ValueType.INT32]: 'INTEGER',
  [ValueType.INT64]: 'BIGINT',
  [ValueType.DOUBLE]: 'DOUBLE',
  [ValueType.FLOAT]: 'FLOAT',
  [ValueType.BOOL]: 'BOOLEAN',
  [ValueType.UNIX_TIMESTAMP]: 'TIMESTAMP',
};

export function duckdbType(type: typesV1.ValueType): string {
  const scalar = SCALAR[elementType(type)];
  if (!scalar) throw new Error(`no DuckDB type for value type ${type}`);
  return isList(type) ? `${scalar}[]` : scalar;
}

/** A DuckDB type name as DESCRIBE prints it -> its family, or undefined. */
export function duckdbColumnType(name: string): EngineColumnType | undefined {
  const list = name.endsWith('[]');
  const base = (list ? name.slice(0, -2) : name).toUpperCase();
  const family = ((): EngineColumnType['family'] | undefined => {
    if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/.test(base)) return 'int';
    if (/^(FLOAT|DOUBLE|DECIMAL.*)$/.test(base)) return 'float';
    if (base === 'VARCHAR') return 'string';
    if (base === 'BLOB') return 'bytes';
    if (base === 'BOOLEAN') return 'bool';
    if (/^(TIMESTAMP.*|DATE)$/.test(base)) return 'timestamp';
    return undefined;
  })();
  return family ? { family, list } : undefined;
}

/** Whether comparisons can use the column as is (no cast to TIMESTAMP). */
export function duckdbPlainTimestamp(name: string): boolean {
  return name.toUpperCase() === 'TIMESTAMP';
}
