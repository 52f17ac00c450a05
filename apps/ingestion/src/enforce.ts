import type { AuditSink, Authorizer, Principal } from '@larder/auth';
import type { ingestionV1 } from '@larder/proto';
import { consumerRef, onlineWriteChecks, pushChecks } from './access';
import type { AccessCheck, AccessLookup } from './access';
import type { PushDestination } from './push';

/**
 * Who may write through ingestion: pushes and direct online writes checked against the
 * views they write (access.ts), written to the audit trail when they succeed; consumer
 * status narrowed to the sources the caller may describe. The Kafka consumers write with
 * the service's own authority: what they consume was allowed when the source was applied.
 */
export class WriteAccess {
  constructor(
    private readonly registry: AccessLookup,
    private readonly authorizer: () => Authorizer,
    readonly audit: AuditSink,
  ) {}

  /** The checks of a push; throws PERMISSION_DENIED (audited) unless every one passes. */
  push(principal: Principal, project: string, pushSource: string, destination: PushDestination, requestId?: string): AccessCheck[] {
    return this.require(principal, pushChecks(project, pushSource, destination, this.registry), requestId);
  }

  onlineWrite(principal: Principal, project: string, featureView: string, requestId?: string): AccessCheck[] {
    return this.require(principal, onlineWriteChecks(project, featureView, this.registry), requestId);
  }

  /** After the write: one audit line per action. */
  written(principal: Principal, checks: readonly AccessCheck[], requestId?: string): void {
    for (const check of checks)
      this.audit.write({
        identity: principal.id,
        action: check.action,
        objects: check.objects,
        outcome: 'success',
        ...(requestId !== undefined && { requestId }),
      });
  }

  visibleConsumers(principal: Principal, statuses: ingestionV1.ConsumerStatus[]): ingestionV1.ConsumerStatus[] {
    if (principal.operator) return statuses;
    const authorizer = this.authorizer();
    return statuses.filter((s) => authorizer.allowed(principal, 'describe', consumerRef(s, this.registry)));
  }

  private require(principal: Principal, checks: AccessCheck[], requestId?: string): AccessCheck[] {
    const authorizer = this.authorizer();
    for (const check of checks) authorizer.require(principal, check.action, check.objects, this.audit, requestId);
    return checks;
  }
}
