import { answersOk, describePolyglot, notImplementedYet } from './polyglot-suite';

// What each rpc that the Python and Go clients call must answer, one row per
// service (both clients call the same rpc). When a feature lands, replace its
// notImplementedYet() with answersOk(...) from './polyglot-suite', checking the
// response's key fields as both clients print them (proto JSON, field names as
// in the .proto, int64 as strings), e.g. for the registry:
//   answersOk((response) => expect(response).toMatchObject({ version: expect.any(String) }))
// A built rpc that should fail on an empty store can check the code instead:
//   (record) => expect(record.code).toBe('NOT_FOUND')
const expectedAnswers = {
  // proto JSON leaves out a zero version (an empty registry); otherwise an int64 string.
  'larder.registry.v1.RegistryService/GetRegistryVersion': answersOk((response) =>
    expect((response as { version?: unknown }).version ?? '0').toMatch(/^\d+$/),
  ),
  // Nothing is materialized: the two driver_id rows are echoed, both features NOT_FOUND.
  'larder.serving.v1.OnlineServingService/GetOnlineFeatures': answersOk((response) =>
    expect(response).toMatchObject({
      metadata: { feature_names: { val: ['driver_id', 'conv_rate', 'acc_rate'] } },
      results: [
        { values: [{ int64_val: '1001' }, { int64_val: '1002' }], statuses: ['FIELD_STATUS_PRESENT', 'FIELD_STATUS_PRESENT'] },
        { statuses: ['FIELD_STATUS_NOT_FOUND', 'FIELD_STATUS_NOT_FOUND'] },
        { statuses: ['FIELD_STATUS_NOT_FOUND', 'FIELD_STATUS_NOT_FOUND'] },
      ],
    }),
  ),
  'larder.offline.v1.OfflineRetrievalService/GetHistoricalFeatures': notImplementedYet(),
  'larder.materialization.v1.MaterializationService/ListJobs': notImplementedYet(),
  'larder.ingestion.v1.IngestionService/GetConsumerStatus': notImplementedYet(),
};

describePolyglot({ expectedAnswers });
