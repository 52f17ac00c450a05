import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { registryV1 } from '@larder/proto';
import {
  DefinitionError,
  defineBigQuerySource,
  defineEntity,
  defineFeatureService,
  defineFeatureView,
  defineFileSource,
  defineKafkaSource,
  defineOnDemandFeatureView,
  definePermission,
  definePostgresSource,
  defineProject,
  definePushSource,
  defineRequestSource,
  type Definition,
} from '@larder/sdk';
import { TextFormatError, readSchema, schemaFormatOf, type TextPositions } from '@larder/validation';
import type { FeatureRepoProblem } from './errors';
import { SourceMap, formatFieldPath, locateInDocument, parseFieldPath, type DefinitionOrigin, type SchemaFileOrigin } from './source-map';
import { DOCUMENT_KINDS, DOCUMENT_SPECS, checkSpec, type Segment, type Spec } from './spec';

const { ObjectKind } = registryV1;

/** One object read from a definition file, with where it came from. */
export interface LoadedDefinition {
  kind: registryV1.ObjectKind;
  message: Definition;
  origin: DefinitionOrigin;
}

type Builder = (input: never) => Definition;

const DOCUMENT_BUILDERS: Record<string, [registryV1.ObjectKind, Builder]> = {
  Project: [ObjectKind.PROJECT, defineProject],
  Entity: [ObjectKind.ENTITY, defineEntity],
  FileSource: [ObjectKind.DATA_SOURCE, defineFileSource],
  BigQuerySource: [ObjectKind.DATA_SOURCE, defineBigQuerySource],
  PostgresSource: [ObjectKind.DATA_SOURCE, definePostgresSource],
  KafkaSource: [ObjectKind.DATA_SOURCE, defineKafkaSource],
  PushSource: [ObjectKind.DATA_SOURCE, definePushSource],
  RequestSource: [ObjectKind.DATA_SOURCE, defineRequestSource],
  FeatureView: [ObjectKind.FEATURE_VIEW, defineFeatureView],
  OnDemandFeatureView: [ObjectKind.ON_DEMAND_FEATURE_VIEW, defineOnDemandFeatureView],
  FeatureService: [ObjectKind.FEATURE_SERVICE, defineFeatureService],
  Permission: [ObjectKind.PERMISSION, definePermission],
};

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** snake_case document keys -> the sdk's camelCase input keys; map values (tags, mappings) are left alone. */
function camelize(value: unknown, spec: Spec): unknown {
  if (spec.type === 'list' && Array.isArray(value)) return value.map((item) => camelize(item, spec.items));
  if (spec.type === 'object' && typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const child = spec.properties[k];
        return [camel(k), child === undefined ? v : camelize(v, child)];
      }),
    );
  }
  return value;
}

