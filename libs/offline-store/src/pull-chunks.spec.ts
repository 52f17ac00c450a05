// pullChunkBuilder cuts engine batches into chunks of chunkRows rows, joining the pieces
// of each column: typed arrays (number columns without nulls, as DuckDB hands them) stay
// typed, and a column whose pieces differ in kind falls back to cells, values in order.
import { typesV1 } from '@larder/proto';
import { pullChunkBuilder } from './shared';
import type { PullLatestRequest } from './types';

const T = typesV1.ValueType;

test('joins typed pieces into one typed array and mixed pieces into cells, keeping every value in order', () => {
  const request = {
    source: { name: 'src', location: { kind: 'file', path: 'unused.parquet', format: 'parquet' }, timestampField: 'ts' },
    joinKeys: [{ name: 'id', type: T.INT64 }],
    features: [
      { name: 'f', type: T.DOUBLE },
      { name: 'g', type: T.DOUBLE },
    ],
    start: new Date(0),
    end: new Date(1),
  } as unknown as PullLatestRequest;
  const builder = pullChunkBuilder(request, 5);
  const times = (n: number) => new Float64Array(n).fill(1000);
  const chunks = [
    ...builder.addColumns([[1n, 2n, 3n], times(3), times(3), Float64Array.of(1, 2, 3), Float64Array.of(7, 8, 9)]),
    ...builder.addColumns([[4n, 5n, 6n, 7n], times(4), times(4), Float64Array.of(4, 5, 6, 7), [0.5, null, 1, 2]]),
  ];
  const last = builder.flush();
  expect(chunks).toHaveLength(1);
  const [first] = chunks;
  expect(first!.rowCount).toBe(5);
  expect(first!.columns['id']).toEqual([1n, 2n, 3n, 4n, 5n]);
  expect(first!.columns['f']).toBeInstanceOf(Float64Array);
  expect(Array.from(first!.columns['f']!)).toEqual([1, 2, 3, 4, 5]);
  expect(Array.isArray(first!.columns['g'])).toBe(true);
  expect(first!.columns['g']).toEqual([7, 8, 9, 0.5, null]);
  expect(last?.rowCount).toBe(2);
  expect(last!.columns['id']).toEqual([6n, 7n]);
  expect(last!.columns['f']).toBeInstanceOf(Float64Array);
  expect(Array.from(last!.columns['f']!)).toEqual([6, 7]);
  expect(last!.columns['g']).toEqual([1, 2]);
});
