// Feast's gRPC serving contract (feast.serving.ServingService) over the same
// OnlineServing as Larder's own, so a client generated from Feast's
// ServingService.proto moves to Larder without a change.
import { principalOf } from '@larder/auth';
import type { FeatureRequest } from '@larder/core';
import type { feastServing, feastTypes, servingV1, typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { HandlerContext, ServiceImpl } from '@larder/rpc';
import type { OnlineServing } from './online-serving';
import { encodeGetOnlineFeaturesResponse } from './response-encoder';

/** What GetFeastServingInfo answers: Feast clients only print it. */
export const FEAST_SERVING_VERSION = 'larder-0.1.0';

/**
 * The Value kinds both contracts declare, with the same field numbers and payloads
 * (Larder's Value is Feast's for scalars and lists). The rest of Feast's kinds (maps,
 * sets, JSON, structs, UUIDs, decimals, nested lists) have no Larder value type.
 */
const SHARED_CASES: ReadonlySet<string> = new Set<typesV1.ValueCase>([
  'bytesVal',
  'stringVal',
  'int32Val',
  'int64Val',
  'doubleVal',
  'floatVal',
  'boolVal',
  'unixTimestampVal',
  'bytesListVal',
  'stringListVal',
  'int32ListVal',
  'int64ListVal',
  'doubleListVal',
  'floatListVal',
  'boolListVal',
  'unixTimestampListVal',
  'nullVal',
]);

function snake(c: string): string {
  return c.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}

/**
 * A column of Feast Values as Larder Values. The shared kinds are the same objects in
 * both (oneof case names, payload types and list shapes agree), so the column is
 * passed on as it is after every value's kind is checked; a kind Larder does not serve
 * is INVALID_ARGUMENT naming the field, column and row.
 */
function larderColumns(field: string, columns: Readonly<Record<string, feastTypes.RepeatedValue>>): Record<string, typesV1.Value[]> {
  const out: Record<string, typesV1.Value[]> = {};
  for (const name of Object.keys(columns)) {
    const values = (columns[name] as feastTypes.RepeatedValue).val;
    for (let row = 0; row < values.length; row++) {
      const kind = (values[row] as feastTypes.Value).val.case;
      if (kind !== undefined && !SHARED_CASES.has(kind)) {
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          `${field}.${name}[${row}]: Feast's ${snake(kind)} is not a value type Larder serves (scalars and lists of bytes, string, int32, int64, double, float, bool, unix_timestamp)`,
        );
      }
    }
    out[name] = values as unknown as typesV1.Value[];
  }
  return out;
}

/**
 * Larder's response as Feast's message. Both declare metadata = 1 (feature_names = 1),
 * results = 2 and, per vector, values = 1, statuses = 2 (the same status numbers) and
 * event_timestamps = 3; every value in it is of a shared kind. So the vectors are
 * handed on as they are, under Feast's type name, and encodeFeastResponse writes them
 * with Larder's encoder: the bytes are what Feast's schema would write. `status`
 * (field 3) stays false, as Feast's own servers leave it.
 */
function asFeastResponse(response: servingV1.GetOnlineFeaturesResponse): feastServing.GetOnlineFeaturesResponse {
  return { ...response, $typeName: 'feast.serving.GetOnlineFeaturesResponse', status: false } as unknown as feastServing.GetOnlineFeaturesResponse;
}

/** Writes a response made by asFeastResponse (see there why Larder's encoder is exact). */
export function encodeFeastResponse(response: feastServing.GetOnlineFeaturesResponse): Uint8Array {
  return encodeGetOnlineFeaturesResponse(response as unknown as servingV1.GetOnlineFeaturesResponse);
}

/** The request's feature list or service, as OnlineServing takes it. */
function featureRequest(kind: feastServing.GetOnlineFeaturesRequest['kind']): FeatureRequest | undefined {
  if (kind.case === 'features') return { refs: kind.value.val };
  if (kind.case === 'featureService') return { featureService: kind.value };
  return undefined;
}

/** Handlers of feast.serving.ServingService over `serving`. */
export function feastServingHandlers(serving: OnlineServing): ServiceImpl<typeof feastServing.ServingService> {
  return {
    getFeastServingInfo: () => ({ version: FEAST_SERVING_VERSION }),
    getOnlineFeatures: async (request: feastServing.GetOnlineFeaturesRequest, ctx: HandlerContext) => {
      if (request.includeFeatureViewVersionMetadata) {
        throw new RpcError(Code.INVALID_ARGUMENT, 'include_feature_view_version_metadata: Larder feature views have no versions; leave it false');
      }
      // Feast's request has no project: the server's default (serving.project, or the registry's only one).
      const plan = serving.plan(
        { project: '', features: featureRequest(request.kind), fullFeatureNames: request.fullFeatureNames },
        principalOf(ctx),
        ctx.requestId,
      );
      const response = await serving.get(plan, larderColumns('entities', request.entities), larderColumns('request_context', request.requestContext), ctx);
      return asFeastResponse(response);
    },
  };
}
