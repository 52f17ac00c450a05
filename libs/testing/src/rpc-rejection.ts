import { RpcError } from '@larder/rpc';

/** The RpcError a call fails with; throws when it succeeds, and rethrows any other error. */
export async function rpcRejection(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}
