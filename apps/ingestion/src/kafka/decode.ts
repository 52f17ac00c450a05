import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import type { DescField, DescMessage, Message } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Type as AvroType } from 'avsc';
import type { Schema as AvroSchema } from 'avsc';
import { parseJsonLossless } from '@larder/core';
import type { registryV1 } from '@larder/proto';

/** A message that can never be decoded; it goes to the dead-letter topic. */
export class DecodeError extends Error {}

/** A decoded message: field name -> plain JS value (string, number, bigint, boolean, Uint8Array, Date, arrays, null). */
export type DecodedRecord = Readonly<Record<string, unknown>>;

/** Decodes one message value. Throws DecodeError for a bad message; anything else is transient (retried). */
export type Decoder = (value: Buffer) => DecodedRecord | Promise<DecodedRecord>;

/** Builds the decoder of a source's message format; throws DecodeError when the format itself is unusable. */
export function decoderFor(format: registryV1.KafkaMessageFormat | undefined, schemas: SchemaRegistryCache): Decoder {
  const f = format?.format;
  switch (f?.case) {
    case 'json':
      return decodeJson;
    case 'avro': {
      const schema = f.value.schema;
      if (schema.case === 'inlineSchema') {
        const type = parseAvroSchema(schema.value, 'the inline schema');
        return (value) => decodeAvro(type, value);
      }
      if (schema.case === 'schemaRegistryUrl') {
        const url = schema.value;
        return async (value) => {
          if (value.length < 5 || value[0] !== 0) throw new DecodeError('not in the Confluent wire format (expected magic byte 0 and a 4-byte schema id)');
          const type = await schemas.type(url, value.readUInt32BE(1));
          return decodeAvro(type, value.subarray(5));
        };
      }
      throw new DecodeError('the avro format has no schema');
    }
    case 'protobuf':
      return protobufDecoder(f.value.messageType, f.value.descriptorSet);
    default:
      throw new DecodeError('the source has no message format');
  }
}

function decodeJson(value: Buffer): DecodedRecord {
  let parsed: unknown;
  try {
    // Lossless: an int64 beyond 2^53 arrives as a bigint with every digit, not rounded.
    parsed = parseJsonLossless(value.toString('utf8'));
  } catch (error) {
    throw new DecodeError(`invalid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new DecodeError(`expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`);
  return parsed as DecodedRecord;
}

function parseAvroSchema(text: string, what: string): AvroType {
  try {
    return AvroType.forSchema(JSON.parse(text) as AvroSchema);
  } catch (error) {
    throw new DecodeError(`${what} is not a valid Avro schema: ${(error as Error).message}`);
  }
}

function decodeAvro(type: AvroType, value: Buffer): DecodedRecord {
  let decoded: unknown;
  try {
    decoded = type.fromBuffer(value);
  } catch (error) {
    throw new DecodeError(`invalid Avro for schema ${type.name ?? type.typeName}: ${(error as Error).message}`);
  }
  if (typeof decoded !== 'object' || decoded === null) throw new DecodeError('the Avro schema is not a record');
  return decoded as DecodedRecord;
}

/**
 * Writer schemas fetched from a Confluent schema registry
 * (`GET <url>/schemas/ids/<id>`), cached per registry and id for the life of
 * the process: a schema id never changes meaning.
 */
export class SchemaRegistryCache {
  private readonly types = new Map<string, Promise<AvroType>>();

  constructor(private readonly timeoutMs = 5_000) {}

  type(url: string, id: number): Promise<AvroType> {
    const key = `${url}#${id}`;
    let type = this.types.get(key);
    if (type === undefined) {
      type = this.fetch(url, id);
      this.types.set(key, type);
      // A failed fetch is not cached: the next message asks again.
      type.catch(() => this.types.delete(key));
    }
    return type;
  }

  private async fetch(url: string, id: number): Promise<AvroType> {
    const response = await fetch(`${url.replace(/\/+$/, '')}/schemas/ids/${id}`, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (response.status === 404) throw new DecodeError(`schema id ${id} is not in the schema registry at ${url}`);
    if (!response.ok) throw new Error(`schema registry ${url} answered ${response.status} for schema id ${id}`);
    const body = (await response.json()) as { schema?: unknown; schemaType?: unknown };
    if (body.schemaType !== undefined && body.schemaType !== 'AVRO') throw new DecodeError(`schema id ${id} is a ${String(body.schemaType)} schema, not Avro`);
    if (typeof body.schema !== 'string') throw new DecodeError(`schema registry ${url} returned no schema for id ${id}`);
    return parseAvroSchema(body.schema, `schema id ${id}`);
  }
}

function protobufDecoder(messageType: string, descriptorSet: Uint8Array): Decoder {
  let desc: DescMessage | undefined;
  try {
    desc = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet)).getMessage(messageType);
  } catch (error) {
    throw new DecodeError(`the descriptor set is unusable: ${(error as Error).message}`);
  }
  if (desc === undefined) throw new DecodeError(`message type ${messageType} is not in the descriptor set`);
  const message = desc;
  return (value) => {
    let decoded: Message;
    try {
      decoded = fromBinary(message, value);
    } catch (error) {
      throw new DecodeError(`invalid ${messageType}: ${(error as Error).message}`);
    }
    return protobufRecord(message, decoded);
  };
}

const TIMESTAMP = 'google.protobuf.Timestamp';

function plain(field: DescField, value: unknown): unknown {
  if (value === undefined) return null;
  if (field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message')) {
    const typeName =
      field.fieldKind === 'message' ? field.message.typeName : field.fieldKind === 'list' && field.listKind === 'message' ? field.message.typeName : '';
    // Seconds and nanos as sent (toMillis reads them): a Date would drop the microseconds.
    const stamp = (m: { seconds: bigint; nanos: number }): { seconds: bigint; nanos: number } => ({ seconds: m.seconds, nanos: m.nanos });
    if (typeName === TIMESTAMP) return Array.isArray(value) ? value.map(stamp) : stamp(value as { seconds: bigint; nanos: number });
    // Wrappers (google.protobuf.Int64Value, ...) carry their value in `value`.
    if (typeName.startsWith('google.protobuf.') && typeName.endsWith('Value'))
      return Array.isArray(value) ? value.map((m: { value: unknown }) => m.value) : (value as { value: unknown }).value;
    return value;
  }
  return Array.isArray(value) ? [...(value as unknown[])] : value;
}

/** A protobuf-es message as field name (as in the .proto) -> plain value; a oneof member that is not set is null. */
function protobufRecord(desc: DescMessage, message: Message): DecodedRecord {
  const record: Record<string, unknown> = {};
  const m = message as unknown as Record<string, unknown>;
  for (const field of desc.fields) {
    if (field.oneof !== undefined) {
      const chosen = m[field.oneof.localName] as { case?: string; value?: unknown };
      record[field.name] = chosen.case === field.localName ? plain(field, chosen.value) : null;
    } else {
      record[field.name] = plain(field, m[field.localName]);
    }
  }
  return record;
}
