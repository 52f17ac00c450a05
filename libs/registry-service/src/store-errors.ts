// The registry store's refusals as the statuses clients see: each kind one code, the
// store's message as it is, and a rejected apply's issues in their trailer.
import { issuesTrailer, RegistryStoreError } from '@larder/registry-store';
import type { RegistryStoreErrorKind } from '@larder/registry-store';
import { Code, ErrorMappings, RpcError } from '@larder/rpc';

const STATUS: Readonly<Record<RegistryStoreErrorKind, Code>> = {
  NOT_FOUND: Code.NOT_FOUND,
  INVALID: Code.INVALID_ARGUMENT,
  // "Plan again and retry": the client's next attempt may well succeed.
  CONFLICT: Code.ABORTED,
  PRECONDITION: Code.FAILED_PRECONDITION,
};

/** The status of a store error, as the registry service sends it. */
export function registryStoreStatus(error: RegistryStoreError): RpcError {
  return new RpcError(STATUS[error.kind], error.message, { metadata: issuesTrailer(error.issues), cause: error });
}

/** The registry server's mappings (StartServerOptions.errorMappings). */
export function registryErrorMappings(): ErrorMappings {
  return new ErrorMappings().map(RegistryStoreError, registryStoreStatus);
}
