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
  'larder.serving.v1.OnlineServingService/GetOnlineFeatures': notImplementedYet(),
  'larder.offline.v1.OfflineRetrievalService/GetHistoricalFeatures': notImplementedYet(),
  'larder.materialization.v1.MaterializationService/ListJobs': notImplementedYet(),
  'larder.ingestion.v1.IngestionService/GetConsumerStatus': notImplementedYet(),
};

describePolyglot({ expectedAnswers });
