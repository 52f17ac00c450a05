import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import type { Logger } from '@larder/rpc';
import type { ObjectRef } from './authorizer';

/** One write or denial. */
export interface AuditEvent {
  /** The principal's id ("user:alice", "sa:ml/trainer", "cert:ingest"); "unauthenticated" when none was established. */
  readonly identity: string;
  /** An Action ("materialize"), or "authenticate" for a refused credential. */
  readonly action: string;
  /** What was acted on; an rpc path for authentication failures. */
  readonly objects: readonly (ObjectRef | string)[];
  readonly outcome: 'success' | 'failure' | 'denied';
  /** Why it was denied or failed. */
  readonly reason?: string;
  readonly requestId?: string;
}

export interface AuditSink {
  write(event: AuditEvent): void;
  /** Flushes and closes the audit file, if any. */
  close(): Promise<void>;
}

export interface AuditSinkOptions {
  /** The service name written on every line. */
  readonly service: string;
  readonly logger: Logger;
  /** auth.audit.file: lines are also appended here ('' = none). */
  readonly file?: string;
  readonly now?: () => Date;
}

/**
 * Audit lines go to the service log (msg "audit": denials at warn, the rest at info) and,
 * when auth.audit.file is set, to that file as JSON lines:
 * `{"time","service","identity","action","objects","outcome","reason","requestId"}`.
 * The file is appended through a stream so a burst of denials never blocks the event loop.
 */
export function createAuditSink(options: AuditSinkOptions): AuditSink {
  const now = options.now ?? (() => new Date());
  let stream: WriteStream | undefined;
  let failed = false;
  if (options.file !== undefined && options.file !== '') {
    stream = createWriteStream(options.file, { flags: 'a', encoding: 'utf8' });
    stream.on('error', (error) => {
      if (!failed) options.logger.error('cannot write the audit file', { file: options.file, error });
      failed = true;
    });
  }
  return {
    write(event) {
      const objects = event.objects.map(plainObject);
      const fields = {
        identity: event.identity,
        action: event.action,
        objects,
        outcome: event.outcome,
        ...(event.reason !== undefined && { reason: event.reason }),
        ...(event.requestId !== undefined && { requestId: event.requestId }),
      };
      if (event.outcome === 'denied') options.logger.warn('audit', fields);
      else options.logger.info('audit', fields);
      if (stream !== undefined && !failed) {
        stream.write(`${JSON.stringify({ time: now().toISOString(), service: options.service, ...fields })}\n`);
      }
    },
    close() {
      const s = stream;
      stream = undefined;
      if (s === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => s.end(() => resolve()));
    },
  };
}

/** An ObjectRef without its tags (they are the object's data, not the caller's). */
function plainObject(object: ObjectRef | string): { project: string; type: string; name: string } | string {
  return typeof object === 'string' ? object : { project: object.project, type: object.type, name: object.name };
}