/** Reads every document of one YAML file. `file` is relative to `repoPath`. */
export function loadYamlDefinitions(repoPath: string, file: string): { definitions: LoadedDefinition[]; problems: FeatureRepoProblem[] } {
  const text = readFileSync(path.join(repoPath, file), 'utf8');
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const problems: FeatureRepoProblem[] = [];
  const definitions: LoadedDefinition[] = [];
  // A stream with a fatal lexing error comes back as an EmptyStream-like array with errors.
  const docs = (Array.isArray(documents) ? documents : [documents]) as Document[];

  for (const document of docs) {
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
        problems.push({ file, line: pos.line, column: pos.col, key: '', message: `invalid YAML: ${error.message.split('\n')[0] ?? ''}` });
      }
      continue;
    }
    if (document.contents === null) continue;
    const at = (p: readonly Segment[], message: string) => {
      const { line, column } = locateInDocument(document, lineCounter, p);
      problems.push({ file, line, column, key: formatFieldPath(p), message });
    };
    const value: unknown = document.toJS({ maxAliasCount: 1000 });
    // An empty document (a trailing `---`, or only comments) defines nothing.
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      at([], 'a definition document must be a mapping with a `kind` key');
      continue;
    }
    const { kind, ...spec } = value as Record<string, unknown>;
    if (kind === undefined) {
      at([], `missing required key 'kind' (one of ${DOCUMENT_KINDS.join(', ')})`);
      continue;
    }
    const documentSpec = typeof kind === 'string' ? DOCUMENT_SPECS[kind] : undefined;
    const builder = typeof kind === 'string' ? DOCUMENT_BUILDERS[kind] : undefined;
    if (documentSpec === undefined || builder === undefined) {
      at(['kind'], `unknown kind ${JSON.stringify(kind)} (expected one of ${DOCUMENT_KINDS.join(', ')})`);
      continue;
    }
    const specProblems = checkSpec(spec, documentSpec);
    if (specProblems.length > 0) {
      for (const p of specProblems) at(p.path, p.message);
      continue;
    }
    const input = camelize(spec, documentSpec) as Record<string, unknown>;
    if (kind === 'KafkaSource') {
      const loaded = readDescriptorSet(repoPath, input);
      if (loaded !== undefined) {
        at(['message_format', 'protobuf', 'descriptor_set_file'], loaded);
        continue;
      }
    }
    let schemaFile: SchemaFileOrigin | undefined;
    if (kind === 'FeatureView') {
      const loaded = readSchemaFile(repoPath, input);
      if (typeof loaded === 'string') {
        at(['validation', 'schema_file'], loaded);
        continue;
      }
      schemaFile = loaded;
    }
    const [objectKind, build] = builder;
    const origin: DefinitionOrigin = { form: 'yaml', file, document, lineCounter, ...(schemaFile !== undefined && { schemaFile }) };
    try {
      definitions.push({ kind: objectKind, message: build(input as never), origin });
    } catch (error) {
      if (!(error instanceof DefinitionError)) throw error;
      const sourceMap = new SourceMap();
      sourceMap.set(objectKind, error.objectName, origin);
      const problem = sourceMap.locate(objectKind, error.objectName, error.field, error.reason);
      if (problem !== undefined) problems.push(problem);
      else at(parseFieldPath(error.field), error.reason);
    }
  }
  return { definitions, problems };
}

/**
 * Replaces `validation.schemaFile` with the TFDV schema it holds, and says where
 * its fields were written (for problems found later); returns a problem message
 * (naming the file, and line:column for text) when it cannot be read or parsed.
 */
function readSchemaFile(repoPath: string, input: Record<string, unknown>): string | SchemaFileOrigin | undefined {
  const validation = input['validation'] as { schemaFile?: string; schema?: unknown } | undefined;
  if (validation?.schemaFile === undefined) return undefined;
  if (validation.schema !== undefined) return 'set schema_file or schema, not both';
  const file = validation.schemaFile;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path.resolve(repoPath, file)));
  } catch (error) {
    return `cannot read ${file}: ${(error as Error).message}`;
  }
  const positions: TextPositions = new Map();
  try {
    validation.schema = readSchema(bytes, schemaFormatOf(file), positions);
  } catch (error) {
    if (error instanceof TextFormatError) return `${file}:${error.line}:${error.column}: ${error.reason}`;
    return `${file}: not a binary TFDV schema: ${(error as Error).message}`;
  }
  delete validation.schemaFile;
  return { file: path.relative(repoPath, path.resolve(repoPath, file)), positions };
}

/** Replaces `descriptorSetFile` with the file's bytes; returns a problem message when it cannot be read. */
function readDescriptorSet(repoPath: string, input: Record<string, unknown>): string | undefined {
  const format = input['messageFormat'] as { protobuf?: { descriptorSetFile?: string; descriptorSet?: Uint8Array } } | undefined;
  const protobuf = format?.protobuf;
  if (protobuf?.descriptorSetFile === undefined) return undefined;
  try {
    protobuf.descriptorSet = new Uint8Array(readFileSync(path.resolve(repoPath, protobuf.descriptorSetFile)));
    delete protobuf.descriptorSetFile;
    return undefined;
  } catch (error) {
    return `cannot read descriptor set: ${(error as Error).message}`;
  }
}
