import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import type { RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { objectRef, objectsOfType } from '@larder/auth';
import type { AccessCheck, Action, ObjectRef, ObjectType } from '@larder/auth';

const K = registryV1.ObjectKind;
const C = registryV1.ChangeType;

// Shared with the other services' access tables.
export type { AccessCheck };

/** The registry's objects by project and name, for their tags (the service's in-memory copy). */
export interface RegistryLookup {
  registrySet(project: string): RegistrySet | undefined;
}

type Tags = Readonly<Record<string, string>>;
type Named = { readonly name: string; readonly tags: Tags };

/**
 * How each RegistryService rpc is authorized:
 * - `checks`: the caller must be allowed every AccessCheck before the rpc runs;
 * - `filtered`: any authenticated caller may call it; the answer holds only what it may describe;
 * - `apply`: checked per object of the plan's diff (applyChecks);
 * - `authenticated`: reveals nothing about any object (the registry version).
 */
export type RegistryRule =
  | { readonly kind: 'checks'; readonly input: DescMessage; readonly checks: (request: never, registry: RegistryLookup) => AccessCheck[] }
  | { readonly kind: 'filtered' }
  | { readonly kind: 'apply' }
  | { readonly kind: 'authenticated' };

function checks<M extends DescMessage>(input: M, fn: (request: MessageShape<M>, registry: RegistryLookup) => AccessCheck[]): RegistryRule {
  return { kind: 'checks', input, checks: fn as (request: never, registry: RegistryLookup) => AccessCheck[] };
}

/** The kinds that live inside a project, by the access type Permission objects name them with. */
const TYPE_OF_KIND: ReadonlyMap<registryV1.ObjectKind, ObjectType> = new Map([
  [K.PROJECT, 'project'],
  [K.ENTITY, 'entity'],
  [K.DATA_SOURCE, 'data_source'],
  [K.FEATURE_VIEW, 'feature_view'],
  [K.ON_DEMAND_FEATURE_VIEW, 'on_demand_feature_view'],
  [K.FEATURE_SERVICE, 'feature_service'],
  [K.SAVED_DATASET, 'saved_dataset'],
  [K.PERMISSION, 'permission'],
]);

/** The access type of a registry kind; undefined for a kind this build does not know (never allowed). */
export function objectTypeOf(kind: registryV1.ObjectKind): ObjectType | undefined {
  return TYPE_OF_KIND.get(kind);
}

/** The object a request names in `project`, with its stored tags (objectRef of @larder/auth). */
function namedObject(registry: RegistryLookup, type: ObjectType, project: string, name: string): ObjectRef {
  return objectRef(registry.registrySet(project), project, type, name);
}

function one(action: Action, object: ObjectRef): AccessCheck[] {
  return [{ action, objects: [object] }];
}

type InProject = { project: string; name: string };

function inProject(fn: (request: InProject, registry: RegistryLookup) => AccessCheck[]): (request: never, registry: RegistryLookup) => AccessCheck[] {
  return fn as (request: never, registry: RegistryLookup) => AccessCheck[];
}

/** Get and Delete of one kind. */
function kindRules(type: ObjectType, get: DescMessage, del: DescMessage): [RegistryRule, RegistryRule, RegistryRule] {
  return [
    { kind: 'checks', input: get, checks: inProject((req, registry) => one('describe', namedObject(registry, type, req.project, req.name))) },
    { kind: 'filtered' },
    { kind: 'checks', input: del, checks: inProject((req, registry) => one('delete', namedObject(registry, type, req.project, req.name))) },
  ];
}

function rulesFor(type: ObjectType, names: [string, string, string], get: DescMessage, del: DescMessage): Record<string, RegistryRule> {
  const [g, l, d] = kindRules(type, get, del);
  return { [names[0]]: g, [names[1]]: l, [names[2]]: d };
}

/** Every object of a project, the project first: what deleting it removes. */
export function projectObjects(registry: RegistryLookup, project: string): ObjectRef[] {
  const set = registry.registrySet(project);
  if (set === undefined) return [{ project, type: 'project', name: project }];
  const refs: ObjectRef[] = [{ project, type: 'project', name: project, tags: set.project.tags }];
  for (const type of ['entity', 'data_source', 'feature_view', 'on_demand_feature_view', 'feature_service', 'saved_dataset', 'permission'] as const) {
    for (const o of objectsOfType(set, type)) refs.push({ project, type, name: o.name, tags: o.tags });
  }
  return refs;
}

/** By the rpc's local name (the key of its handler), every RegistryService rpc. */
export const REGISTRY_ACCESS: Readonly<Record<string, RegistryRule>> = {
  applyRegistry: { kind: 'apply' },
  getRegistryVersion: { kind: 'authenticated' },
  watchRegistry: { kind: 'filtered' },
  getProject: checks(registryV1.GetProjectRequestSchema, (req, registry) => one('describe', namedObject(registry, 'project', req.name, req.name))),
  listProjects: { kind: 'filtered' },
  // Deleting a project deletes what is in it: the caller must be allowed to delete each (its permissions: to manage them).
  deleteProject: checks(registryV1.DeleteProjectRequestSchema, (req, registry) => {
    const objects = projectObjects(registry, req.name);
    const permissions = objects.filter((o) => o.type === 'permission');
    const others = objects.filter((o) => o.type !== 'permission');
    return permissions.length === 0
      ? [{ action: 'delete', objects: others }]
      : [
          { action: 'delete', objects: others },
          { action: 'manage_permissions', objects: permissions },
        ];
  }),
  ...rulesFor('entity', ['getEntity', 'listEntities', 'deleteEntity'], registryV1.GetEntityRequestSchema, registryV1.DeleteEntityRequestSchema),
  ...rulesFor(
    'data_source',
    ['getDataSource', 'listDataSources', 'deleteDataSource'],
    registryV1.GetDataSourceRequestSchema,
    registryV1.DeleteDataSourceRequestSchema,
  ),
  ...rulesFor(
    'feature_view',
    ['getFeatureView', 'listFeatureViews', 'deleteFeatureView'],
    registryV1.GetFeatureViewRequestSchema,
    registryV1.DeleteFeatureViewRequestSchema,
  ),
  ...rulesFor(
    'on_demand_feature_view',
    ['getOnDemandFeatureView', 'listOnDemandFeatureViews', 'deleteOnDemandFeatureView'],
    registryV1.GetOnDemandFeatureViewRequestSchema,
    registryV1.DeleteOnDemandFeatureViewRequestSchema,
  ),
  ...rulesFor(
    'feature_service',
    ['getFeatureService', 'listFeatureServices', 'deleteFeatureService'],
    registryV1.GetFeatureServiceRequestSchema,
    registryV1.DeleteFeatureServiceRequestSchema,
  ),
  ...rulesFor(
    'saved_dataset',
    ['getSavedDataset', 'listSavedDatasets', 'deleteSavedDataset'],
    registryV1.GetSavedDatasetRequestSchema,
    registryV1.DeleteSavedDatasetRequestSchema,
  ),
  getPermission: checks(registryV1.GetPermissionRequestSchema, (req, registry) => one('describe', namedObject(registry, 'permission', req.project, req.name))),
  listPermissions: { kind: 'filtered' },
  deletePermission: checks(registryV1.DeletePermissionRequestSchema, (req, registry) =>
    one('manage_permissions', namedObject(registry, 'permission', req.project, req.name)),
  ),
  // States are narrowed to the views the caller may describe (named or not).
  getMaterializationState: { kind: 'filtered' },
  // A report moves a view's watermark and lease: the materialization service's own right.
  updateMaterializationState: checks(registryV1.UpdateMaterializationStateRequestSchema, (req, registry) =>
    one('materialize', namedObject(registry, 'feature_view', req.project, req.featureView)),
  ),
  listFeatures: { kind: 'filtered' },
  searchFeatures: { kind: 'filtered' },
};

/** The objects of an ApplyRegistryRequest by kind and name, for the tags they would carry. */
function requestedTags(req: registryV1.ApplyRegistryRequest): Map<string, Tags> {
  const tags = new Map<string, Tags>();
  const add = (kind: registryV1.ObjectKind, objects: readonly Named[]): void => {
    for (const o of objects) tags.set(`${kind}/${o.name}`, o.tags);
  };
  add(K.ENTITY, req.entities);
  add(K.DATA_SOURCE, req.dataSources);
  add(K.FEATURE_VIEW, req.featureViews);
  add(K.ON_DEMAND_FEATURE_VIEW, req.onDemandFeatureViews);
  add(K.FEATURE_SERVICE, req.featureServices);
  add(K.SAVED_DATASET, req.savedDatasets);
  add(K.PERMISSION, req.permissions);
  if (req.projectSpec !== undefined) tags.set(`${K.PROJECT}/${req.project}`, req.projectSpec.tags);
  return tags;
}

function withTags(ref: Omit<ObjectRef, 'tags'>, tags: Tags | undefined): ObjectRef {
  return tags === undefined ? ref : { ...ref, tags };
}

/**
 * What an apply needs, from the plan of it (the diff the store computed without writing):
 * CREATE of a new object (with the tags it will carry), UPDATE of a changed one (with its
 * stored tags and with its new ones, so retagging cannot move an object out of another
 * team's reach), DELETE of a pruned one, DESCRIBE of an unchanged one (the answer shows
 * it exists). Every apply also needs DESCRIBE on the project unless it creates it.
 * A plan-only apply writes nothing: DESCRIBE on every object it names.
 * Permission objects need MANAGE_PERMISSIONS to create, change or delete.
 */
export function applyChecks(req: registryV1.ApplyRegistryRequest, diffs: readonly registryV1.ObjectDiff[], registry: RegistryLookup): AccessCheck[] {
  const incoming = requestedTags(req);
  const project = req.project;
  const byAction = new Map<Action, ObjectRef[]>();
  const need = (action: Action, ref: ObjectRef): void => {
    let list = byAction.get(action);
    if (list === undefined) byAction.set(action, (list = []));
    list.push(ref);
  };
  let projectCreated = false;
  for (const diff of diffs) {
    // A kind this build does not know is held to the strictest rule, that of permissions.
    const type = objectTypeOf(diff.kind) ?? 'permission';
    const base = { project, type, name: diff.name };
    const stored = namedObject(registry, type, project, diff.name).tags;
    const wanted = incoming.get(`${diff.kind}/${diff.name}`);
    if (type === 'project' && diff.change === C.CREATE) projectCreated = true;
    if (req.planOnly) {
      need('describe', withTags(base, stored ?? wanted));
      continue;
    }
    if (type === 'permission') {
      need(diff.change === C.UNCHANGED ? 'describe' : 'manage_permissions', withTags(base, stored ?? wanted));
      continue;
    }
    switch (diff.change) {
      case C.CREATE:
        need('create', withTags(base, wanted));
        break;
      case C.UPDATE:
        need('update', withTags(base, stored));
        if (wanted !== undefined) need('update', withTags(base, wanted));
        break;
      case C.DELETE:
        need('delete', withTags(base, stored));
        break;
      default:
        // The project is unchanged by most applies; DESCRIBE on it is asked below, once.
        if (type !== 'project') need('describe', withTags(base, stored));
    }
  }
  if (!projectCreated && !req.planOnly) need('describe', namedObject(registry, 'project', project, project));
  return [...byAction].map(([action, objects]) => ({ action, objects }));
}

/** The object a change-feed entry is about; undefined for a kind this build does not know. */
export function changeRef(change: registryV1.RegistryChange): ObjectRef | undefined {
  const type = objectTypeOf(change.kind);
  if (type === undefined) return undefined;
  const value = change.object.value as { tags?: Tags } | undefined;
  const project = type === 'project' ? change.name : change.project;
  return withTags({ project, type, name: change.name }, value?.tags);
}

/**
 * A change-feed message narrowed to the objects `visible` allows. A deleted object
 * carries no tags in the feed; it is shown when its name alone may be described.
 */
export function visibleChanges(message: registryV1.WatchRegistryResponse, visible: (ref: ObjectRef) => boolean): registryV1.WatchRegistryResponse {
  const changes = message.changes.filter((change) => {
    const ref = changeRef(change);
    return ref !== undefined && visible(ref);
  });
  return changes.length === message.changes.length ? message : { ...message, changes };
}

/** A FeatureInfo (ListFeatures, SearchFeatures) as the view it belongs to. */
export function featureInfoRef(info: registryV1.FeatureInfo, registry: RegistryLookup): ObjectRef {
  return namedObject(registry, info.onDemand ? 'on_demand_feature_view' : 'feature_view', info.project, info.featureView);
}
