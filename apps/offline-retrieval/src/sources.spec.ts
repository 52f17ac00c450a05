import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { viewSourceOf } from './sources';

const source = (init: Parameters<typeof create<typeof registryV1.DataSourceSchema>>[1]): registryV1.DataSource => create(registryV1.DataSourceSchema, init);
const sources = new Map(
  [
    source({ name: 'history', timestampField: 'ts', kind: { case: 'file', value: { path: 'data/history-*.parquet' } } }),
    source({ name: 'stream_with_batch', timestampField: 'ts', kind: { case: 'kafka', value: { topic: 't', batchSource: 'history' } } }),
    source({ name: 'stream_alone', timestampField: 'ts', kind: { case: 'kafka', value: { topic: 't' } } }),
  ].map((s) => [s.name, s]),
);

function failure(run: () => unknown): RpcError {
  try {
    run();
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected an RpcError');
}

describe('viewSourceOf', () => {
  it("reads a stream-fed view without a batch_source through its stream source's batch_source", () => {
    expect(viewSourceOf('duckdb', sources, { name: 'fresh', batchSource: '', streamSource: 'stream_with_batch' })).toMatchObject({
      name: 'history',
      location: { kind: 'file', path: 'data/history-*.parquet' },
    });
  });

  it('is FAILED_PRECONDITION naming the view when neither the view nor its stream source names a batch source', () => {
    const error = failure(() => viewSourceOf('duckdb', sources, { name: 'fresh', batchSource: '', streamSource: 'stream_alone' }));
    expect(error.code).toBe(Code.FAILED_PRECONDITION);
    expect(error.message).toBe(
      "feature view 'fresh' has no batch_source, and its stream source 'stream_alone' names none: historical retrieval needs a batch source to read",
    );
  });
});
