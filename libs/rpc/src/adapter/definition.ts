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

/** The grpc-js view of one protobuf-es method: path, stream flags, (de)serializers. */
export function methodDefinition(method: DescMethod, encodeResponse?: Encoder, decodeResponse?: Decoder): MethodDefinition<Message, Message> {
  return {
    path: methodPath(method),
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: serializer(method.input),
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output, encodeResponse),
    responseDeserialize: deserializer(method.output, decodeResponse),
    originalName: method.localName,
  };
}

/** A grpc-js ServiceDefinition keyed by each method's localName. */
export function serviceDefinition(service: DescService, encoders: Readonly<Record<string, Encoder | undefined>> = {}): ServiceDefinition {
  const definition: Record<string, MethodDefinition<Message, Message>> = {};
  for (const method of service.methods) definition[method.localName] = methodDefinition(method, encoders[method.localName]);
  return definition;
}
