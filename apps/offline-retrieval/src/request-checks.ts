import { timestampMs, TimestampRangeError } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';

/**
 * A file format the client named: a value this service does not know is refused rather
 * than guessed from the path, since a newer client may mean a format we would misread.
 */
export function checkFileFormat(format: registryV1.FileFormat, field: string): void {
  if (registryV1.FileFormat[format] !== undefined) return;
  throw new RpcError(
    Code.INVALID_ARGUMENT,
    `${field}: unknown file format ${format}; use FILE_FORMAT_PARQUET, FILE_FORMAT_CSV, or leave it unset to go by the path's extension`,
  );
}

/** A client's Timestamp inside the Timestamp range, or INVALID_ARGUMENT naming `field` (2^62 s was INTERNAL). */
export function checkTimestamp(ts: { readonly seconds: bigint; readonly nanos: number }, field: string): void {
  try {
    timestampMs(ts, field);
  } catch (error) {
    if (error instanceof TimestampRangeError) throw new RpcError(Code.INVALID_ARGUMENT, error.message);
    throw error;
  }
}
