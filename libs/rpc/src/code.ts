/**
 * gRPC status codes, numbered as on the wire. Ours, so that handlers and
 * callers never import grpc-js to name a code.
 */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export type CodeName = keyof typeof Code;

export function codeName(code: Code): CodeName {
  return (Code[code] as CodeName | undefined) ?? 'UNKNOWN';
}

export function isCodeName(value: unknown): value is CodeName {
  return typeof value === 'string' && typeof (Code as unknown as Record<string, unknown>)[value] === 'number';
}

export function isCode(value: unknown): value is Code {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 16;
}
