// Starting the service on BigQuery as a user would: the app as a child process, with
// the emulator's endpoint and without the test environment's METADATA_SERVER_DETECTION.
import { startLarderApp, testServices } from '@larder/testing';

jest.setTimeout(120_000);

const { endpoint, projectId } = testServices().bigquery;
const base = {
  LARDER_OFFLINE_STORE_TYPE: 'bigquery',
  LARDER_BIGQUERY_API_ENDPOINT: endpoint,
  LARDER_BIGQUERY_DATASET: `larder_startup_${Date.now().toString(36)}`,
  // No registry runs here: the service answers UNAVAILABLE until one does.
  LARDER_REGISTRY_ADDRESS: '127.0.0.1:1',
  LARDER_REGISTRY_STARTUP_WAIT: '100ms',
  LARDER_METRICS_ENABLED: 'false',
  // As on a user's machine: nothing tells Google's auth library to skip the metadata server.
  METADATA_SERVER_DETECTION: '',
  GOOGLE_APPLICATION_CREDENTIALS: '',
};

test("an emulator endpoint without a project fails at start naming the missing setting, not with Google's credentials page", async () => {
  const started = startLarderApp({ app: 'offline-retrieval', env: { ...base, LARDER_BIGQUERY_PROJECT: '' } });
  const error = await started.then(
    async (app) => {
      await app.stop();
      throw new Error('the service started without a BigQuery project');
    },
    (reason: unknown) => String(reason),
  );
  expect(error).toContain('offlineStore.bigqueryProject');
  expect(error).toContain('LARDER_BIGQUERY_PROJECT');
  expect(error).toContain(endpoint);
  expect(error).not.toContain('Could not load the default credentials');
  expect(error).not.toContain('MetadataLookupWarning');
});

test('with the project set it starts on the emulator, and no process warns about the metadata server', async () => {
  const app = await startLarderApp({ app: 'offline-retrieval', env: { ...base, LARDER_BIGQUERY_PROJECT: projectId } });
  try {
    expect(app.output.join('\n')).not.toContain('MetadataLookupWarning');
  } finally {
    await app.stop();
    expect(app.output.join('\n')).not.toContain('MetadataLookupWarning');
  }
});
