import type { DescService } from '@bufbuild/protobuf';
import type { AnyHandler, ServiceRegistration } from './adapter/types';
import { Code } from './code';
import { RpcError } from './rpc-error';

/**
 * A service whose rpcs are not built yet. grpc-js answers an unknown method
 * with UNIMPLEMENTED too, so each of these names the rpc and the work that
 * will build it; a client can then tell "not yet" from "wrong address".
 */
export function pendingService(service: DescService, pendingWork: string): ServiceRegistration {
  const impl: Record<string, AnyHandler> = {};
  for (const method of service.methods) {
    const error = (): RpcError =>
      new RpcError(Code.UNIMPLEMENTED, `${service.typeName}/${method.name} is not implemented yet (${pendingWork})`);
    impl[method.localName] =
      method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming'
        ? // eslint-disable-next-line require-yield
          async function* () {
            throw error();
          }
        : () => Promise.reject(error());
  }
  return { service, impl } as ServiceRegistration;
}
