// Expensive on-demand features in historical retrieval, against the real service on
// DuckDB: the call's deadline, the client's cancel and the request budget stop the
// computation, and health keeps answering meanwhile.
import { create } from '@bufbuild/protobuf';
import { healthV1, registryV1, typesV1 } from '@larder/proto';
import { Code } from '@larder/rpc';
import { cpuMsDuring, probeHealth, rpcRejection as failure } from '@larder/testing';
import type { ProbeResult } from '@larder/testing';
import { featureRepo, makeData, T0 } from './testing/dataset';
import type { Table } from './testing/dataset';
import { duckdbTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { collect, inlineRequests, startHarness } from './testing/harness';
import type { Harness } from './testing/harness';

const T = typesV1.ValueType;
const literal = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;
// Just under the static limit: ~385k units (10-20 ms) per row whatever the inputs.
const HEAVY = `${literal(60)}.all(a, ${literal(60)}.all(b, a != b || has(txn.amount)))`;

/** 3,000 entity rows: a minute or more of CPU for HEAVY without limits. */
const ROWS: Table = {
  name: 'many',
  columns: [
    { name: 'driver_id', type: T.INT64 },
    { name: 'event_timestamp', type: T.UNIX_TIMESTAMP },
    { name: 'amount', type: T.DOUBLE },
  ],
  rows: Array.from({ length: 3_000 }, (_, i) => ({ driver_id: BigInt(i % 50), event_timestamp: new Date(T0 + i * 1000), amount: i / 10 })),
};
const QUERY = { kind: { case: 'features' as const, value: { val: ['driver_stats:trips', 'heavy:out'] } } };

function expectResponsive(probe: ProbeResult, attack: string): void {
  console.log(
    `H15 offline ${attack}: worst health ${probe.worstMs.toFixed(1)} ms wall, loop held ${probe.worstBlockCpuMs.toFixed(1)} ms cpu, ${probe.checks} checks`,
  );
  expect(probe.checks).toBeGreaterThan(1);
  expect(probe.statuses.every((s) => s === healthV1.HealthCheckResponse_ServingStatus.SERVING)).toBe(true);
  // On an idle machine no Check waits longer than the loop is held (see ProbeResult). The
  // service shares this process with jest, the test data and the client encoding 3,000 rows,
  // so a major GC of that heap counts here too (one run saw 102.8 ms against 50-67 usually):
  // 150 ms bounds the service's pacing here; the 100 ms target is asserted on the store in a
  // process of its own by apps/e2e's hostile suite (worst seen there 31.6 ms).
  expect(probe.worstBlockCpuMs).toBeLessThan(150);
}

async function startWith(engine: TestEngine, env: Record<string, string>): Promise<Harness> {
  const data = makeData();
  const kinds = {
    driver: await engine.load(data.tables.driver),
    customer: await engine.load(data.tables.customer),
    pair: await engine.load(data.tables.pair),
    global: await engine.load(data.tables.global),
  };
  return startHarness(
    engine.env,
    (project) => {
      const repo = featureRepo(project, kinds);
      repo.onDemandFeatureViews.push(
        create(registryV1.OnDemandFeatureViewSchema, {
          name: 'heavy',
          sources: [{ source: { case: 'requestSource', value: 'txn' } }],
          outputs: [{ name: 'out', valueType: T.BOOL, expression: HEAVY }],
        }),
      );
      return repo;
    },
    env,
  );
}

describe('CEL limits in offline retrieval', () => {
  let engine: TestEngine;
  let harness: Harness;
  beforeAll(async () => {
    engine = await duckdbTestEngine();
    harness = await startWith(engine, {});
    // Plans compiled and the engine warm, so the probes time the attack.
    await collect(harness.retrieval.getHistoricalFeatures(inlineRequests(QUERY, { ...ROWS, rows: ROWS.rows.slice(0, 2) })));
  }, 120_000);
  afterAll(async () => {
    await harness?.close();
    await engine?.cleanup();
  });

  it('stops at the deadline with DEADLINE_EXCEEDED, health answering meanwhile, and the CPU goes quiet', async () => {
    const probe = probeHealth(harness.retrievalAddress);
    await probe.ready;
    const started = performance.now();
    const e = await failure(collect(harness.retrieval.getHistoricalFeatures(inlineRequests(QUERY, ROWS, 500), { timeoutMs: 1_500 })));
    expect(e.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(performance.now() - started).toBeLessThan(3_000);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await cpuMsDuring(500)).toBeLessThan(150);
    expectResponsive(await probe.stop(), 'deadline');
  });

  it('stops computing when the client cancels', async () => {
    const probe = probeHealth(harness.retrievalAddress);
    await probe.ready;
    const controller = new AbortController();
    const call = failure(collect(harness.retrieval.getHistoricalFeatures(inlineRequests(QUERY, ROWS, 500), { signal: controller.signal, timeoutMs: 120_000 })));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    controller.abort();
    expect((await call).code).toBe(Code.CANCELLED);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await cpuMsDuring(500)).toBeLessThan(150);
    expectResponsive(await probe.stop(), 'cancel');
  });
});

describe('CEL limits in offline retrieval: the request budget', () => {
  let engine: TestEngine;
  let harness: Harness;
  beforeAll(async () => {
    engine = await duckdbTestEngine();
    harness = await startWith(engine, { LARDER_RETRIEVAL_ON_DEMAND_REQUEST_COST: '8000000' });
  }, 120_000);
  afterAll(async () => {
    await harness?.close();
    await engine?.cleanup();
  });

  it('ends a request over its budget with RESOURCE_EXHAUSTED naming the view', async () => {
    const e = await failure(collect(harness.retrieval.getHistoricalFeatures(inlineRequests(QUERY, ROWS, 500), { timeoutMs: 60_000 })));
    expect(e.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(e.message).toMatch(
      /^entity row \d+: on-demand feature view 'heavy' output 'out': computing it took more than the per-request limit of 8000000 cost units; send fewer entity rows per request$/,
    );
  });
});
