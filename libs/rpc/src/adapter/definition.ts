import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescMessage, DescMethod, DescService, Message } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

type Encoder = (message: Message) => Uint8Array;

function serializer(schema: DescMessage, encode: Encoder = (message) => toBinary(schema, message)): (message: Message) => Buffer {
  return (message) => {
    const bytes = encode(message);
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

type Decoder = (bytes: Uint8Array) => Message;

function deserializer(schema: DescMessage, decode?: Decoder): (bytes: Buffer) => Message {
  return decode ?? ((bytes) => fromBinary(schema, bytes));
}

/** Returns what fromBinary would, or undefined for bytes it leaves to fromBinary. */
type RequestDecoder = (bytes: Uint8Array) => Message | undefined;

const undecodable = Symbol('undecodable request');

/**
 * Requests that do not decode are a client's mistake, but grpc-js answers a
 * throwing deserializer with INTERNAL ("Error deserializing request") before
 * any handler runs. So the server's deserializer never throws: it hands on a
 * marker that the server adapter turns into INVALID_ARGUMENT.
 */
function requestDeserializer(schema: DescMessage, decode?: RequestDecoder): (bytes: Buffer) => Message {
  return (bytes) => {
    // A hand-written decoder first; what it leaves (or throws on) is fromBinary's, invalid bytes included.
    if (decode !== undefined) {
      try {
        const fast = decode(bytes);
        if (fast !== undefined) return fast;
      } catch {
        // fromBinary below gives these bytes their message or their error.
      }
    }
    try {
      return fromBinary(schema, bytes);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { $typeName: schema.typeName, [undecodable]: reason } as Message;
    }
  };
}

/** Why a request's bytes did not decode, or undefined for a decoded message. */
export function undecodableReason(message: Message): string | undefined {
  return (message as { [undecodable]?: string })[undecodable];
}

/** The grpc-js view of one protobuf-es method: path, stream flags, (de)serializers. */
export function methodDefinition(
  method: DescMethod,
  encodeResponse?: Encoder,
  decodeResponse?: Decoder,
  decodeRequest?: RequestDecoder,
): MethodDefinition<Message, Message> {
  return {
    path: methodPath(method),
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: serializer(method.input),
    requestDeserialize: requestDeserializer(method.input, decodeRequest),
    responseSerialize: serializer(method.output, encodeResponse),
    responseDeserialize: deserializer(method.output, decodeResponse),
    originalName: method.localName,
  };
}

/** A grpc-js ServiceDefinition keyed by each method's localName. */
export function serviceDefinition(
  service: DescService,
  encoders: Readonly<Record<string, Encoder | undefined>> = {},
  decoders: Readonly<Record<string, RequestDecoder | undefined>> = {},
): ServiceDefinition {
  const definition: Record<string, MethodDefinition<Message, Message>> = {};
  for (const method of service.methods)
    definition[method.localName] = methodDefinition(method, encoders[method.localName], undefined, decoders[method.localName]);
  return definition;
}
