import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescEnum, DescFile, DescMessage, DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { reflectionV1, reflectionV1alpha } from '@larder/proto';
import type { ServiceImpl } from './adapter/types';
import { Code } from './code';

/**
 * What reflection can answer about: the registered services' files and
 * everything they import, indexed by file name, symbol and extension.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  private readonly encoded = new Map<DescFile, Uint8Array>();
  readonly serviceNames: readonly string[];

  constructor(services: readonly DescService[]) {
    this.serviceNames = [...new Set(services.map((s) => s.typeName))];
    for (const service of services) this.addFile(service.file);
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const message of file.messages) this.addMessage(message, file);
    for (const enumDesc of file.enums) this.addEnum(enumDesc, file);
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const extension of file.extensions) this.addExtension(extension.typeName, extension.extendee.typeName, extension.number, file);
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  private addMessage(message: DescMessage, file: DescFile): void {
    this.symbols.set(message.typeName, file);
    for (const field of message.fields) this.symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.symbols.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.addMessage(nested, file);
    for (const nested of message.nestedEnums) this.addEnum(nested, file);
    for (const extension of message.nestedExtensions) this.addExtension(extension.typeName, extension.extendee.typeName, extension.number, file);
  }

  private addEnum(enumDesc: DescEnum, file: DescFile): void {
    this.symbols.set(enumDesc.typeName, file);
    // Enum values are scoped like their enum's siblings, as protoc sees them.
    const scope = enumDesc.typeName.slice(0, Math.max(0, enumDesc.typeName.lastIndexOf('.')));
    for (const value of enumDesc.values) this.symbols.set(scope === '' ? value.name : `${scope}.${value.name}`, file);
  }

  private addExtension(name: string, extendee: string, number: number, file: DescFile): void {
    this.symbols.set(name, file);
    let byNumber = this.extensions.get(extendee);
    if (!byNumber) this.extensions.set(extendee, (byNumber = new Map()));
    byNumber.set(number, file);
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.startsWith('.') ? symbol.slice(1) : symbol);
  }

  fileContainingExtension(extendee: string, number: number): DescFile | undefined {
    return this.extensions.get(extendee)?.get(number);
  }

  extensionNumbers(extendee: string): number[] | undefined {
    const byNumber = this.extensions.get(extendee);
    if (byNumber) return [...byNumber.keys()].sort((a, b) => a - b);
    const file = this.symbols.get(extendee);
    return file ? [] : undefined;
  }

  /** The file first, then its transitive imports, each a serialized FileDescriptorProto. */
  encodeWithDependencies(file: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<DescFile>();
    const visit = (f: DescFile): void => {
      if (seen.has(f)) return;
      seen.add(f);
      out.push(this.encode(f));
      for (const dependency of f.dependencies) visit(dependency);
    };
    visit(file);
    return out;
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, create(FileDescriptorProtoSchema, file.proto));
      this.encoded.set(file, bytes);
    }
    return bytes;
  }
}

type Request = reflectionV1.ServerReflectionRequest;
type Response = reflectionV1.ServerReflectionResponse;

function answer(index: DescriptorIndex, request: Request): Response['messageResponse'] {
  const notFound = (message: string): Response['messageResponse'] => ({
    case: 'errorResponse',
    value: create(reflectionV1.ErrorResponseSchema, { errorCode: Code.NOT_FOUND, errorMessage: message }),
  });
  const files = (file: DescFile | undefined, what: string): Response['messageResponse'] =>
    file
      ? {
          case: 'fileDescriptorResponse',
          value: create(reflectionV1.FileDescriptorResponseSchema, { fileDescriptorProto: index.encodeWithDependencies(file) }),
        }
      : notFound(what);
  const message = request.messageRequest;
  switch (message.case) {
    case 'listServices':
      return {
        case: 'listServicesResponse',
        value: create(reflectionV1.ListServiceResponseSchema, { service: index.serviceNames.map((name) => ({ name })) }),
      };
    case 'fileByFilename':
      return files(index.fileByName(message.value), `file "${message.value}" not found`);
    case 'fileContainingSymbol':
      return files(index.fileContainingSymbol(message.value), `symbol "${message.value}" not found`);
    case 'fileContainingExtension': {
      const { containingType, extensionNumber } = message.value;
      return files(index.fileContainingExtension(containingType, extensionNumber), `extension ${extensionNumber} of "${containingType}" not found`);
    }
    case 'allExtensionNumbersOfType': {
      const numbers = index.extensionNumbers(message.value);
      return numbers
        ? {
            case: 'allExtensionNumbersResponse',
            value: create(reflectionV1.ExtensionNumberResponseSchema, { baseTypeName: message.value, extensionNumber: numbers }),
          }
        : notFound(`type "${message.value}" not found`);
    }
    case undefined:
      return {
        case: 'errorResponse',
        value: create(reflectionV1.ErrorResponseSchema, { errorCode: Code.INVALID_ARGUMENT, errorMessage: 'empty reflection request' }),
      };
  }
}

/** grpc.reflection.v1 ServerReflection over `index`. */
export function reflectionV1Impl(index: DescriptorIndex): ServiceImpl<typeof reflectionV1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield create(reflectionV1.ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answer(index, request),
        });
      }
    },
  };
}

/**
 * grpc.reflection.v1alpha, still the first (or only) one many clients try.
 * Its messages are wire-identical to v1's, so they are converted through
 * their binary form.
 */
export function reflectionV1alphaImpl(index: DescriptorIndex): ServiceImpl<typeof reflectionV1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const alphaRequest of requests) {
        const request = fromBinary(reflectionV1.ServerReflectionRequestSchema, toBinary(reflectionV1alpha.ServerReflectionRequestSchema, alphaRequest));
        const response = create(reflectionV1.ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answer(index, request),
        });
        yield fromBinary(reflectionV1alpha.ServerReflectionResponseSchema, toBinary(reflectionV1.ServerReflectionResponseSchema, response));
      }
    },
  };
}
