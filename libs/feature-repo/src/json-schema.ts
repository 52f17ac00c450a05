import { DURATION_PATTERN, VALUE_TYPE_SPELLINGS } from '@larder/sdk';
import { DOCUMENT_SPECS, type ObjectSpec, type Spec } from './spec';

type JsonSchema = Record<string, unknown>;

/** Where the committed schema lives, relative to the repo root. */
export const SCHEMA_FILE = 'libs/feature-repo/schema/larder-definitions.schema.json';

function withDescription(schema: JsonSchema, spec: Spec): JsonSchema {
  return spec.description === undefined ? schema : { description: spec.description, ...schema };
}

function toJsonSchema(spec: Spec): JsonSchema {
  switch (spec.type) {
    case 'string':
      return withDescription({ type: 'string', ...(spec.enum ? { enum: [...spec.enum] } : {}), ...(spec.pattern ? { pattern: spec.pattern } : {}) }, spec);
    case 'boolean':
      return withDescription({ type: 'boolean' }, spec);
    case 'duration':
      return withDescription({ anyOf: [{ type: 'number' }, { type: 'string', pattern: DURATION_PATTERN }] }, spec);
    case 'valueType':
      return withDescription({ type: 'string', enum: [...VALUE_TYPE_SPELLINGS] }, spec);
    case 'stringMap':
      return withDescription({ type: 'object', additionalProperties: { type: 'string' } }, spec);
    case 'list':
      return withDescription({ type: 'array', items: toJsonSchema(spec.items) }, spec);
    case 'mapping':
      return withDescription({ type: 'object' }, spec);
    case 'object':
      return objectSchema(spec, {});
  }
}

function objectSchema(spec: ObjectSpec, extra: Record<string, JsonSchema>): JsonSchema {
  const properties = { ...extra, ...Object.fromEntries(Object.entries(spec.properties).map(([k, v]) => [k, toJsonSchema(v)])) };
  const required = [...Object.keys(extra), ...(spec.required ?? [])];
  return withDescription(
    {
      type: 'object',
      properties,
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: false,
      ...(spec.exactlyOne ? { oneOf: spec.exactlyOne.map((k) => ({ required: [k] })) } : {}),
    },
    spec,
  );
}

/** The JSON Schema (draft-07) of one YAML definition document, any kind. */
export function definitionsJsonSchema(): JsonSchema {
  const kinds = Object.keys(DOCUMENT_SPECS);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://larder.dev/schemas/larder-definitions.schema.json',
    title: 'Larder feature repo definition',
    description: 'One document of a Larder feature repo YAML file: `kind` plus that kind’s keys (proto field names).',
    type: 'object',
    required: ['kind'],
    properties: { kind: { type: 'string', enum: kinds } },
    allOf: kinds.map((kind) => ({
      if: { properties: { kind: { const: kind } }, required: ['kind'] },
      then: objectSchema(DOCUMENT_SPECS[kind] as ObjectSpec, { kind: { const: kind } }),
    })),
  };
}

/** The schema file's exact contents. */
export function definitionsJsonSchemaText(): string {
  return `${JSON.stringify(definitionsJsonSchema(), null, 2)}\n`;
}
