import { fromJson, toJson } from '@bufbuild/protobuf';
import type { JsonValue } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';
import { KINDS } from './kinds';
import type { RegistryObject } from './kinds';
import { emptyProject, objectsOf } from './project-objects';
import type { RegistryData } from './registry-data';

/** Written first in the file; a reader refuses files of another format. */
export const FILE_FORMAT = 'larder-registry/1';

/**
 * The registry as proto JSON, one project after the other, cut into chunks
 * of about `chunkBytes` so a large registry is written piecewise instead of
 * being built as one huge string.
 */
export function* encodeRegistry(data: RegistryData, chunkBytes = 1 << 20): Generator<string> {
  let buffer = `{"format":${JSON.stringify(FILE_FORMAT)},"version":"${data.version}"`;
  if (data.updatedTime !== undefined) buffer += `,"updated_time":${JSON.stringify(toJson(TimestampSchema, data.updatedTime))}`;
  buffer += ',"projects":[';
  const flush = function* (force = false): Generator<string> {
    if (buffer.length >= chunkBytes || (force && buffer.length > 0)) {
      yield buffer;
      buffer = '';
    }
  };
  let firstProject = true;
  for (const p of data.projects.values()) {
    buffer += `${firstProject ? '' : ','}{"project":${json(toJson(registryV1.ProjectSchema, p.project, opts))}`;
    firstProject = false;
    for (const info of KINDS) {
      buffer += `,${JSON.stringify(info.setKey)}:[`;
      let first = true;
      for (const obj of p.objects.get(info.kind)?.values() ?? []) {
        buffer += (first ? '' : ',') + json(toJson(info.schema, obj, opts));
        first = false;
        yield* flush();
      }
      buffer += ']';
    }
    buffer += '}';
  }
  buffer += '],"materialization":[';
  let first = true;
  for (const [project, states] of data.materialization) {
    for (const state of states.values()) {
      buffer += `${first ? '' : ','}{"project":${JSON.stringify(project)},"state":${json(toJson(registryV1.MaterializationStateSchema, state, opts))}}`;
      first = false;
    }
  }
  buffer += '],"log":[';
  first = true;
  for (const entry of data.log) {
    buffer += (first ? '' : ',') + json(toJson(registryV1.WatchRegistryResponseSchema, entry, opts));
    first = false;
    yield* flush();
  }
  buffer += ']}\n';
  yield* flush(true);
}

const opts = { useProtoFieldName: true } as const;
const json = (value: JsonValue): string => JSON.stringify(value);

interface FileShape {
  format?: unknown;
  version?: unknown;
  updated_time?: JsonValue;
  projects?: Array<Record<string, JsonValue>>;
  materialization?: Array<{ project: string; state: JsonValue }>;
  log?: JsonValue[];
}

/** Parses what encodeRegistry wrote; throws naming the file's problem. */
export function decodeRegistry(text: string, where: string): RegistryData {
  let raw: FileShape;
  try {
    raw = JSON.parse(text) as FileShape;
  } catch (error) {
    throw new Error(`${where} is not a Larder registry file: ${(error as Error).message}`);
  }
  if (raw.format !== FILE_FORMAT) throw new Error(`${where} has format ${JSON.stringify(raw.format)}, expected ${FILE_FORMAT}`);
  const data: RegistryData = {
    version: BigInt(String(raw.version ?? '0')),
    updatedTime: raw.updated_time === undefined ? undefined : fromJson(TimestampSchema, raw.updated_time),
    projects: new Map(),
    materialization: new Map(),
    log: (raw.log ?? []).map((entry) => fromJson(registryV1.WatchRegistryResponseSchema, entry)),
  };
  for (const rawProject of raw.projects ?? []) {
    const project = emptyProject(fromJson(registryV1.ProjectSchema, rawProject.project ?? {}));
    for (const info of KINDS) {
      const list = (rawProject[info.setKey] ?? []) as JsonValue[];
      const objects = objectsOf(project, info.kind);
      for (const item of list) {
        const obj = fromJson(info.schema, item) as RegistryObject;
        objects.set(obj.name, obj);
      }
    }
    data.projects.set(project.project.name, project);
  }
  for (const { project, state } of raw.materialization ?? []) {
    const decoded = fromJson(registryV1.MaterializationStateSchema, state);
    let states = data.materialization.get(project);
    if (states === undefined) data.materialization.set(project, (states = new Map()));
    states.set(decoded.featureView, decoded);
  }
  return data;
}
