import type { DescMessage } from '@bufbuild/protobuf';
import { ingestionV1 } from '@larder/proto';
import type { AccessCheck, AccessLookup, Action, ObjectRef } from '@larder/auth';
import { destinationOf } from './push';
import type { PushDestination } from './push';

// Shared with the other services' access tables.
export type { AccessCheck, AccessLookup };

/**
 * How each IngestionService rpc is authorized: `checks` before the write (the project
 * already resolved: the request's, or the server's default), or `filtered` (the answer
 * holds only the sources the caller may describe).
 */
export type IngestionRule =
  | { readonly kind: 'checks'; readonly input: DescMessage; readonly checks: (request: never, project: string, registry: AccessLookup) => AccessCheck[] }
  | { readonly kind: 'filtered' };

function checks<R>(input: DescMessage, fn: (request: R, project: string, registry: AccessLookup) => AccessCheck[]): IngestionRule {
  return { kind: 'checks', input, checks: fn as (request: never, project: string, registry: AccessLookup) => AccessCheck[] };
}

/**
 * A push writes the feature views whose stream source is the push source: WRITE_ONLINE
 * and/or WRITE_OFFLINE on each, as the mode says. A source feeding no view (or not in
 * the registry) is checked on itself, so a write is never checked against nothing and
 * an unknown source is denied like a hidden one.
 */
export function pushChecks(project: string, pushSource: string, destination: PushDestination, registry: AccessLookup): AccessCheck[] {
  const set = registry.registrySet(project);
  const views: ObjectRef[] = (set?.featureViews ?? [])
    .filter((v) => v.streamSource === pushSource)
    .map((v) => ({ project, type: 'feature_view', name: v.name, tags: v.tags }));
  const source = set?.dataSources.find((s) => s.name === pushSource);
  const objects: ObjectRef[] =
    views.length > 0
      ? views
      : [source === undefined ? { project, type: 'data_source', name: pushSource } : { project, type: 'data_source', name: pushSource, tags: source.tags }];
  const actions: Action[] = destination === 'online' ? ['write_online'] : destination === 'offline' ? ['write_offline'] : ['write_online', 'write_offline'];
  return actions.map((action) => ({ action, objects }));
}

/** A direct online write to one view: WRITE_ONLINE on it. */
export function onlineWriteChecks(project: string, featureView: string, registry: AccessLookup): AccessCheck[] {
  const view = registry.registrySet(project)?.featureViews.find((v) => v.name === featureView);
  return [
    {
      action: 'write_online',
      objects: [
        view === undefined ? { project, type: 'feature_view', name: featureView } : { project, type: 'feature_view', name: featureView, tags: view.tags },
      ],
    },
  ];
}

/** A consumer status entry as the Kafka source it reports on. */
export function consumerRef(status: ingestionV1.ConsumerStatus, registry: AccessLookup): ObjectRef {
  const source = registry.registrySet(status.project)?.dataSources.find((s) => s.name === status.dataSource);
  return source === undefined
    ? { project: status.project, type: 'data_source', name: status.dataSource }
    : { project: status.project, type: 'data_source', name: status.dataSource, tags: source.tags };
}

/** By handler name, every IngestionService rpc. */
export const INGESTION_ACCESS: Readonly<Record<string, IngestionRule>> = {
  push: checks(ingestionV1.PushRequestSchema, (req: ingestionV1.PushRequest, project, registry) =>
    pushChecks(project, req.pushSource, destinationOf(req.mode), registry),
  ),
  writeToOnlineStore: checks(ingestionV1.WriteToOnlineStoreRequestSchema, (req: ingestionV1.WriteToOnlineStoreRequest, project, registry) =>
    onlineWriteChecks(project, req.featureView, registry),
  ),
  getConsumerStatus: { kind: 'filtered' },
};

/** The HTTP routes, with what each needs; `open` ones answer anyone and reveal nothing. */
export const INGESTION_HTTP_ACCESS: Readonly<Record<string, 'push' | 'write_online' | 'open'>> = {
  'POST /push': 'push',
  'POST /write-to-online-store': 'write_online',
  'GET /health': 'open',
};
