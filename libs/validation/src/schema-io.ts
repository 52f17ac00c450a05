import { fromBinary } from '@bufbuild/protobuf';
import { tfmdV0 } from '@larder/proto';
import { parseTextFormat, printTextFormat, type TextPositions } from './text-format';

export type SchemaFormat = 'text' | 'binary';

/** The format a schema file's name implies: .pb / .bin binary, anything else (schema.pbtxt, .textproto, .txt) text. */
export function schemaFormatOf(fileName: string): SchemaFormat {
  return /\.(pb|bin|binpb)$/i.test(fileName) ? 'binary' : 'text';
}

/**
 * Reads a TFDV schema from its bytes; errors name the line and column (text) or the
 * parse failure (binary). For text, `positions` receives where each field was written.
 */
export function readSchema(bytes: Uint8Array, format: SchemaFormat, positions?: TextPositions): tfmdV0.Schema {
  if (format === 'binary') return fromBinary(tfmdV0.SchemaSchema, bytes);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  return parseTextFormat(tfmdV0.SchemaSchema, text, positions);
}

/** schema.pbtxt text, as TFDV's write_schema_text writes it (fields in number order). */
export function schemaToText(schema: tfmdV0.Schema): string {
  return printTextFormat(tfmdV0.SchemaSchema, schema);
}

export function schemaFromText(text: string): tfmdV0.Schema {
  return parseTextFormat(tfmdV0.SchemaSchema, text);
}
