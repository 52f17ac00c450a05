import { answersOk, describePolyglot } from './polyglot-suite';
import type { AnswerCheck } from './polyglot-suite';

// What each rpc that the Python and Go clients call must answer, one row per
// service (both clients call the same rpc): answersOk(...) checking the response
// as both clients print it (proto JSON, field names as in the .proto, int64 as
// strings), or a check of the status code for an rpc that must fail.
const expectedAnswers = {
  // The suite applied the e2e repo before the clients ran: a version of at least 1 (an int64 string), and when.
  'larder.registry.v1.RegistryService/GetRegistryVersion': answersOk((response) =>
    expect(response).toEqual({ version: expect.stringMatching(/^[1-9]\d*$/), updated_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) }),
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
  // The suite started one job of driver_hourly_stats over 2026-01-01..02 (it fails: its source file
  // is never written): exactly that job, and no next page.
  'larder.materialization.v1.MaterializationService/ListJobs': answersOk((response) =>
    expect(response).toEqual({
      jobs: [
        expect.objectContaining({
          id: expect.stringMatching(/\S/),
          project: 'e2e',
          state: expect.stringMatching(/^JOB_STATE_(PENDING|RUNNING|FAILED)$/),
          start_time: '2026-01-01T00:00:00Z',
          end_time: '2026-01-02T00:00:00Z',
          views: [expect.objectContaining({ feature_view: 'driver_hourly_stats' })],
        }),
      ],
    }),
  ),
  // The e2e repo defines no Kafka source, so ingestion runs no consumer: the answer is exactly
  // empty (proto JSON leaves out an empty list), not merely a list of the right shape.
  'larder.ingestion.v1.IngestionService/GetConsumerStatus': answersOk((response) => expect(response).toEqual({})),
};

describePolyglot({ expectedAnswers });
