// GetOnlineFeatures payloads keep the field numbers of Feast's messages of
// the same names, so Feast-shaped clients encode the same bytes.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { servingV1, typesV1 } from './index';

const {
  GetOnlineFeaturesRequestSchema,
  GetOnlineFeaturesResponseSchema,
  GetOnlineFeaturesResponse_FeatureVectorSchema,
  GetOnlineFeaturesResponseMetadataSchema,
  OnlineServingService,
} = servingV1;

const numbers = (schema: { fields: ReadonlyArray<{ name: string; number: number }> }): Record<string, number> =>
  Object.fromEntries(schema.fields.map((f) => [f.name, f.number]));

describe('larder.serving.v1 and Feast', () => {
  it('numbers the request fields as Feast does', () => {
    expect(numbers(GetOnlineFeaturesRequestSchema)).toEqual({
      feature_service: 1,
      features: 2,
      entities: 3,
      full_feature_names: 4,
      request_context: 5,
      project: 6,
    });
    expect(GetOnlineFeaturesRequestSchema.oneofs.map((o) => o.fields.map((f) => f.name))).toEqual([['feature_service', 'features']]);
  });

  it('numbers the response fields as Feast does', () => {
    expect(numbers(GetOnlineFeaturesResponseSchema)).toEqual({ metadata: 1, results: 2 });
    expect(numbers(GetOnlineFeaturesResponse_FeatureVectorSchema)).toEqual({
      values: 1,
      statuses: 2,
      event_timestamps: 3,
    });
    expect(numbers(GetOnlineFeaturesResponseMetadataSchema)).toEqual({ feature_names: 1 });
  });

  it('round-trips a columnar response', () => {
    const response = create(GetOnlineFeaturesResponseSchema, {
      metadata: { featureNames: { val: ['conv_rate', 'trips'] } },
      results: [
        {
          values: [{ val: { case: 'doubleVal', value: 0.5 } }, {}],
          statuses: [typesV1.FieldStatus.PRESENT, typesV1.FieldStatus.NOT_FOUND],
          eventTimestamps: [{ seconds: 1700000000n, nanos: 0 }, {}],
        },
        {
          values: [{ val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } }, {}],
          statuses: [typesV1.FieldStatus.NULL_VALUE, typesV1.FieldStatus.NOT_FOUND],
          eventTimestamps: [{ seconds: 1700000000n, nanos: 0 }, {}],
        },
      ],
    });
    const back = fromBinary(GetOnlineFeaturesResponseSchema, toBinary(GetOnlineFeaturesResponseSchema, response));
    expect(back).toEqual(response);
    // Statuses are a packed varint list in field 2 of the vector: 12 02 01 03.
    const vector = toBinary(GetOnlineFeaturesResponse_FeatureVectorSchema, response.results[0]!);
    expect(Buffer.from(vector).toString('hex')).toContain('12020103');
  });

  it('exposes the service as a unary rpc', () => {
    expect(OnlineServingService.typeName).toBe('larder.serving.v1.OnlineServingService');
    expect(OnlineServingService.method.getOnlineFeatures.methodKind).toBe('unary');
  });
});
