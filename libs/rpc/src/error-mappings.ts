import type { Code } from './code';
import { RpcError } from './rpc-error';

type ErrorClass = abstract new (...args: never[]) => Error;
type ErrorMapping = (error: Error) => RpcError;

/**
 * How one server turns domain errors into statuses (a store's "unavailable" ->
 * UNAVAILABLE), by the error's class; subclasses inherit their parent's mapping unless
 * they have their own. Each server gets its own (StartServerOptions.errorMappings), so
 * services sharing a process (`npm start`) never change each other's codes.
 */
export class ErrorMappings {
  private readonly byClass = new Map<ErrorClass, ErrorMapping>();

  /**
   * Maps `errorClass` to a code (the error's message is kept) or to a function building
   * the RpcError. A later call for the same class replaces the earlier one.
   */
  map<E extends Error>(errorClass: abstract new (...args: never[]) => E, mapping: Code | ((error: E) => RpcError)): this {
    const fn: ErrorMapping = typeof mapping === 'function' ? (mapping as ErrorMapping) : (error) => new RpcError(mapping, error.message, { cause: error });
    this.byClass.set(errorClass, fn);
    return this;
  }

  /** The status of `error` by the nearest mapped class of its prototype chain; undefined when none is mapped. */
  statusOf(error: Error): RpcError | undefined {
    if (this.byClass.size === 0) return undefined;
    let proto: unknown = Object.getPrototypeOf(error);
    while (proto && proto !== Error.prototype) {
      const mapping = this.byClass.get((proto as { constructor: ErrorClass }).constructor);
      if (mapping) return mapping(error);
      proto = Object.getPrototypeOf(proto);
    }
    return undefined;
  }

  /** RpcError.from with these mappings: what the server sends for anything thrown. */
  toRpcError(error: unknown, requestId?: string): RpcError {
    return RpcError.from(error, requestId, this);
  }
}
