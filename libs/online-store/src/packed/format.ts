// The packed row format's constants and the size of each value type. See README.md for
// the byte layout: a header (version, event time), the feature-names section, then one
// tag byte and payload per feature.
import { typesV1 } from '@larder/proto';

// Version 2 holds the event time in microseconds; version 1 (rows written before) in
// milliseconds, still read, and replaced by version 2 at the next write.
export const PACKED_FORMAT_VERSION = 2;
export const PACKED_MS_VERSION = 1;
/** Version byte + u64 event time. */
export const HEADER = 9;

export const T = typesV1.ValueType;
export const NULL_TAG = T.NULL;

/** The tag of a list's elements, from the list's tag. */
export function elementTagOf(listTag: number): number {
  return listTag === T.UNIX_TIMESTAMP_LIST ? T.UNIX_TIMESTAMP : listTag - 10;
}

/** Size in bytes of one list element (0: length-prefixed bytes or string), by element tag. */
export function fixedSize(tag: number): number {
  switch (tag) {
    case T.INT32:
    case T.FLOAT:
      return 4;
    case T.INT64:
    case T.UNIX_TIMESTAMP:
    case T.DOUBLE:
      return 8;
    case T.BOOL:
      return 1;
    default:
      return 0;
  }
}
