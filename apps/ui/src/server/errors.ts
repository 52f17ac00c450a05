import { Code, codeName, RpcError } from '@larder/rpc';
import type { ApiError } from '../shared/api';

/** A request the server refuses before asking anyone: 400 naming the parameter. */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** What a browser sees for an error: a status and a message a person can act on, never a stack. */
export function httpError(error: unknown): { status: number; body: ApiError } {
  if (error instanceof BadRequest) return { status: 400, body: { error: error.message, field: error.field } };
  if (error instanceof RpcError) {
    const code = codeName(error.code);
    switch (error.code) {
      case Code.NOT_FOUND:
        return { status: 404, body: { error: error.message, code } };
      case Code.INVALID_ARGUMENT:
        return { status: 400, body: { error: error.message, code } };
      case Code.PERMISSION_DENIED:
        return { status: 403, body: { error: error.message, code } };
      case Code.UNAUTHENTICATED:
        return { status: 401, body: { error: error.message, code } };
      case Code.UNAVAILABLE:
      case Code.DEADLINE_EXCEEDED:
        return { status: 503, body: { error: `a Larder service did not answer: ${error.message}`, code } };
      default:
        return { status: 502, body: { error: 'a Larder service failed; see the UI server log', code } };
    }
  }
  return { status: 500, body: { error: 'the UI server failed; see its log' } };
}
