// Offline-store errors become gRPC statuses here, once, for every rpc of the app.
import {
  DestinationExistsError,
  DestinationNotReplaceableError,
  EmptyEntitySetError,
  EngineError,
  MissingColumnError,
  NoSourceFilesError,
  OfflineStoreError,
  PathDeniedError,
  UnsupportedRequestError,
} from '@larder/offline-store';
import type { EngineFailure } from '@larder/offline-store';
import { Code, ErrorMappings, RpcError } from '@larder/rpc';

const ENGINE_CODES: Readonly<Record<EngineFailure, Code>> = {
  not_found: Code.NOT_FOUND,
  invalid: Code.INVALID_ARGUMENT,
  denied: Code.PERMISSION_DENIED,
  exhausted: Code.RESOURCE_EXHAUSTED,
  unavailable: Code.UNAVAILABLE,
};

/** The offline-retrieval server's mappings (StartServerOptions.errorMappings). */
export function offlineErrorMappings(): ErrorMappings {
  const mappings = new ErrorMappings();
  // Every store error names the relation and column at fault and is the caller's to fix;
  // the subclasses below refine the code where INVALID_ARGUMENT would mislead.
  mappings.map(OfflineStoreError, Code.INVALID_ARGUMENT);
  mappings.map(EmptyEntitySetError, Code.INVALID_ARGUMENT);
  mappings.map(MissingColumnError, Code.INVALID_ARGUMENT);
  mappings.map(
    DestinationExistsError,
    (e) =>
      new RpcError(Code.FAILED_PRECONDITION, `query.destination.storage: '${e.destination}' already exists; set query.destination.overwrite to replace it`, {
        cause: e,
      }),
  );
  mappings.map(
    DestinationNotReplaceableError,
    (e) => new RpcError(Code.FAILED_PRECONDITION, `query.destination.storage.file.path: ${e.message}`, { cause: e }),
  );
  // A path outside the configured roots, or a URL: the message names the roots, never where the path led.
  mappings.map(PathDeniedError, Code.PERMISSION_DENIED);
  // The engine's own refusals, by what the caller can do: fix a name, fix a query, get access, wait.
  mappings.map(EngineError, (e) => new RpcError(ENGINE_CODES[e.failure], e.message, { cause: e }));
  mappings.map(UnsupportedRequestError, Code.FAILED_PRECONDITION);
  // The caller's entity file is a bad argument; a registered source with no files is the deployment's to fix.
  mappings.map(NoSourceFilesError, (e) =>
    e.entities
      ? new RpcError(Code.INVALID_ARGUMENT, `entity_source: ${e.message}`, { cause: e })
      : new RpcError(Code.FAILED_PRECONDITION, `${e.message} (as seen by the offline-retrieval service)`, { cause: e }),
  );
  return mappings;
}
