import type { DescMessage } from '@bufbuild/protobuf';
import type { RegistrySet } from '@larder/core';
import { materializationV1 } from '@larder/proto';
import type { AccessCheck, AccessLookup, Action, ObjectRef } from '@larder/auth';

// Shared with the other services' access tables.
export type { AccessCheck, AccessLookup };

/**
 * How each MaterializationService rpc is authorized:
 * - `start`: MATERIALIZE on every view the job would write (startChecks);
 * - `job`: the action on every view of the job named by id; a job whose views the caller
 *   may not describe answers NOT_FOUND, as an unknown id does (its views stay unnamed);
 * - `filtered`: the answer holds only jobs whose views the caller may all describe.
 */
export type MaterializationRule =
  | { readonly kind: 'start'; readonly input: DescMessage }
  | { readonly kind: 'job'; readonly input: DescMessage; readonly action: Action }
  | { readonly kind: 'filtered'; readonly input: DescMessage };

/** By handler name, every MaterializationService rpc. */
export const MATERIALIZATION_ACCESS: Readonly<Record<string, MaterializationRule>> = {
  materialize: { kind: 'start', input: materializationV1.MaterializeRequestSchema },
  materializeIncremental: { kind: 'start', input: materializationV1.MaterializeIncrementalRequestSchema },
  getJob: { kind: 'job', input: materializationV1.GetJobRequestSchema, action: 'describe' },
  watchJob: { kind: 'job', input: materializationV1.WatchJobRequestSchema, action: 'describe' },
  // Stopping a job stops the writes it makes: the right to make them.
  cancelJob: { kind: 'job', input: materializationV1.CancelJobRequestSchema, action: 'materialize' },
  listJobs: { kind: 'filtered', input: materializationV1.ListJobsRequestSchema },
};

function viewRef(set: RegistrySet | undefined, project: string, name: string): ObjectRef {
  const view = set?.featureViews.find((v) => v.name === name);
  return view === undefined ? { project, type: 'feature_view', name } : { project, type: 'feature_view', name, tags: view.tags };
}

/**
 * The views a Materialize or MaterializeIncremental request would write: those it
 * names, or every online view with a batch source (as the job manager picks them).
 * A project with none is checked on the project itself, never on nothing.
 */
export function startChecks(project: string, requestedViews: readonly string[], registry: AccessLookup): AccessCheck[] {
  const set = registry.registrySet(project);
  const names =
    requestedViews.length > 0
      ? [...new Set(requestedViews)]
      : (set?.featureViews ?? [])
          .filter((v) => v.online !== false && v.batchSource !== '')
          .map((v) => v.name)
          .sort();
  const objects: ObjectRef[] = names.length > 0 ? names.map((name) => viewRef(set, project, name)) : [{ project, type: 'project', name: project }];
  return [{ action: 'materialize', objects }];
}

/** The views a job writes, as the objects an rpc about the job is checked on. */
export function jobObjects(job: materializationV1.Job, registry: AccessLookup): ObjectRef[] {
  const set = registry.registrySet(job.project);
  const objects = job.views.map((v) => viewRef(set, job.project, v.featureView));
  return objects.length > 0 ? objects : [{ project: job.project, type: 'project', name: job.project }];
}
