import { typesV1 } from '@larder/proto';
import type { Cell } from '@larder/offline-store';

const T = typesV1.ValueType;
type Value = typesV1.Value;

// Plain objects of the Value message's shape: protobuf-es's create() copies
// field by field, which at 50 features x 1M rows is most of a job's CPU.
const make = (val: Value['val']): Value => ({ $typeName: 'larder.types.v1.Value', val }) as Value;
const list = <V>(typeName: string, val: V) => ({ $typeName: typeName, val });
const NULL: Value = make({ case: 'nullVal', value: typesV1.Null.UNSPECIFIED });
const seconds = (d: Cell): bigint => BigInt(Math.floor((d as Date).getTime() / 1000));

export type CellConverter = (cell: Cell) => Value;

/** A converter from offline cells of one declared type to Values; null cells become an explicit null. */
export function cellConverter(type: typesV1.ValueType): CellConverter {
  const of = (convert: (cell: Cell) => Value): CellConverter => (cell) => (cell === null ? NULL : convert(cell));
  switch (type) {
    case T.BYTES:
      return of((c) => make({ case: 'bytesVal', value: c as Uint8Array }));
    case T.STRING:
      return of((c) => make({ case: 'stringVal', value: c as string }));
    case T.INT32:
      return of((c) => make({ case: 'int32Val', value: c as number }));
    case T.INT64:
      return of((c) => make({ case: 'int64Val', value: c as bigint }));
    case T.DOUBLE:
      return of((c) => make({ case: 'doubleVal', value: c as number }));
    case T.FLOAT:
      return of((c) => make({ case: 'floatVal', value: c as number }));
    case T.BOOL:
      return of((c) => make({ case: 'boolVal', value: c as boolean }));
    case T.UNIX_TIMESTAMP:
      return of((c) => make({ case: 'unixTimestampVal', value: seconds(c) }));
    case T.BYTES_LIST:
      return of((c) => make({ case: 'bytesListVal', value: list('larder.types.v1.BytesList', c as Uint8Array[]) } as Value['val']));
    case T.STRING_LIST:
      return of((c) => make({ case: 'stringListVal', value: list('larder.types.v1.StringList', c as string[]) } as Value['val']));
    case T.INT32_LIST:
      return of((c) => make({ case: 'int32ListVal', value: list('larder.types.v1.Int32List', c as number[]) } as Value['val']));
    case T.INT64_LIST:
      return of((c) => make({ case: 'int64ListVal', value: list('larder.types.v1.Int64List', c as bigint[]) } as Value['val']));
    case T.DOUBLE_LIST:
      return of((c) => make({ case: 'doubleListVal', value: list('larder.types.v1.DoubleList', c as number[]) } as Value['val']));
    case T.FLOAT_LIST:
      return of((c) => make({ case: 'floatListVal', value: list('larder.types.v1.FloatList', c as number[]) } as Value['val']));
    case T.BOOL_LIST:
      return of((c) => make({ case: 'boolListVal', value: list('larder.types.v1.BoolList', c as boolean[]) } as Value['val']));
    case T.UNIX_TIMESTAMP_LIST:
      return of((c) => make({ case: 'unixTimestampListVal', value: list('larder.types.v1.Int64List', (c as Cell[]).map(seconds)) } as Value['val']));
    default:
      throw new Error(`value type ${T[type] ?? type} cannot be materialized`);
  }
}
