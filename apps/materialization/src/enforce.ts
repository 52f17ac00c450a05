import type { AuditSink, Authorizer, Principal } from '@larder/auth';
import type { materializationV1 } from '@larder/proto';
import type { RegistryClient } from '@larder/registry-client';
import { Code, RpcError } from '@larder/rpc';
import { jobObjects, startChecks } from './access';
import type { AccessCheck } from './access';
import type { Action } from '@larder/auth';

/**
 * Who may start, follow and stop materialization jobs (access.ts): MATERIALIZE on every
 * view a job writes, DESCRIBE (or MATERIALIZE, to cancel) on every view of a job named
 * by id. A job the caller may not see answers as an unknown id does.
 */
export class JobAccess {
  constructor(
    private readonly registry: RegistryClient,
    private readonly authorizer: () => Authorizer,
    readonly audit: AuditSink,
    private readonly defaultProject: string,
    private readonly jobHistory: number,
  ) {}

  /** The project a start is checked in, before it is validated. */
  private project(requested: string): string {
    if (requested !== '' || this.defaultProject !== '') return requested !== '' ? requested : this.defaultProject;
    const names = this.registry.projectNames();
    return names.length === 1 ? (names[0] as string) : '';
  }

  start(principal: Principal, request: { project: string; featureViews: readonly string[] }, requestId: string): AccessCheck[] {
    const checks = startChecks(this.project(request.project), request.featureViews, this.registry);
    const authorizer = this.authorizer();
    for (const check of checks) authorizer.require(principal, check.action, check.objects, this.audit, requestId);
    return checks;
  }

  started(principal: Principal, checks: readonly AccessCheck[], job: materializationV1.Job | undefined, requestId: string): void {
    for (const check of checks)
      this.audit.write({ identity: principal.id, action: check.action, objects: check.objects, outcome: 'success', reason: `job ${job?.id ?? ''}`, requestId });
  }

  /** The job, when the caller may `action` every view of it; otherwise NOT_FOUND, as for an unknown id. */
  job(principal: Principal, action: Action, job: materializationV1.Job, requestId: string): materializationV1.Job {
    if (principal.operator) return job;
    const objects = jobObjects(job, this.registry);
    const authorizer = this.authorizer();
    if (objects.every((o) => authorizer.allowed(principal, 'describe', o))) {
      // Seen, so the refusal may name the job's views.
      authorizer.require(principal, action, objects, this.audit, requestId);
      return job;
    }
    this.audit.write({
      identity: principal.id,
      action,
      objects: [`job ${job.id}`],
      outcome: 'denied',
      reason: 'the job writes views the caller may not describe',
      requestId,
    });
    throw hiddenJob(job.id, this.jobHistory);
  }

  visible(principal: Principal, jobs: materializationV1.Job[]): materializationV1.Job[] {
    if (principal.operator) return jobs;
    const authorizer = this.authorizer();
    return jobs.filter((job) => jobObjects(job, this.registry).every((o) => authorizer.allowed(principal, 'describe', o)));
  }
}

/** The answer for a job the caller may not see: JobManager's own for an unknown id. */
export function hiddenJob(id: string, jobHistory: number): RpcError {
  return new RpcError(
    Code.NOT_FOUND,
    `job '${id}' not found (this replica keeps unfinished jobs and the last ${jobHistory} finished ones; the registry's materialization state has each view's last job)`,
  );
}
