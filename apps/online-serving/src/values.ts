import { typesV1 } from '@larder/proto';

/** The Value oneof case that carries each value type. */
export const CASE_OF_TYPE = typesV1.VALUE_CASE_OF_TYPE;

/** `int64Val` -> `int64_val`, for messages in the proto's own words. */
export function caseLabel(c: string | undefined): string {
  return c === undefined ? 'no value' : c.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}
