// The serving service's registry copy against the real registry: applies over grpc's
// default 4 MiB reach it, and when its copy cannot follow, health and /readyz say so
// (with the reason) until it can again.
import { create } from '@bufbuild/protobuf';
import { healthV1, registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { driverRepo, startHarness } from './testing';
import type { Harness } from './testing';

const T = typesV1.ValueType;
const MB = 1_000_000;
const { SERVING, NOT_SERVING } = healthV1.HealthCheckResponse_ServingStatus;

/** The quickstart repo plus a view whose description is `bytes` long. */
function repoWithBulkyView(project: string, bytes: number): Partial<registryV1.ApplyRegistryRequest> {
  const base = driverRepo(project);
  return {
    featureViews: [
      ...base.featureViews,
      create(registryV1.FeatureViewSchema, {
        name: 'bulky',
        entities: ['driver'],
        batchSource: 'src',
        description: 'x'.repeat(bytes),
        schema: [{ name: 'score', valueType: T.DOUBLE }],
      }),
    ],
  };
}

async function waitFor<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const readBulky = (h: Harness) =>
  h.serving.getOnlineFeatures({
    kind: { case: 'features', value: { val: ['bulky:score'] } },
    entities: { driver_id: { val: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 1n } })] } },
  });

describe('registry copy of online serving', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ type: 'sqlite' }, { LARDER_METRICS_ENABLED: 'true', LARDER_METRICS_HOST: '127.0.0.1', LARDER_METRICS_PORT: '0' });
  });
  afterAll(() => h?.close());

  it('sees a project applied at 6 MB and stays SERVING', async () => {
    await h.apply(repoWithBulkyView(h.project, 6 * MB));
    const res = await waitFor(
      () =>
        readBulky(h).then(
          (r) => r,
          (e: unknown) => e,
        ),
      (r) => !(r instanceof Error),
      15_000,
      'serving to know the 6 MB view',
    );
    expect((res as Awaited<ReturnType<typeof readBulky>>).results.at(-1)?.statuses).toEqual([typesV1.FieldStatus.NOT_FOUND]);
    const health = createClient(healthV1.Health, h.servingAddress);
    expect((await health.check({ service: '' })).status).toBe(SERVING);
    health.close();
    expect((await fetch(`${h.metricsUrl}/readyz`)).status).toBe(200);
  });
});

describe('registry copy of online serving, with a 1 MiB message limit', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      { type: 'sqlite' },
      { LARDER_GRPC_MAX_MESSAGE_BYTES: String(1024 * 1024), LARDER_METRICS_ENABLED: 'true', LARDER_METRICS_HOST: '127.0.0.1', LARDER_METRICS_PORT: '0' },
    );
  });
  afterAll(() => h?.close());

  it('reports NOT_SERVING and a 503 /readyz with the reason while its copy cannot follow, and recovers', async () => {
    const health = createClient(healthV1.Health, h.servingAddress);
    const status = async () => (await health.check({ service: '' })).status;
    const readyz = async () => {
      const res = await fetch(`${h.metricsUrl}/readyz`);
      return { status: res.status, body: await res.text() };
    };
    expect(await status()).toBe(SERVING);

    // The registry accepts it (16 MiB); this service's copy cannot take a 2 MB object.
    await h.apply(repoWithBulkyView(h.project, 2 * MB));
    await waitFor(status, (s) => s === NOT_SERVING, 10_000, 'NOT_SERVING');
    expect((await health.check({ service: 'larder.serving.v1.OnlineServingService' })).status).toBe(NOT_SERVING);
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body).toMatch(
      /^not serving: larder\.serving\.v1\.OnlineServingService: the registry copy \(version \d+\) cannot follow the registry at 127\.0\.0\.1:\d+: .*larger than max/i,
    );

    await h.apply(repoWithBulkyView(h.project, 1_000));
    await waitFor(status, (s) => s === SERVING, 10_000, 'SERVING again');
    expect(await readyz()).toEqual({ status: 200, body: 'ok\n' });
    await waitFor(
      () =>
        readBulky(h).then(
          (r) => r.results.at(-1)?.statuses,
          (e: unknown) => String(e),
        ),
      (s) => Array.isArray(s),
      5_000,
      'the view to be served',
    );
    health.close();
  });
});
