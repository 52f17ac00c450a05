import type { HandlerContext, ServerInterceptor } from './adapter/types';
import { Code, codeName } from './code';
import type { ErrorMappings } from './error-mappings';
import type { Logger } from './logger';
import type { RpcMetrics } from './metrics';
import { RpcError } from './rpc-error';

// Codes that mean the server, not the caller, has a problem: logged as errors
// with their cause.
const serverFaults = new Set([Code.UNKNOWN, Code.INTERNAL, Code.DATA_LOSS]);

/**
 * The built-in outermost interceptor: one log line per call (debug when OK,
 * info for the caller's mistakes, error with the cause for server faults)
 * and the per-rpc metrics.
 */
export function observeCalls(options: { metrics?: RpcMetrics; logger?: Logger; errorMappings?: ErrorMappings } = {}): ServerInterceptor {
  return async (ctx: HandlerContext, next) => {
    const done = options.metrics?.begin({ service: ctx.call.service, method: ctx.call.method, kind: ctx.call.kind });
    const started = performance.now();
    // Made only when a line is logged: most calls succeed with debug off.
    const callLogger = (): Logger => (options.logger ? options.logger.child({ rpc: ctx.call.path, requestId: ctx.requestId }) : ctx.logger);
    try {
      await next();
      done?.(Code.OK);
      if (options.logger ? options.logger.isEnabled('debug') : ctx.logs('debug')) {
        callLogger().debug('rpc', { code: 'OK', durationMs: round(performance.now() - started), peer: ctx.peer });
      }
    } catch (thrown) {
      const logger = callLogger();
      const error = RpcError.from(thrown, ctx.requestId, options.errorMappings);
      done?.(error.code);
      const fields = { code: codeName(error.code), durationMs: round(performance.now() - started), peer: ctx.peer };
      if (serverFaults.has(error.code)) {
        logger.error('rpc failed', { ...fields, error: error.message, cause: error.cause ?? error });
      } else {
        logger.info('rpc', { ...fields, error: error.message });
      }
      throw error;
    }
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
