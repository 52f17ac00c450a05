// Offline-store errors become gRPC statuses here, once, for every rpc of the app.
import {
  DestinationExistsError,
  EmptyEntitySetError,
  MissingColumnError,
  NoSourceFilesError,
  OfflineStoreError,
  UnsupportedRequestError,
} from '@larder/offline-store';
import { Code, RpcError, registerErrorMapping } from '@larder/rpc';

let registered = false;

export function registerOfflineErrorMappings(): void {
  if (registered) return;
  registered = true;
  // Every store error names the relation and column at fault and is the caller's to fix;
  // the subclasses below refine the code where INVALID_ARGUMENT would mislead.
  registerErrorMapping(OfflineStoreError, Code.INVALID_ARGUMENT);
  registerErrorMapping(EmptyEntitySetError, Code.INVALID_ARGUMENT);
  registerErrorMapping(MissingColumnError, Code.INVALID_ARGUMENT);
  registerErrorMapping(DestinationExistsError, (e) => new RpcError(Code.FAILED_PRECONDITION, `query.destination: ${e.message}`, { cause: e }));
  registerErrorMapping(UnsupportedRequestError, Code.FAILED_PRECONDITION);
  // The caller's entity file is a bad argument; a registered source with no files is the deployment's to fix.
  registerErrorMapping(NoSourceFilesError, (e) =>
    e.entities
      ? new RpcError(Code.INVALID_ARGUMENT, `entity_source: ${e.message}`, { cause: e })
      : new RpcError(Code.FAILED_PRECONDITION, `${e.message} (as seen by the offline-retrieval service, from ${process.cwd()})`, { cause: e }),
  );
}
