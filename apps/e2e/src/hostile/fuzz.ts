// Fuzzed protobuf for every method of every service the store serves: messages built
// from the method's own input descriptor with random (and hostile) values, the same
// mutated (bytes flipped, cut, spliced), plain garbage, and one message over the size
// limit. All from a seeded generator, so a failure can be replayed.
import type { DescField, DescMessage, DescMethod, DescService } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Client as GrpcClient, credentials, Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { ClientDuplexStream, ClientReadableStream, ClientWritableStream, ServiceError } from '@grpc/grpc-js';
import { feastServing, healthV1, ingestionV1, materializationV1, offlineV1, reflectionV1, registryV1, servingV1 } from '@larder/proto';
import { methodPath } from '@larder/rpc';
import type { ServiceName } from './store';

/** Every service descriptor in a generated namespace: a new service or method is fuzzed without a change here. */
function servicesOf(namespace: Record<string, unknown>): DescService[] {
  return Object.values(namespace).filter((v): v is DescService => typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'service');
}

/** Which store service answers each fuzzed service (health and reflection: every server has them; the registry's are fuzzed). */
export function fuzzTargets(): { service: DescService; on: ServiceName }[] {
  const of = (namespace: Record<string, unknown>, on: ServiceName) => servicesOf(namespace).map((service) => ({ service, on }));
  return [
    ...of(registryV1, 'registry'),
    ...of(servingV1, 'online-serving'),
    ...of(feastServing, 'online-serving'),
    ...of(offlineV1, 'offline-retrieval'),
    ...of(materializationV1, 'materialization'),
    ...of(ingestionV1, 'ingestion'),
    ...of(healthV1, 'registry'),
    ...of(reflectionV1, 'registry'),
  ];
}

type Random = () => number;

// Strings an attacker would try, mixed with random ones.
const HOSTILE_STRINGS = [
  '',
  '/etc/passwd',
  '../../../../etc/shadow',
  'data/../../../outside',
  'http://169.254.169.254/latest/meta-data',
  's3://bucket/key',
  "x'; DROP TABLE t; --",
  "SELECT pg_read_file('/etc/passwd')",
  '${jndi:ldap://x}',
  '*',
  '**/*.parquet',
  'driver_hourly_stats:conv_rate',
  'driver_id',
  '\u0000\u0001',
  'é漢字🙂',
  '10.1.2.3:9092',
  '[1,2,3].all(a, [1,2,3].all(b, true))',
  '-9223372036854775809',
  'NaN',
];

function randomString(random: Random): string {
  const pick = random();
  if (pick < 0.5) return HOSTILE_STRINGS[Math.floor(random() * HOSTILE_STRINGS.length)]!;
  const length = pick < 0.95 ? Math.floor(random() * 24) : Math.floor(random() * 5_000);
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCodePoint(random() < 0.9 ? 32 + Math.floor(random() * 95) : Math.floor(random() * 0xd7ff));
  return out;
}

/** An integer from the edges of its range as often as from the middle. */
function randomBigInt(random: Random, bits: 32 | 64, signed: boolean): bigint {
  const edges = signed ? [0n, -1n, 1n, -(2n ** BigInt(bits - 1)), 2n ** BigInt(bits - 1) - 1n] : [0n, 1n, 2n ** BigInt(bits) - 1n];
  if (random() < 0.4) return edges[Math.floor(random() * edges.length)]!;
  const magnitude = BigInt(Math.floor(random() * 2 ** Math.floor(random() * 53)));
  const value = signed && random() < 0.3 ? -magnitude : magnitude;
  return BigInt.asIntN(bits, value);
}

function writeScalar(writer: BinaryWriter, type: ScalarType, random: Random): void {
  switch (type) {
    case ScalarType.DOUBLE:
      writer.double([NaN, Infinity, -Infinity, 0, 1e308, -1.5][Math.floor(random() * 6)]! * (random() < 0.5 ? 1 : random() * 1e6));
      return;
    case ScalarType.FLOAT:
      writer.float(random() * 1e6 - 5e5);
      return;
    case ScalarType.INT64:
    case ScalarType.SFIXED64:
    case ScalarType.SINT64: {
      const v = randomBigInt(random, 64, true);
      if (type === ScalarType.INT64) writer.int64(v);
      else if (type === ScalarType.SFIXED64) writer.sfixed64(v);
      else writer.sint64(v);
      return;
    }
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const v = randomBigInt(random, 64, false);
      if (type === ScalarType.UINT64) writer.uint64(v);
      else writer.fixed64(v);
      return;
    }
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32: {
      const v = Number(randomBigInt(random, 32, true));
      if (type === ScalarType.INT32) writer.int32(v);
      else if (type === ScalarType.SINT32) writer.sint32(v);
      else writer.sfixed32(v);
      return;
    }
    case ScalarType.UINT32:
    case ScalarType.FIXED32: {
      const v = Number(randomBigInt(random, 32, false));
      if (type === ScalarType.UINT32) writer.uint32(v);
      else writer.fixed32(v);
      return;
    }
    case ScalarType.BOOL:
      writer.bool(random() < 0.5);
      return;
    case ScalarType.STRING:
      writer.string(randomString(random));
      return;
    case ScalarType.BYTES:
      writer.bytes(randomBytes(random, Math.floor(random() * 64)));
      return;
  }
}

