// The offline store's engine refusals as the statuses a caller sees (the ones the
// emulator cannot produce: access, quota, a backend down), through the app's mapping.
import { EngineError } from '@larder/offline-store';
import type { EngineFailure } from '@larder/offline-store';
import { Code } from '@larder/rpc';
import { offlineErrorMappings } from './errors';

const mappings = offlineErrorMappings();

test.each([
  ['not_found', Code.NOT_FOUND],
  ['invalid', Code.INVALID_ARGUMENT],
  ['denied', Code.PERMISSION_DENIED],
  ['exhausted', Code.RESOURCE_EXHAUSTED],
  ['unavailable', Code.UNAVAILABLE],
] as [EngineFailure, Code][])('an engine %s is status %i, with the message naming the table', (failure, code) => {
  const error = mappings.toRpcError(new EngineError(failure, "source 'drivers' (table p.d.t)", 'what BigQuery said'));
  expect(error.code).toBe(code);
  expect(error.message).toBe("source 'drivers' (table p.d.t): what BigQuery said");
});
