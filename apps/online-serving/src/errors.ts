// Online-store errors become gRPC statuses here, once, for both front doors (gRPC and the
// HTTP/JSON gateway): the store's own words, with the code a caller can act on.
import { InvalidRowError, StoreUnavailableError } from '@larder/online-store';
import { Code, ErrorMappings, RpcError } from '@larder/rpc';

export function onlineServingErrorMappings(): ErrorMappings {
  return new ErrorMappings()
    .map(StoreUnavailableError, (e) => new RpcError(Code.UNAVAILABLE, `online store unavailable: ${e.message}`, { cause: e }))
    .map(InvalidRowError, Code.INVALID_ARGUMENT);
}
