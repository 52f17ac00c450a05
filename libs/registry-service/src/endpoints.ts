import { sourceEndpointRefusal } from '@larder/core';
import type { EndpointAllowList } from '@larder/core';
import type { registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';

/**
 * Refuses an apply whose sources name hosts the services may not connect to (a Kafka
 * broker, a schema registry): INVALID_ARGUMENT naming each source, field and the allowed
 * list, before anything is stored.
 */
export function refuseDisallowedEndpoints(dataSources: readonly registryV1.DataSource[], allow: EndpointAllowList): void {
  const refusals = dataSources.map((source) => sourceEndpointRefusal(source, allow)).filter((r): r is string => r !== undefined);
  if (refusals.length > 0) throw new RpcError(Code.INVALID_ARGUMENT, refusals.join('\n'));
}