function wireTypeOf(type: ScalarType): WireType {
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

function writeEnum(writer: BinaryWriter, values: readonly { number: number }[], random: Random): void {
  // Mostly a declared value, sometimes one nobody declared.
  writer.int32(random() < 0.85 && values.length > 0 ? values[Math.floor(random() * values.length)]!.number : Math.floor(random() * 1_000) - 10);
}

function writeMessageField(writer: BinaryWriter, number: number, schema: DescMessage, random: Random, depth: number): void {
  writer.tag(number, WireType.LengthDelimited).bytes(randomMessage(schema, random, depth + 1));
}

function writeField(writer: BinaryWriter, field: DescField, random: Random, depth: number): void {
  switch (field.fieldKind) {
    case 'scalar':
      writer.tag(field.number, wireTypeOf(field.scalar));
      writeScalar(writer, field.scalar, random);
      return;
    case 'enum':
      writer.tag(field.number, WireType.Varint);
      writeEnum(writer, field.enum.values, random);
      return;
    case 'message':
      writeMessageField(writer, field.number, field.message, random, depth);
      return;
    case 'list': {
      const count = Math.floor(random() * (depth > 2 ? 2 : 5));
      for (let i = 0; i < count; i++) {
        if (field.listKind === 'message') writeMessageField(writer, field.number, field.message, random, depth);
        else if (field.listKind === 'enum') {
          writer.tag(field.number, WireType.Varint);
          writeEnum(writer, field.enum.values, random);
        } else {
          writer.tag(field.number, wireTypeOf(field.scalar));
          writeScalar(writer, field.scalar, random);
        }
      }
      return;
    }
    case 'map': {
      const count = Math.floor(random() * 3);
      for (let i = 0; i < count; i++) {
        const entry = new BinaryWriter();
        entry.tag(1, wireTypeOf(field.mapKey));
        writeScalar(entry, field.mapKey, random);
        if (field.mapKind === 'message') writeMessageField(entry, 2, field.message, random, depth);
        else if (field.mapKind === 'enum') {
          entry.tag(2, WireType.Varint);
          writeEnum(entry, field.enum.values, random);
        } else {
          entry.tag(2, wireTypeOf(field.scalar));
          writeScalar(entry, field.scalar, random);
        }
        writer.tag(field.number, WireType.LengthDelimited).bytes(entry.finish());
      }
      return;
    }
  }
}

/** A well-formed encoding of `schema` with random fields set (nesting bounded, so sizes stay small). */
export function randomMessage(schema: DescMessage, random: Random, depth = 0): Uint8Array {
  const writer = new BinaryWriter();
  if (depth > 5) return writer.finish();
  for (const field of schema.fields) if (random() < (depth === 0 ? 0.7 : 0.45)) writeField(writer, field, random, depth);
  return writer.finish();
}

export function randomBytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** A well-formed message damaged: a byte flipped, cut short, a span repeated or garbage spliced in. */
export function mutate(bytes: Uint8Array, random: Random): Uint8Array {
  if (bytes.length === 0) return randomBytes(random, 1 + Math.floor(random() * 16));
  const at = Math.floor(random() * bytes.length);
  switch (Math.floor(random() * 4)) {
    case 0: {
      const out = Uint8Array.from(bytes);
      out[at] = out[at]! ^ (1 << Math.floor(random() * 8));
      return out;
    }
    case 1:
      return bytes.slice(0, at);
    case 2:
      return Buffer.concat([bytes, bytes.slice(at)]);
    default:
      return Buffer.concat([bytes.slice(0, at), randomBytes(random, 1 + Math.floor(random() * 8)), bytes.slice(at)]);
  }
}

/** How one call ended: a status code, or STREAMING (a stream answered a message and was cancelled by us). */
export type Outcome = number | 'STREAMING';

/** Sends `bytes` as the request of `method` without encoding (identity serializers) and reports how it ended. */
export function callRaw(client: GrpcClient, method: DescMethod, bytes: Uint8Array, timeoutMs: number): Promise<Outcome> {
  const path = methodPath(method);
  const identity = (b: Buffer): Buffer => b;
  const request = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const options = { deadline: Date.now() + timeoutMs };
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    const done = (outcome: Outcome): void => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const unaryDone = (error: ServiceError | null): void => done(error ? error.code : GrpcStatus.OK);
    const watch = (call: ClientReadableStream<Buffer> | ClientDuplexStream<Buffer, Buffer>): void => {
      // A stream that answers is alive: note it and hang up (watch methods never end by themselves).
      call.on('data', () => {
        done('STREAMING');
        call.cancel();
      });
      call.on('error', (error: ServiceError) => done(error.code));
      call.on('status', (status: { code: number }) => done(status.code));
    };
    switch (method.methodKind) {
      case 'unary':
        client.makeUnaryRequest(path, identity, identity, request, new Metadata(), options, unaryDone);
        return;
      case 'server_streaming':
        watch(client.makeServerStreamRequest(path, identity, identity, request, new Metadata(), options));
        return;
      case 'client_streaming': {
        const call: ClientWritableStream<Buffer> = client.makeClientStreamRequest(path, identity, identity, new Metadata(), options, unaryDone);
        call.write(request);
        call.end();
        return;
      }
      case 'bidi_streaming': {
        const call = client.makeBidiStreamRequest(path, identity, identity, new Metadata(), options);
        watch(call);
        call.write(request);
        call.end();
        return;
      }
    }
  });
}

export function newRawClient(address: string): GrpcClient {
  // The client may send (and take) more than the servers do, so their limit is what is tested.
  return new GrpcClient(address, credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
}
