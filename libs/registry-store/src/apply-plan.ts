import { create } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { diffRegistrySets, validateRegistrySet } from '@larder/core';
import type { RegistryIssue, RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { danglingReferences, describeObject, invalidArgument, invalidDefinitions, notFound } from './errors';
import { KINDS, compareKindName, isKindInProject } from './kinds';
import type { ObjectKindInProject, RegistryObject } from './kinds';
import { copyProject, emptyProject, objectChange, objectsOf, projectAsCreates, projectChange, requestSet, toRegistrySet } from './project-objects';
import type { ProjectObjects } from './project-objects';

const C = registryV1.ChangeType;

/** What a write would do: the answer to give, the changes to record and the project afterwards. */
export interface Plan {
  diffs: registryV1.ObjectDiff[];
  /** Empty when nothing changes. */
  changes: registryV1.RegistryChange[];
  /** The project after the write; undefined when the project is deleted. */
  after: ProjectObjects | undefined;
  /** Feature views removed, whose materialization state goes with them. */
  removedViews: string[];
}

export interface Commit {
  /** The version the write would commit. */
  version: bigint;
  now: Timestamp;
}

/**
 * Plans an apply against a project's current objects: checks the request,
 * diffs it (core's diffRegistrySets), builds the project as it would be,
 * validates that whole project (so references to objects already stored
 * resolve) and stamps meta on what is created or updated.
 */
export function planApply(before: ProjectObjects | undefined, req: registryV1.ApplyRegistryRequest, commit: Commit): Plan {
  if (req.project === '') throw invalidArgument('project: required');
  checkNoDuplicates(req);
  const wanted = requestSet(req, before?.project);
  const beforeSet = before === undefined ? undefined : toRegistrySet(before);
  const allDiffs = diffRegistrySets(beforeSet, wanted, { prune: req.prune });
  // Saved datasets are never pruned (the contract), whatever the diff says.
  const objectDiffs = allDiffs.filter(
    (d) => d.kind !== registryV1.ObjectKind.PROJECT && !(d.kind === registryV1.ObjectKind.SAVED_DATASET && d.change === C.DELETE),
  );
  const projectDiff =
    allDiffs.find((d) => d.kind === registryV1.ObjectKind.PROJECT) ??
    create(registryV1.ObjectDiffSchema, { kind: registryV1.ObjectKind.PROJECT, name: req.project, change: before === undefined ? C.CREATE : C.UNCHANGED });

  const after = before === undefined ? emptyProject(wanted.project) : copyProject(before);
  const changes: registryV1.RegistryChange[] = [];
  const removedViews: string[] = [];
  if (projectDiff.change !== C.UNCHANGED) {
    after.project = stamp(wanted.project, before?.project.meta, req.project, commit);
    changes.push(projectChange(after.project, projectDiff.change));
  }

  const incoming = indexSet(wanted);
  for (const diff of objectDiffs) {
    if (!isKindInProject(diff.kind)) continue;
    const objects = objectsOf(after, diff.kind);
    if (diff.change === C.DELETE) {
      objects.delete(diff.name);
      if (diff.kind === registryV1.ObjectKind.FEATURE_VIEW) removedViews.push(diff.name);
      changes.push(objectChange(req.project, diff.kind, diff.name, C.DELETE, undefined));
    } else if (diff.change === C.CREATE || diff.change === C.UPDATE) {
      const obj = incoming.get(diff.kind)?.get(diff.name);
      if (obj === undefined) throw new Error(`diff names ${describeObject(diff.kind, diff.name)} that the request does not hold`);
      const stamped = stamp(obj, objects.get(diff.name)?.meta, req.project, commit);
      objects.set(diff.name, stamped);
      changes.push(objectChange(req.project, diff.kind, diff.name, diff.change, stamped));
    }
  }

  const issues = validateRegistrySet(toRegistrySet(after));
  if (issues.length > 0) throw invalidDefinitions(req.project, issues);

  const diffs = [projectDiff, ...objectDiffs].sort(compareKindName);
  // A project created with nothing in it still is a change worth a version.
  return { diffs, changes: changes.sort(compareKindName), after, removedViews };
}

/** Plans removing one object; fails when something left would refer to it. */
export function planDelete(before: ProjectObjects | undefined, project: string, kind: ObjectKindInProject, name: string): Plan {
  if (before === undefined) throw notFound(kind, name, project);
  if (!before.objects.get(kind)?.has(name)) throw notFound(kind, name, project);
  const after = copyProject(before);
  objectsOf(after, kind).delete(name);
  const introduced = newIssues(toRegistrySet(before), toRegistrySet(after));
  if (introduced.length > 0) throw danglingReferences(describeObject(kind, name, project), introduced);
  return {
    diffs: [create(registryV1.ObjectDiffSchema, { kind, name, change: C.DELETE })],
    changes: [objectChange(project, kind, name, C.DELETE, undefined)],
    after,
    removedViews: kind === registryV1.ObjectKind.FEATURE_VIEW ? [name] : [],
  };
}

/** Plans removing a whole project: one DELETE per object, the project last. */
export function planDeleteProject(before: ProjectObjects | undefined, project: string): Plan {
  if (before === undefined) throw notFound(registryV1.ObjectKind.PROJECT, project);
  const changes: registryV1.RegistryChange[] = [];
  for (const info of [...KINDS].reverse()) {
    for (const name of [...(before.objects.get(info.kind)?.keys() ?? [])].sort()) {
      changes.push(objectChange(project, info.kind, name, C.DELETE, undefined));
    }
  }
  changes.push(projectChange(before.project, C.DELETE));
  return {
    diffs: changes.map((c) => create(registryV1.ObjectDiffSchema, { kind: c.kind, name: c.name, change: C.DELETE })),
    changes,
    after: undefined,
    removedViews: [...(before.objects.get(registryV1.ObjectKind.FEATURE_VIEW)?.keys() ?? [])],
  };
}

/** A full snapshot message of the given projects. */
export function snapshotOf(projects: Iterable<ProjectObjects>, version: bigint): registryV1.WatchRegistryResponse {
  const sorted = [...projects].sort((a, b) => (a.project.name < b.project.name ? -1 : a.project.name > b.project.name ? 1 : 0));
  return create(registryV1.WatchRegistryResponseSchema, { version, snapshot: true, changes: sorted.flatMap(projectAsCreates) });
}

function stamp<T extends RegistryObject | registryV1.Project>(obj: T, previous: registryV1.ObjectMeta | undefined, project: string, commit: Commit): T {
  const copy = { ...obj } as T;
  copy.meta = create(registryV1.ObjectMetaSchema, {
    project,
    createdTime: previous?.createdTime ?? commit.now,
    updatedTime: commit.now,
    registryVersion: commit.version,
  });
  return copy;
}

function indexSet(set: RegistrySet): Map<ObjectKindInProject, Map<string, RegistryObject>> {
  const index = new Map<ObjectKindInProject, Map<string, RegistryObject>>();
  for (const info of KINDS) index.set(info.kind, new Map((set[info.setKey] as RegistryObject[]).map((obj) => [obj.name, obj])));
  return index;
}

function checkNoDuplicates(req: registryV1.ApplyRegistryRequest): void {
  for (const info of KINDS) {
    const seen = new Set<string>();
    for (const obj of req[info.setKey] as RegistryObject[]) {
      if (seen.has(obj.name)) throw invalidArgument(`${describeObject(info.kind, obj.name)}: defined more than once in the request (${info.setKey})`);
      seen.add(obj.name);
    }
  }
}

function newIssues(before: RegistrySet, after: RegistrySet): RegistryIssue[] {
  const key = (i: RegistryIssue): string => `${i.kind}\u0000${i.name}\u0000${i.field}\u0000${i.message}`;
  const existing = new Set(validateRegistrySet(before).map(key));
  return validateRegistrySet(after).filter((i) => !existing.has(key(i)));
}
