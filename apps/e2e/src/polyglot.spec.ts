import { answersOk, describePolyglot } from './polyglot-suite';
import type { AnswerCheck } from './polyglot-suite';

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
  // The e2e repo's driver_hourly_stats reads driver_stats.parquet, which the e2e setup does not
  // write: the service resolves the refs and entity rows, then names the missing source file.
  'larder.offline.v1.OfflineRetrievalService/GetHistoricalFeatures': ((record) => expect(record.code).toBe('FAILED_PRECONDITION')) as AnswerCheck,
  // The e2e setup starts no job: an empty page (jobs and next_page_token left out of proto JSON);
  // whatever is listed must be a job with an id and a state, at most page_size (10) of them.
  'larder.materialization.v1.MaterializationService/ListJobs': answersOk((response) => {
    const { jobs = [], next_page_token: token = '' } = response as { jobs?: unknown[]; next_page_token?: string };
    expect(Array.isArray(jobs)).toBe(true);
    expect(jobs.length).toBeLessThanOrEqual(10);
    for (const job of jobs) expect(job).toMatchObject({ id: expect.any(String), state: expect.stringMatching(/^JOB_STATE_/) });
    if (jobs.length < 10) expect(token).toBe('');
  }),
  // No Kafka source is defined for the e2e apps, so ingestion consumes nothing: an empty list (left out
  // of proto JSON); whatever is listed must name its source and topic.
  'larder.ingestion.v1.IngestionService/GetConsumerStatus': answersOk((response) => {
    const consumers = (response as { consumers?: unknown }).consumers ?? [];
    expect(Array.isArray(consumers)).toBe(true);
    for (const consumer of consumers as unknown[]) expect(consumer).toMatchObject({ dataSource: expect.any(String), topic: expect.any(String) });
  }),
};

describePolyglot({ expectedAnswers });
